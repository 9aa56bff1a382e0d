package workspace

import (
	"context"
	"errors"
	"net"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"cdr.dev/slog"
	"cdr.dev/slog/sloggers/slogjson"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/afero"

	"github.com/envbox/envbox/embed"
)

// wantDockerdArgv is the complete first dockerd command line for defaults().
func wantDockerdArgv(dataRoot string, extra ...string) []string {
	return append([]string{
		"unshare", "--cgroup", "--", "/bin/sh", "-c", embed.DelegateScript, "dockerd",
		"--host=unix:///var/run/docker.sock", "--data-root=" + dataRoot,
		"--bip=172.19.0.1/30", "--fixed-cidr=172.19.0.0/30",
	}, extra...)
}

// wantRestartArgv is the dockerd command line of a restart: the wrapper
// rejoins the first dockerd's cgroup namespace, kept open at nsPath (or the
// namespace of an earlier delegation in the container).
func wantRestartArgv(nsPath, dataRoot string, extra ...string) []string {
	return append([]string{
		"nsenter", "--cgroup=" + nsPath, "--", "/bin/sh", "-c", embed.DelegateScript, "dockerd",
		"--host=unix:///var/run/docker.sock", "--data-root=" + dataRoot,
		"--bip=172.19.0.1/30", "--fixed-cidr=172.19.0.0/30",
	}, extra...)
}

// startFlow runs Run with fakes in the background.
func startFlow(t *testing.T, cfg SessionConfig, edit func(w *fakeWorld, d *SessionDeps)) (*fakeWorld, <-chan error) {
	t.Helper()
	rec := &recorder{}
	w := &fakeWorld{rec: rec, api: newFakeAPI(rec), procs: map[string]*fakeProc{}, started: make(chan string, 8), nsKept: make(chan string, 1),
		signals: make(chan os.Signal, 1), logs: &dockerLogBuffer{}}
	deps := SessionDeps{
		Log: slog.Make(slogjson.Sink(w.logs)), Fs: afero.NewMemMapFs(), Environ: []string{"FOO=bar", "CODER_AGENT_TOKEN=" + testToken, "CODER_X=1"},
		LookPath: func(s string) (string, error) { return "", errors.New(s + ": not found") },
		Signals:  w.signals, Start: w.start,
		API:    func(string) (APIClient, error) { return w.api, nil },
		OpenNS: w.openNS, Delegated: func() (string, error) { return "", nil },
		Cgroup: fakeLimits{quota: 200000, period: 100000, mem: 1 << 30},
		Now:    time.Now, Poll: time.Millisecond,
	}
	if edit != nil {
		edit(w, &deps)
	}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), cfg, deps) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("events: %q\nlogs:\n%s", rec.list(), w.logs.String())
		}
	})
	return w, done
}

type fakeLimits struct{ quota, period, mem int64 }

func (f fakeLimits) CPU() (int64, int64, error) { return f.quota, f.period, nil }
func (f fakeLimits) Memory() (int64, error)     { return f.mem, nil }

// waitFor returns the flow's result, failing after a deadline.
func waitFor(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s")
		return nil
	}
}

// waitScript waits for the bootstrap script to reach the workspace.
func waitScript(t *testing.T, w *fakeWorld) string {
	t.Helper()
	select {
	case s := <-w.api.scripts:
		return s
	case <-time.After(10 * time.Second):
		t.Fatalf("no bootstrap script; events %q", w.rec.list())
		return ""
	}
}

// defaults is the configuration cli builds from the required variables
// alone, spelled out.
func defaults() SessionConfig {
	_, bridge, _ := net.ParseCIDR("172.19.0.0/30")
	return SessionConfig{
		Image:          "codercom/enterprise-base:ubuntu",
		Username:       "coder",
		AgentToken:     testToken,
		AgentSubsystem: []string{"envbox"},
		DockerConfig:   "/root/.docker/config.json",
		BridgeIP:       net.IPv4(172, 19, 0, 1).To4(),
		BridgeNet:      bridge,
		ContainerName:  "workspace_cvm",
		Dockerd:        "dockerd",
		DataRoot:       "/var/lib/docker",
		Socket:         "/var/run/docker.sock",
		DockerTimeout:  60 * time.Second,
		StopGrace:      25 * time.Second,
		Attempts:       100,
	}
}

