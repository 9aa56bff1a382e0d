package dind

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cdr.dev/slog"
	"github.com/spf13/afero"
)

// daemonRun is RunDaemon over fakes: a privileged cgroup v2 container's
// /proc and /sys/fs/cgroup, a recording starter and reaper.
type daemonRun struct {
	starter *fakeStarter
	sigs    chan os.Signal
	deps    Deps
	reaped  int
	looked  []string
	done    chan error
}

func newDaemonRun(t *testing.T, files map[string]string) *daemonRun {
	t.Helper()
	if files == nil {
		files = map[string]string{
			"/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
			"/proc/self/status":                 statusPrivileged,
			"/proc/self/uid_map":                uidMapInitial,
			"/proc/self/cgroup":                 "0::/\n",
			"/proc/self/mountinfo":              mountinfoV2RW,
			"/proc/1/stat":                      statOther,
		}
	}
	x := &daemonRun{starter: newFakeStarter(), sigs: make(chan os.Signal, 4), done: make(chan error, 1)}
	x.deps = Deps{Log: testLogger(t), Fs: writeFiles(t, files), Signals: x.sigs, Start: x.starter.start,
		LookPath: func(bin string) (string, error) {
			x.looked = append(x.looked, bin)
			if bin == "missing" {
				return "", exec.ErrNotFound
			}
			return "/usr/bin/" + bin, nil
		},
		StartReaper: func(context.Context, slog.Logger) (func(), error) { x.reaped++; return func() {}, nil },
		Delegated:   func() (string, error) { return "", nil },
		OpenNS:      func(int) (*os.File, error) { return os.Open(os.DevNull) },
	}
	return x
}

func (x *daemonRun) run(cfg DaemonConfig) {
	go func() { x.done <- RunDaemon(context.Background(), cfg, x.deps) }()
}

func containerdCfg() DaemonConfig {
	return DaemonConfig{Argv: []string{"/usr/bin/containerd", "--config", "/etc/containerd/config.toml"},
		StopGrace: time.Second}
}

// TestRunDaemonArgvAndStatus: CMD starts through the delegation wrapper,
// identified by the basename of CMD; with no restart (the default) envbox
// ends with the daemon's status.
func TestRunDaemonArgvAndStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		sig      syscall.Signal
		wantCode int
		wantErr  string
	}{
		{name: "exit_0", status: 0, wantCode: 0, wantErr: "<nil>"},
		{name: "exit_3", status: 3, wantCode: 3, wantErr: "no restart left: containerd (pid 4242) exit status 3"},
		{name: "killed", status: -1, sig: syscall.SIGKILL, wantCode: 137, wantErr: "no restart left: containerd (pid 4242) killed by killed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := newDaemonRun(t, nil)
			x.run(containerdCfg())
			p := within(t, x.starter.started, time.Second, "containerd start")
			want := "unshare --cgroup -- /bin/sh -c <delegate.sh> /usr/bin/containerd --config /etc/containerd/config.toml"
			if got := argvOf(p.starts()[0]); got != want {
				t.Errorf("argv = %q, want %q", got, want)
			}
			if p.name != "containerd" {
				t.Errorf("identified as %q, want containerd", p.name)
			}
			p.exit(tc.status, tc.sig)
			err := within(t, x.done, 5*time.Second, "RunDaemon's end")
			code := exitCode(err)
			if err == nil {
				code = 0
			}
			if errString(err) != tc.wantErr || code != tc.wantCode {
				t.Errorf("RunDaemon = %q (code %d), want %q (code %d)", errString(err), code, tc.wantErr, tc.wantCode)
			}
			if x.reaped != 1 || x.starter.count() != 1 {
				t.Errorf("reaper started %d, daemon started %d; want 1 and 1", x.reaped, x.starter.count())
			}
		})
	}
}