// testToken is a plausible agent token; it must reach the bootstrap exec
// and nothing else.
const testToken = "tok-SECRET-4f9a"

func flowConfig() SessionConfig {
	c := defaults()
	c.BootstrapScript = "echo bootstrapping with $CODER_AGENT_TOKEN\n"
	c.InnerEnvs = []string{"FOO", "CODER_*"}
	c.AgentURL = "https://coder.example.com"
	return c
}

func TestRunDockerSIGTERM(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), nil)
	if got := waitScript(t, w); got != "echo bootstrapping with $CODER_AGENT_TOKEN\n" {
		t.Errorf("bootstrap script = %q", got)
	}
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatalf("Run after SIGTERM = %v, want nil (exit 0)", err)
	}
	wantEvents := []string{
		"start dockerd", "remove workspace_cvm", "create workspace_cvm", "start id1", "exec in id1 as coder",
		"stop container id1 timeout=25", "stop dockerd", "close client",
	}
	if got := w.rec.list(); !reflect.DeepEqual(got, wantEvents) {
		t.Errorf("events =\n%q\nwant\n%q", got, wantEvents)
	}
	d := w.proc("dockerd")
	if got, want := d.argv, [][]string{wantDockerdArgv("/var/lib/docker")}; !reflect.DeepEqual(got, want) {
		t.Errorf("dockerd argv =\n%q\nwant\n%q", got, want)
	}
	// The daemons never see the workspace's secrets: blanked after the inherited ones.
	if want := []string{"ENVBOX_DELEGATE_ATTEMPTS=100", "CODER_AGENT_TOKEN=", "CODER_IMAGE_PULL_SECRET="}; !reflect.DeepEqual(d.env, want) {
		t.Errorf("dockerd env = %q, want %q", d.env, want)
	}
	wantExec := []client.ExecCreateOptions{{
		User: "coder", Env: []string{"CODER_AGENT_TOKEN=" + testToken},
		Cmd:         []string{"/bin/sh", "-c", `BINARY_DIR="${HOME:-/tmp}/.coder"; mkdir -p "$BINARY_DIR" 2>/dev/null || BINARY_DIR=$(mktemp -d); export BINARY_DIR; exec /bin/sh -s`},
		AttachStdin: true, AttachStdout: true, AttachStderr: true,
	}}
	if !reflect.DeepEqual(w.api.execs, wantExec) {
		t.Errorf("exec =\n%+v\nwant\n%+v", w.api.execs, wantExec)
	}
	wantEnv := []string{"CODER_AGENT_SUBSYSTEM=envbox", "CODER_AGENT_URL=https://coder.example.com", "CODER_X=1", "FOO=bar"}
	if got := w.api.created[0].Env; !reflect.DeepEqual(got, wantEnv) {
		t.Errorf("workspace env = %q, want %q (never the token)", got, wantEnv)
	}
	h := w.api.hosts[0]
	if h.Runtime != "runc" || h.CPUQuota != 200000 || h.CPUPeriod != 100000 || h.Memory != 1073741824 {
		t.Errorf("host config runtime=%q cpu=%d/%d memory=%d, want runc 200000/100000 1073741824 (from the outer cgroup)",
			h.Runtime, h.CPUQuota, h.CPUPeriod, h.Memory)
	}
}

func TestRunDockerNoSpaceRestartsThroughSameWrapper(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), nil)
	waitScript(t, w)
	ns := <-w.nsKept
	d := w.proc("dockerd")
	d.exit(errors.New("exit status 1"), `failed to start daemon: write /var/lib/docker/engine-id: no space left on device`)
	<-d.started
	waitScript(t, w)
	want := [][]string{
		wantDockerdArgv("/var/lib/docker"),
		wantRestartArgv(ns, "/var/lib/docker.bak", "--storage-driver=vfs"),
	}
	if !reflect.DeepEqual(d.argv, want) {
		t.Errorf("dockerd argv per start =\n%q\nwant\n%q", d.argv, want)
	}
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	wantEvents := []string{
		"start dockerd", "remove workspace_cvm", "create workspace_cvm", "start id1", "exec in id1 as coder",
		"restart dockerd as dockerd", "remove workspace_cvm", "create workspace_cvm", "start id2", "exec in id2 as coder",
		"stop container id2 timeout=25", "stop dockerd", "close client",
	}
	if got := w.rec.list(); !reflect.DeepEqual(got, wantEvents) {
		t.Errorf("events =\n%q\nwant\n%q", got, wantEvents)
	}
}

func TestRunDockerWorkspaceDeathExitsNonZero(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), func(w *fakeWorld, _ *SessionDeps) { w.api.oomKilled = true })
	waitScript(t, w)
	w.api.exits <- container.WaitResponse{StatusCode: 137}
	err := waitFor(t, done)
	if !errors.Is(err, ErrStopped) || err.Error() != "the workspace stopped: workspace container workspace_cvm (id1) stopped: exit status 137, OOM-killed" {
		t.Fatalf("Run = %v, want ErrStopped: workspace container workspace_cvm (id1) stopped: exit status 137, OOM-killed", err)
	}
	if got, want := w.rec.list(), []string{"start dockerd", "remove workspace_cvm", "create workspace_cvm", "start id1",
		"exec in id1 as coder", "stop dockerd", "close client"}; !reflect.DeepEqual(got, want) {
		t.Errorf("events =\n%q\nwant\n%q", got, want)
	}
}

func TestRunDockerDockerdDiesExitsNonZero(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), nil)
	waitScript(t, w)
	w.proc("dockerd").exit(errors.New("dockerd (pid 7) killed by killed"), "panic: boom")
	err := waitFor(t, done)
	if !errors.Is(err, ErrStopped) || err.Error() != "the workspace stopped: dockerd exited: dockerd (pid 7) killed by killed" {
		t.Fatalf("Run = %v, want exit 1 naming dockerd's end", err)
	}
}

func TestRunDockerAPITimeoutQuotesDockerd(t *testing.T) {
	t.Parallel()
	cfg := flowConfig()
	cfg.DockerTimeout = 50 * time.Millisecond
	w, done := startFlow(t, cfg, func(w *fakeWorld, _ *SessionDeps) {
		w.api.pingErr = errors.New("dial unix /var/run/docker.sock: connect: no such file or directory")
	})
	<-w.started
	w.proc("dockerd").emit("level=info msg=\"Starting up\"")
	w.proc("dockerd").emit("level=warning msg=\"failed to mount overlay: invalid argument\"")
	err := waitFor(t, done)
	want := "wait for dockerd API at /var/run/docker.sock (timeout 50ms): docker API: context deadline exceeded " +
		"(last ping: dial unix /var/run/docker.sock: connect: no such file or directory); dockerd's last output:\n" +
		"level=info msg=\"Starting up\"\nlevel=warning msg=\"failed to mount overlay: invalid argument\""
	if err == nil || err.Error() != want {
		t.Fatalf("Run = %v\nwant %s", err, want)
	}
}