// TestRunDaemonNameRestartsAndSignal: --name identifies the daemon; with
// ENVBOX_RESTARTS=2 a killed daemon comes back through the wrapper, in
// the namespace kept from its first run; SIGTERM is forwarded and ends
// envbox with status 0.
func TestRunDaemonNameRestartsAndSignal(t *testing.T) {
	t.Parallel()
	x := newDaemonRun(t, nil)
	// The launcher keeps the namespace beside the supervisor, once the run
	// is identified: kill the run only after it opened it, or the kill can
	// win and rightly leave nothing kept.
	opened := make(chan struct{})
	var once sync.Once
	x.deps.OpenNS = func(int) (*os.File, error) {
		defer once.Do(func() { close(opened) })
		return os.Open(os.DevNull)
	}
	cfg := DaemonConfig{Argv: []string{"/bin/k3s-wrapper", "server"}, Name: "k3s", Restarts: 2, StopGrace: time.Second}
	x.run(cfg)
	p := within(t, x.starter.started, time.Second, "k3s start")
	if p.name != "k3s" {
		t.Errorf("identified as %q, want k3s (--name)", p.name)
	}
	within(t, opened, time.Second, "the launcher opening the run's namespace")
	time.Sleep(20 * time.Millisecond) // from the open to the keep: a mutex and a field
	p.exit(-1, syscall.SIGKILL)
	// The restart's back-off is 250 ms; the launcher kept fd of the
	// first run's namespace, so the restart joins it with nsenter.
	deadline := time.Now().Add(3 * time.Second)
	for len(p.starts()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	starts := p.starts()
	if len(starts) != 2 {
		t.Fatalf("starts %d, want 2 (one restart)", len(starts))
	}
	kept := fmt.Sprintf("nsenter --cgroup=/proc/%d/fd/", os.Getpid())
	if got := argvOf(starts[1]); !strings.HasPrefix(got, kept) ||
		!strings.HasSuffix(got, " -- /bin/sh -c <delegate.sh> /bin/k3s-wrapper server") {
		t.Errorf("restart argv = %q, want nsenter --cgroup=/proc/<envbox>/fd/<kept> -- /bin/sh -c <delegate.sh> /bin/k3s-wrapper server", got)
	}
	p.diesOnSignal = true
	x.sigs <- syscall.SIGTERM
	if err := within(t, x.done, 5*time.Second, "RunDaemon's end"); err != nil {
		t.Errorf("RunDaemon after SIGTERM = %v, want nil", err)
	}
	if got := p.signals(); !reflect.DeepEqual(got, []string{"terminated"}) {
		t.Errorf("daemon got %q, want [terminated]", got)
	}
}

// TestRunDaemonNothingStarts: a CMD not found or a failed preflight start
// nothing (no reaper, no process).
func TestRunDaemonNothingStarts(t *testing.T) {
	t.Parallel()
	noCap := map[string]string{
		"/sys/fs/cgroup/cgroup.controllers": "cpu memory\n",
		"/proc/self/status":                 statusDefaultCaps,
		"/proc/self/uid_map":                uidMapInitial,
		"/proc/self/cgroup":                 "0::/\n",
		"/proc/self/mountinfo":              mountinfoV2RW,
	}
	tests := []struct {
		name     string
		files    map[string]string
		cfg      DaemonConfig
		wantErr  string
		wantCode int
	}{
		{name: "not_found", cfg: DaemonConfig{Argv: []string{"missing"}}, wantCode: 127,
			wantErr: "look up missing: executable file not found in $PATH"},
		{name: "preflight", files: noCap, cfg: containerdCfg(), wantCode: -1,
			wantErr: "preflight: CAP_SYS_ADMIN is missing, so the cgroup namespace and the cgroup2 mount will be refused: run the container privileged (Kubernetes: securityContext.privileged: true; docker run --privileged)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := newDaemonRun(t, tc.files)
			err := RunDaemon(context.Background(), tc.cfg, x.deps)
			if errString(err) != tc.wantErr || exitCode(err) != tc.wantCode {
				t.Errorf("RunDaemon = %q (code %d), want %q (code %d)", errString(err), exitCode(err), tc.wantErr, tc.wantCode)
			}
			if x.reaped != 0 || x.starter.count() != 0 {
				t.Errorf("reaper started %d, processes %d; want none", x.reaped, x.starter.count())
			}
		})
	}
}