func TestRunDockerSysbox(t *testing.T) {
	t.Parallel()
	cfg := flowConfig()
	cfg.DisableIDMapped = true
	w, done := startFlow(t, cfg, func(_ *fakeWorld, d *SessionDeps) {
		d.LookPath = func(s string) (string, error) { return "/usr/bin/" + s, nil }
		for _, s := range []string{"/run/sysbox/sysmgr.sock", "/run/sysbox/sysfs.sock"} {
			_ = afero.WriteFile(d.Fs, s, nil, 0o600)
		}
	})
	waitScript(t, w)
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatal(err)
	}
	if got, want := w.proc("sysbox-mgr").argv, [][]string{{"/usr/bin/sysbox-mgr", "--disable-idmapped-mount"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("sysbox-mgr argv = %q, want %q", got, want)
	}
	if got, want := w.proc("sysbox-fs").argv, [][]string{{"/usr/bin/sysbox-fs"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("sysbox-fs argv = %q, want %q", got, want)
	}
	if got := w.api.hosts[len(w.api.hosts)-1].Runtime; got != "sysbox-runc" {
		t.Errorf("runtime = %q, want sysbox-runc", got)
	}
	wantTail := []string{"stop container id2 timeout=25", "stop dockerd", "stop sysbox-fs", "stop sysbox-mgr", "close client"}
	if got := w.rec.list(); !reflect.DeepEqual(got[len(got)-5:], wantTail) {
		t.Errorf("shutdown events = %q, want ... %q", got, wantTail)
	}
}

// TestRunDockerLogsNoToken: the token reaches the bootstrap exec and no
// log line of the session's own (lines that children print are redacted
// by cli's sink: cli/docker_log_test.go).
func TestRunDockerLogsNoToken(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), nil)
	waitScript(t, w)
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatal(err)
	}
	if logs := w.logs.String(); strings.Contains(logs, testToken) {
		t.Errorf("logs contain the token:\n%s", logs)
	}
}

// TestRunDockerDelegatedBefore: envbox started again in a container it
// delegated before (it sits in /init of the container's namespace) runs
// the delegation in that namespace, rooted at the pod, not a new one.
func TestRunDockerDelegatedBefore(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), func(_ *fakeWorld, d *SessionDeps) {
		d.Delegated = func() (string, error) { return "/proc/7/ns/cgroup", nil }
	})
	waitScript(t, w)
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatal(err)
	}
	if got, want := w.proc("dockerd").argv, [][]string{wantRestartArgv("/proc/7/ns/cgroup", "/var/lib/docker")}; !reflect.DeepEqual(got, want) {
		t.Errorf("dockerd argv =\n%q\nwant\n%q", got, want)
	}
	if logs := w.logs.String(); !strings.Contains(logs, `"cgroup_namespace":"/proc/7/ns/cgroup"`) {
		t.Errorf("logs lack the namespace rejoined:\n%s", logs)
	}
}

// TestRunDockerLogsBootstrapExit: the bootstrap script outlives the
// start-up (Coder's agent runs for the workspace's life), and its exit
// status is still reported when it ends.
func TestRunDockerLogsBootstrapExit(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), func(w *fakeWorld, _ *SessionDeps) {
		w.api.bootOutput = "agent starting\n"
		w.api.bootEnd, w.api.bootExit = make(chan struct{}), 3
	})
	waitScript(t, w)
	select {
	case <-w.api.waiting:
	case <-time.After(10 * time.Second):
		t.Fatalf("supervision never waited on the workspace; events %q", w.rec.list())
	}
	close(w.api.bootEnd)
	waitLog(t, w, `"msg":"bootstrap script failed"`)
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatal(err)
	}
	logs := w.logs.String()
	for _, want := range []string{`"msg":"agent starting"`, `"exit_code":3`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// waitLog waits until the logs contain part.
func waitLog(t *testing.T, w *fakeWorld, part string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(w.logs.String(), part) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the logs:\n%s", part, w.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRunDockerNoSpaceDuringPull: a pull that fills the data root moves
// dockerd to the fallback before the workspace ever started.
func TestRunDockerNoSpaceDuringPull(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), func(w *fakeWorld, _ *SessionDeps) {
		w.api.haveImage = false
		w.api.pullErrs = []error{errors.New("write /var/lib/docker/tmp/layer: no space left on device")}
	})
	waitScript(t, w)
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatal(err)
	}
	ns := <-w.nsKept
	want := [][]string{
		wantDockerdArgv("/var/lib/docker"),
		wantRestartArgv(ns, "/var/lib/docker.bak", "--storage-driver=vfs"),
	}
	if got := w.proc("dockerd").argv; !reflect.DeepEqual(got, want) {
		t.Errorf("dockerd argv per start =\n%q\nwant\n%q", got, want)
	}
	wantEvents := []string{
		"start dockerd", "pull codercom/enterprise-base:ubuntu auth=false", "restart dockerd as dockerd",
		"pull codercom/enterprise-base:ubuntu auth=false", "remove workspace_cvm", "create workspace_cvm", "start id1",
		"exec in id1 as coder", "stop container id1 timeout=25", "stop dockerd", "close client",
	}
	if got := w.rec.list(); !reflect.DeepEqual(got, wantEvents) {
		t.Errorf("events =\n%q\nwant\n%q", got, wantEvents)
	}
}

// TestRunDockerSIGTERMDuringStartup: a signal while dockerd is still coming
// up abandons start-up and shuts down cleanly, without waiting for the API.
func TestRunDockerSIGTERMDuringStartup(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), func(w *fakeWorld, _ *SessionDeps) {
		w.api.pingErr = errors.New("dial unix /var/run/docker.sock: connect: no such file or directory")
	})
	<-w.started
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatalf("Run = %v, want nil (exit 0)", err)
	}
	if got, want := w.rec.list(), []string{"start dockerd", "stop dockerd", "close client"}; !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

// TestRunDockerNoSpaceBeforeAPI: dockerd reports a full data root, then
// dies of something else (a real trace: containerd's plugins fail with
// ENOSPC, dockerd then cannot dial containerd): still the fallback.
func TestRunDockerNoSpaceBeforeAPI(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), func(w *fakeWorld, _ *SessionDeps) {
		w.api.pingErr = errors.New("dial unix /var/run/docker.sock: connect: no such file or directory")
	})
	<-w.started
	ns := <-w.nsKept
	d := w.proc("dockerd")
	d.exit(errors.New("dockerd (pid 9) exit status 1; last output:\nfailed to start daemon: failed to dial containerd"),
		`level=warning msg="failed to load plugin io.containerd.metadata.v1.bolt" error="write /var/lib/docker/containerd/daemon/io.containerd.metadata.v1.bolt/meta.db: no space left on device"`,
		`failed to start daemon: failed to dial "/var/run/docker/containerd/containerd.sock": unknown service containerd.services.namespaces.v1.Namespaces: not implemented`)
	<-d.started
	w.api.mu.Lock()
	w.api.pingErr = nil
	w.api.mu.Unlock()
	waitScript(t, w)
	want := [][]string{
		wantDockerdArgv("/var/lib/docker"),
		wantRestartArgv(ns, "/var/lib/docker.bak", "--storage-driver=vfs"),
	}
	if !reflect.DeepEqual(d.argv, want) {
		t.Errorf("dockerd argv per start =\n%q\nwant\n%q", d.argv, want)
	}
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatal(err)
	}
}

// TestRunDockerWorkspaceDiesDuringBootstrap: the bootstrap fails because
// the workspace died; envbox reports the death, exit 1.
func TestRunDockerWorkspaceDiesDuringBootstrap(t *testing.T) {
	t.Parallel()
	_, done := startFlow(t, flowConfig(), func(w *fakeWorld, _ *SessionDeps) {
		w.api.attachErr = errors.New("unable to upgrade to tcp, received 500")
		w.api.dead = true
	})
	err := waitFor(t, done)
	want := "the workspace stopped: workspace container workspace_cvm (id1) stopped during the bootstrap: exit status 137"
	if !errors.Is(err, ErrStopped) || err.Error() != want {
		t.Fatalf("Run = %v, want ErrStopped: %s", err, want)
	}
}