// TestRunDaemonHeadroom: with a cgroup parent, CMD starts through the
// wrapper with the hook, the reserve, the parent named for the hook (CMD's
// argv is not dockerd's) and the pod's oom_score_adj back, envbox's own
// at -999 as PID 1; without one, no hook and no reserve, the
// oom_score_adj as with one.
func TestRunDaemonHeadroom(t *testing.T) {
	t.Parallel()
	reserve := Reserve{Memory: Amount{N: 256 << 20}, Pids: Amount{Percent: 10}}
	tests := []struct {
		name     string
		parent   string
		headroom Headroom
		wantEnv  []string
		wantOOM  string
	}{
		{name: "parent_pid1", parent: "/kubepods", headroom: Headroom{Reserve: reserve, Hook: "/usr/local/bin/envbox", Protect: true},
			wantEnv: []string{"ENVBOX_DELEGATE_ATTEMPTS=100", "ENVBOX_DELEGATE_HOOK=/usr/local/bin/envbox",
				"ENVBOX_RESERVE_MEMORY=268435456", "ENVBOX_RESERVE_PIDS=10%", "ENVBOX_RESERVE_PARENT=/kubepods", "ENVBOX_OOM_SCORE_ADJ=-500"},
			wantOOM: "-999"},
		{name: "parent_not_pid1", parent: "/default", headroom: Headroom{Reserve: DefaultReserve, Hook: "/envbox"},
			wantEnv: []string{"ENVBOX_DELEGATE_ATTEMPTS=100", "ENVBOX_DELEGATE_HOOK=/envbox",
				"ENVBOX_RESERVE_MEMORY=auto", "ENVBOX_RESERVE_PIDS=auto", "ENVBOX_RESERVE_PARENT=/default"},
			wantOOM: "-500\n"},
		{name: "no_parent_pid1", headroom: Headroom{Reserve: reserve, Hook: "/usr/local/bin/envbox", Protect: true},
			wantEnv: []string{"ENVBOX_DELEGATE_ATTEMPTS=100", "ENVBOX_OOM_SCORE_ADJ=-500"}, wantOOM: "-999"},
		{name: "no_parent_not_pid1", headroom: Headroom{Reserve: DefaultReserve, Hook: "/envbox"},
			wantEnv: []string{"ENVBOX_DELEGATE_ATTEMPTS=100"}, wantOOM: "-500\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := newDaemonRun(t, nil)
			if err := afero.WriteFile(x.deps.Fs, "/proc/self/oom_score_adj", []byte("-500\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := containerdCfg()
			cfg.CgroupParent, cfg.Headroom = tc.parent, tc.headroom
			x.run(cfg)
			p := within(t, x.starter.started, time.Second, "containerd start")
			want := "unshare --cgroup -- /bin/sh -c <delegate.sh> /usr/bin/containerd --config /etc/containerd/config.toml"
			if got := argvOf(p.starts()[0]); got != want {
				t.Errorf("argv = %q, want %q", got, want)
			}
			x.starter.mu.Lock()
			env := x.starter.cmds[0].Env
			x.starter.mu.Unlock()
			if !reflect.DeepEqual(env, tc.wantEnv) {
				t.Errorf("env = %q, want %q", env, tc.wantEnv)
			}
			if b, _ := afero.ReadFile(x.deps.Fs, "/proc/self/oom_score_adj"); string(b) != tc.wantOOM {
				t.Errorf("envbox's oom_score_adj = %q, want %q", b, tc.wantOOM)
			}
			p.exit(0, 0)
			if err := within(t, x.done, 5*time.Second, "RunDaemon's end"); err != nil {
				t.Errorf("RunDaemon = %v, want nil", err)
			}
		})
	}
}

// TestRunDaemonCmdLookPath: with the real exec.LookPath, CMD as the shell
// would answer: a file that is not executable or a directory is 126, a
// missing path or a flag-like name is 127; nothing starts.
func TestRunDaemonCmdLookPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plain := dir + "/plain"
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		argv0    string
		wantCode int
	}{
		{plain, 126}, {dir, 126}, {dir + "/missing", 127}, {"-x", 127}, {"envbox-no-such-binary", 127},
	}
	for _, tc := range tests {
		x := newDaemonRun(t, nil)
		x.deps.LookPath = exec.LookPath
		err := RunDaemon(context.Background(), DaemonConfig{Argv: []string{tc.argv0}}, x.deps)
		if exitCode(err) != tc.wantCode || !strings.Contains(errString(err), tc.argv0) {
			t.Errorf("RunDaemon(%q) = %q (code %d), want code %d naming it", tc.argv0, errString(err), exitCode(err), tc.wantCode)
		}
		if x.reaped != 0 || x.starter.count() != 0 {
			t.Errorf("RunDaemon(%q): reaper started %d, processes %d; want none", tc.argv0, x.reaped, x.starter.count())
		}
	}
}