// TestRunDockerUnidentifiedReevaluatesNamespace: the same launch policy as
// envbox dind. The first dockerd never became dockerd, so no namespace was
// kept; its restart asks again and delegates in the pod's namespace,
// where envbox now sits in /init, instead of one /init deeper.
func TestRunDockerUnidentifiedReevaluatesNamespace(t *testing.T) {
	t.Parallel()
	answers := []string{"", "/proc/1/ns/cgroup"}
	w, done := startFlow(t, flowConfig(), func(w *fakeWorld, d *SessionDeps) {
		w.unidentified = true
		w.api.identifiedOnce.Do(func() { close(w.api.identified) }) // the API answers all the same
		d.Delegated = func() (string, error) {
			a := answers[0]
			answers = answers[1:]
			return a, nil
		}
	})
	waitScript(t, w)
	d := w.proc("dockerd")
	d.exit(errors.New("exit status 1"), `failed to start daemon: write /var/lib/docker/engine-id: no space left on device`)
	<-d.started
	waitScript(t, w)
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		wantDockerdArgv("/var/lib/docker"),
		wantRestartArgv("/proc/1/ns/cgroup", "/var/lib/docker.bak", "--storage-driver=vfs"),
	}
	if !reflect.DeepEqual(d.argv, want) {
		t.Errorf("dockerd argv per start =\n%q\nwant\n%q", d.argv, want)
	}
}

// TestRunDockerSIGTERMWhileSysboxStarts: SIGTERM while envbox waits for
// sysbox's sockets stops sysbox and exits 0 at once, instead of waiting
// up to 30 s for sockets that may never come.
func TestRunDockerSIGTERMWhileSysboxStarts(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), func(_ *fakeWorld, d *SessionDeps) {
		d.LookPath = func(s string) (string, error) { return "/usr/bin/" + s, nil }
	})
	for _, want := range []string{"sysbox-mgr", "sysbox-fs"} {
		if got := <-w.started; got != want {
			t.Fatalf("started %s, want %s", got, want)
		}
	}
	w.signals <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil (exit 0)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not end the wait for sysbox within 5s")
	}
	want := []string{"start sysbox-mgr", "start sysbox-fs", "stop sysbox-fs", "stop sysbox-mgr"}
	if got := w.rec.list(); !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

// TestRunDockerSIGTERMAfterLostContact: the wait on the workspace failed
// and envbox gives dockerd a moment to exit; a SIGTERM then is a clean
// stop (exit 0), neither held for that moment nor lost behind it.
func TestRunDockerSIGTERMAfterLostContact(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), nil)
	waitScript(t, w)
	<-w.api.waiting
	w.api.waitErrs <- errors.New("error during connect: unexpected EOF")
	waitLog(t, w, "lost contact with the workspace container")
	w.signals <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil (exit 0)", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("SIGTERM did not end the wait for dockerd's exit within 2s")
	}
	want := []string{"start dockerd", "remove workspace_cvm", "create workspace_cvm", "start id1", "exec in id1 as coder",
		"stop container id1 timeout=25", "stop dockerd", "close client"}
	if got := w.rec.list(); !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

// TestRunDockerPodMTU: the workspace's dockerd gets the pod's MTU, as
// envbox dind's does (dind.ChooseMTU), on every start.
func TestRunDockerPodMTU(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), func(_ *fakeWorld, d *SessionDeps) {
		_ = afero.WriteFile(d.Fs, "/proc/net/route", []byte("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"+
			"eth0\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\n"), 0o444)
		d.InterfaceMTU = func(name string) (int, error) { return 1450, nil }
	})
	waitScript(t, w)
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatal(err)
	}
	if got, want := w.proc("dockerd").argv, [][]string{wantDockerdArgv("/var/lib/docker", "--mtu=1450")}; !reflect.DeepEqual(got, want) {
		t.Errorf("dockerd argv =\n%q\nwant\n%q", got, want)
	}
}
