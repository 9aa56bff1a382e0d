package dind

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cdr.dev/slog"
	"github.com/spf13/afero"
)

// recSink keeps every log entry as "LEVEL message k=v ...".
type recSink struct {
	mu    sync.Mutex
	lines []string
}

func (r *recSink) LogEntry(_ context.Context, e slog.SinkEntry) {
	line := e.Level.String() + " " + e.Message
	for _, f := range e.Fields {
		line += fmt.Sprintf(" %s=%v", f.Name, f.Value)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
}

func (r *recSink) Sync() {}

func (r *recSink) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// dockerdRoot is where the fake dockerd (pid 4242) sees /.
const dockerdRoot = "/proc/4242/root"

// shareWorld is an ExecShare over a memory file system, its scans paced by
// the test: every scan ends with a value on scanned, and tick starts the
// next one.
type shareWorld struct {
	fs      afero.Fs
	log     *recSink
	e       *ExecShare
	p       *fakeProc
	scanned chan time.Duration
	tick    chan time.Time
	done    chan struct{}
	cancel  context.CancelFunc
}

func newShareWorld(t *testing.T, files map[string]string) *shareWorld {
	t.Helper()
	w := &shareWorld{fs: afero.NewMemMapFs(), log: &recSink{}, p: newFakeProc("dockerd", nil),
		scanned: make(chan time.Duration, 8), tick: make(chan time.Time), done: make(chan struct{})}
	for name, data := range files {
		w.write(t, name, data)
	}
	w.e = &ExecShare{Log: slog.Make(w.log), Fs: w.fs, Headroom: 32, Argv: []string{"dockerd"},
		After: func(d time.Duration) <-chan time.Time { w.scanned <- d; return w.tick }}
	return w
}

// write puts data in name, below dockerd's root.
func (w *shareWorld) write(t *testing.T, name, data string) {
	t.Helper()
	if err := afero.WriteFile(w.fs, dockerdRoot+name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// start runs Watch and waits for its first scan.
func (w *shareWorld) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	t.Cleanup(cancel)
	go func() { w.e.Watch(ctx, w.p); close(w.done) }()
	if d := within(t, w.scanned, 5*time.Second, "first scan"); d != ExecShareInterval {
		t.Errorf("scan interval %s, want %s", d, ExecShareInterval)
	}
}

// next runs one more scan.
func (w *shareWorld) next(t *testing.T) {
	t.Helper()
	w.tick <- time.Time{}
	within(t, w.scanned, 5*time.Second, "scan")
}

func (w *shareWorld) ended(t *testing.T) {
	t.Helper()
	within(t, w.done, 5*time.Second, "end of Watch")
}

// checkFiles checks files as dockerd sees them (below its root).
func checkFiles(t *testing.T, w *shareWorld, want map[string]string) {
	t.Helper()
	wantFiles(t, afero.NewBasePathFs(w.fs, dockerdRoot), want)
}

func checkLog(t *testing.T, w *shareWorld, want []string) {
	t.Helper()
	if got := w.log.got(); !reflect.DeepEqual(got, want) {
		t.Errorf("log:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

const capOn = "INFO per-container PID cap: new containers get the parent's pids.max minus the exec headroom " +
	"cgroup=/docker parent_pids_max=128 exec_headroom=32 pids_max=96"

// TestExecShareCapsNewContainers: under a parent with pids.max 128, every
// container whose pids.max is max gets 96, once; a container's own limit
// stays, and so does a limit set after the cap (docker update); a
// container created later is capped at the next scan. The run's end ends
// the watch.
func TestExecShareCapsNewContainers(t *testing.T) {
	w := newShareWorld(t, map[string]string{
		"/sys/fs/cgroup/docker/pids.max":     "128\n",
		"/sys/fs/cgroup/docker/a/pids.max":   "max\n",
		"/sys/fs/cgroup/docker/b/pids.max":   "50\n",
		"/sys/fs/cgroup/docker/cgroup.procs": "",
	})
	w.start(t)
	checkFiles(t, w, map[string]string{"/sys/fs/cgroup/docker/a/pids.max": "96", "/sys/fs/cgroup/docker/b/pids.max": "50\n",
		"/sys/fs/cgroup/docker/pids.max": "128\n"})
	w.write(t, "/sys/fs/cgroup/docker/a/pids.max", "max\n") // docker update --pids-limit -1
	w.write(t, "/sys/fs/cgroup/docker/c/pids.max", "max\n")
	w.next(t)
	checkFiles(t, w, map[string]string{"/sys/fs/cgroup/docker/a/pids.max": "max\n", "/sys/fs/cgroup/docker/c/pids.max": "96"})
	w.p.exit(0, 0)
	w.ended(t)
	checkLog(t, w, []string{capOn,
		"INFO per-container PID cap: capped a new container cgroup=/docker/a pids_max=96 seen_by=scan",
		"INFO per-container PID cap: capped a new container cgroup=/docker/c pids_max=96 seen_by=scan",
	})
}

// TestExecShareRemovedContainerForgotten: a name that leaves and comes back
// is a new container (cgroup names are container IDs; a restarted one
// gets a new cgroup).
func TestExecShareRemovedContainerForgotten(t *testing.T) {
	w := newShareWorld(t, map[string]string{
		"/sys/fs/cgroup/docker/pids.max":   "128\n",
		"/sys/fs/cgroup/docker/a/pids.max": "max\n",
	})
	w.start(t)
	if err := w.fs.RemoveAll(dockerdRoot + "/sys/fs/cgroup/docker/a"); err != nil {
		t.Fatal(err)
	}
	w.next(t)
	w.write(t, "/sys/fs/cgroup/docker/a/pids.max", "max\n")
	w.next(t)
	checkFiles(t, w, map[string]string{"/sys/fs/cgroup/docker/a/pids.max": "96"})
	checkLog(t, w, []string{capOn,
		"INFO per-container PID cap: capped a new container cgroup=/docker/a pids_max=96 seen_by=scan",
		"INFO per-container PID cap: capped a new container cgroup=/docker/a pids_max=96 seen_by=scan",
	})
}

// TestExecShareParentStates: nothing is written while the parent is
// missing, unlimited, or too small for the headroom; each state is logged
// once, when it starts; a numeric limit turns the cap on.
func TestExecShareParentStates(t *testing.T) {
	w := newShareWorld(t, nil)
	w.start(t)
	w.next(t)
	w.write(t, "/sys/fs/cgroup/docker/pids.max", "max\n") // runc made it, no reserve
	w.write(t, "/sys/fs/cgroup/docker/a/pids.max", "max\n")
	w.next(t)
	w.next(t)
	w.write(t, "/sys/fs/cgroup/docker/pids.max", "32\n")
	w.next(t)
	checkFiles(t, w, map[string]string{"/sys/fs/cgroup/docker/a/pids.max": "max\n"})
	w.write(t, "/sys/fs/cgroup/docker/pids.max", "lots\n")
	w.next(t)
	w.write(t, "/sys/fs/cgroup/docker/pids.max", "40\n")
	w.next(t)
	checkFiles(t, w, map[string]string{"/sys/fs/cgroup/docker/a/pids.max": "8"})
	w.cancel()
	w.ended(t)
	checkLog(t, w, []string{
		"INFO no per-container PID cap: the parent cgroup has no pids.max (missing, or the pids controller is off) cgroup=/docker",
		"INFO no per-container PID cap: the parent's pids.max is max (no reserve applied) cgroup=/docker",
		"INFO no per-container PID cap: the parent's pids.max 32 leaves nothing after the exec headroom 32 cgroup=/docker",
		`INFO no per-container PID cap: parse /sys/fs/cgroup/docker/pids.max "lots\n": want "max" or a whole number cgroup=/docker`,
		"INFO per-container PID cap: new containers get the parent's pids.max minus the exec headroom " +
			"cgroup=/docker parent_pids_max=40 exec_headroom=32 pids_max=8",
		"INFO per-container PID cap: capped a new container cgroup=/docker/a pids_max=8 seen_by=scan",
	})
}

// TestExecShareParentFromDaemon: the parent is dockerd's --cgroup-parent,
// or its daemon.json's, read through dockerd's root; Parent (envbox run's
// --cgroup-parent) wins over both.
func TestExecShareParentFromDaemon(t *testing.T) {
	for _, tc := range []struct {
		name, parent, daemonJSON, want string
		argv                           []string
	}{
		{name: "flag", argv: []string{"dockerd", "--cgroup-parent=/ci"}, want: "/ci"},
		{name: "daemon.json", argv: []string{"dockerd"}, daemonJSON: `{"cgroup-parent": "/jobs/x"}`, want: "/jobs/x"},
		{name: "Parent", parent: "/kubepods", argv: []string{"dockerd", "--cgroup-parent=/ci"}, want: "/kubepods"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newShareWorld(t, map[string]string{
				"/sys/fs/cgroup" + tc.want + "/pids.max":    "100\n",
				"/sys/fs/cgroup" + tc.want + "/c1/pids.max": "max\n",
				"/sys/fs/cgroup/docker/pids.max":            "100\n",
				"/sys/fs/cgroup/docker/c2/pids.max":         "max\n",
			})
			if tc.daemonJSON != "" {
				w.write(t, DaemonJSON, tc.daemonJSON)
			}
			w.e.Argv, w.e.Parent = tc.argv, tc.parent
			w.start(t)
			w.cancel()
			w.ended(t)
			checkFiles(t, w, map[string]string{"/sys/fs/cgroup" + tc.want + "/c1/pids.max": "68",
				"/sys/fs/cgroup/docker/c2/pids.max": "max\n"})
		})
	}
}

// TestExecShareNoParent: a parent envbox cannot know (the systemd driver)
// is one line and no watch.
func TestExecShareNoParent(t *testing.T) {
	w := newShareWorld(t, map[string]string{"/sys/fs/cgroup/docker/pids.max": "100\n",
		"/sys/fs/cgroup/docker/c/pids.max": "max\n"})
	w.e.Argv = []string{"dockerd", "--exec-opt", "native.cgroupdriver=systemd"}
	go func() { w.e.Watch(context.Background(), w.p); close(w.done) }()
	w.ended(t)
	checkFiles(t, w, map[string]string{"/sys/fs/cgroup/docker/c/pids.max": "max\n"})
	checkLog(t, w, []string{`INFO no per-container PID cap error=no headroom reserve: cgroup driver "systemd": ` +
		"only cgroupfs parents are known before dockerd starts"})
}

// TestExecShareWriteError: a write that fails names the file and the value,
// once; the container is not retried and the watch goes on.
func TestExecShareWriteError(t *testing.T) {
	w := newShareWorld(t, map[string]string{"/sys/fs/cgroup/docker/pids.max": "128\n",
		"/sys/fs/cgroup/docker/a/pids.max": "max\n"})
	w.e.Fs = afero.NewReadOnlyFs(w.fs)
	w.start(t)
	w.next(t)
	w.cancel()
	w.ended(t)
	checkFiles(t, w, map[string]string{"/sys/fs/cgroup/docker/a/pids.max": "max\n"})
	checkLog(t, w, []string{capOn,
		`WARN per-container PID cap: write "96" to /sys/fs/cgroup/docker/a/pids.max: operation not permitted cgroup=/docker/a`,
	})
}

// fakeNotify is ExecShare.Notify under the test's control.
type fakeNotify struct {
	mu    sync.Mutex
	dirs  []string
	stops int
	wake  chan struct{}
	err   error
}

func (f *fakeNotify) notify(dir string) (<-chan struct{}, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dirs = append(f.dirs, dir)
	if f.err != nil {
		return nil, nil, f.err
	}
	return f.wake, func() { f.mu.Lock(); f.stops++; f.mu.Unlock() }, nil
}

func (f *fakeNotify) state() ([]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.dirs...), f.stops
}

func checkNotify(t *testing.T, f *fakeNotify, arms, stops int) {
	t.Helper()
	dirs, n := f.state()
	var want []string
	for range arms {
		want = append(want, dockerdRoot+"/sys/fs/cgroup/docker")
	}
	if !reflect.DeepEqual(dirs, want) || n != stops {
		t.Errorf("notify armed on %q, stopped %d times; want %q, %d", dirs, n, want, stops)
	}
}

// TestExecShareNotify: the watch on the parent is armed while the cap is
// on, through dockerd's root; a wake scans at once (no tick); the parent
// losing its limit disarms it, getting one back arms it again; the end
// stops it.
func TestExecShareNotify(t *testing.T) {
	w := newShareWorld(t, nil)
	f := &fakeNotify{wake: make(chan struct{})}
	w.e.Notify = f.notify
	w.start(t)
	checkNotify(t, f, 0, 0) // no parent yet
	w.write(t, "/sys/fs/cgroup/docker/pids.max", "128\n")
	w.next(t)
	checkNotify(t, f, 1, 0)
	w.write(t, "/sys/fs/cgroup/docker/c/pids.max", "max\n")
	f.wake <- struct{}{}
	within(t, w.scanned, 5*time.Second, "scan after the wake")
	checkFiles(t, w, map[string]string{"/sys/fs/cgroup/docker/c/pids.max": "96"})
	w.write(t, "/sys/fs/cgroup/docker/pids.max", "max\n")
	f.wake <- struct{}{}
	within(t, w.scanned, 5*time.Second, "scan after the wake")
	checkNotify(t, f, 1, 1)
	w.write(t, "/sys/fs/cgroup/docker/pids.max", "128\n")
	w.next(t)
	checkNotify(t, f, 2, 1)
	w.cancel()
	w.ended(t)
	checkNotify(t, f, 2, 2)
	checkLog(t, w, []string{
		"INFO no per-container PID cap: the parent cgroup has no pids.max (missing, or the pids controller is off) cgroup=/docker",
		capOn,
		"INFO per-container PID cap: capped a new container cgroup=/docker/c pids_max=96 seen_by=inotify",
		"INFO no per-container PID cap: the parent's pids.max is max (no reserve applied) cgroup=/docker",
		capOn,
	})
}

// TestExecShareNotifyFails: a watch that cannot be armed is one warning,
// asked once; the scans go on.
func TestExecShareNotifyFails(t *testing.T) {
	w := newShareWorld(t, map[string]string{"/sys/fs/cgroup/docker/pids.max": "128\n"})
	f := &fakeNotify{err: fmt.Errorf("inotify_init1: too many open files")}
	w.e.Notify = f.notify
	w.start(t)
	w.write(t, "/sys/fs/cgroup/docker/c/pids.max", "max\n")
	w.next(t)
	w.cancel()
	w.ended(t)
	checkNotify(t, f, 1, 0)
	checkFiles(t, w, map[string]string{"/sys/fs/cgroup/docker/c/pids.max": "96"})
	checkLog(t, w, []string{capOn,
		"WARN per-container PID cap: no notification of new containers, scanning every 200ms only error=inotify_init1: too many open files",
		"INFO per-container PID cap: capped a new container cgroup=/docker/c pids_max=96 seen_by=scan",
	})
}

// TestExecShareOffOrNotDockerd: headroom 0 does nothing at all; a run
// that never becomes dockerd, or one replaced before it did, is not
// watched (its pid is not dockerd's root).
func TestExecShareOffOrNotDockerd(t *testing.T) {
	files := map[string]string{"/sys/fs/cgroup/docker/pids.max": "128\n", "/sys/fs/cgroup/docker/a/pids.max": "max\n"}
	for _, tc := range []struct {
		name string
		edit func(w *shareWorld)
	}{
		{"headroom 0", func(w *shareWorld) { w.e.Headroom = 0; w.p.identify = fmt.Errorf("must not be asked") }},
		{"never identified", func(w *shareWorld) { w.p.identify = fmt.Errorf("exited before becoming dockerd") }},
		{"restarted meanwhile", func(w *shareWorld) {
			w.p.identifyGate = make(chan struct{})
			go func() {
				<-w.p.identifying
				_ = w.p.Restart(0, "dockerd", "dockerd")
				close(w.p.identifyGate)
			}()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newShareWorld(t, files)
			tc.edit(w)
			go func() { w.e.Watch(context.Background(), w.p); close(w.done) }()
			w.ended(t)
			checkFiles(t, w, map[string]string{"/sys/fs/cgroup/docker/a/pids.max": "max\n"})
			checkLog(t, w, nil)
		})
	}
}

// TestSupervisorWatchesEveryStart: Watch runs for the first start and for
// every restart, with the run it must follow.
func TestSupervisorWatchesEveryStart(t *testing.T) {
	x := newSupervised(t)
	x.starter.setup = func(p *fakeProc) { p.diesOnSignal = true }
	pids := make(chan int, 4)
	x.s.Watch = func(_ context.Context, p Proc) { pids <- p.Pid() }
	x.run()
	p := within(t, x.starter.started, 5*time.Second, "start")
	if got := within(t, pids, 5*time.Second, "first watch"); got != 4242 {
		t.Errorf("first watch of pid %d, want 4242", got)
	}
	p.exit(1, 0)
	within(t, x.backoff, 5*time.Second, "back-off")
	x.fire <- time.Time{}
	if got := within(t, pids, 5*time.Second, "watch after the restart"); got != 4243 {
		t.Errorf("watch after the restart of pid %d, want 4243", got)
	}
	x.sigs <- syscall.SIGTERM
	if err := x.result(t); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// TestParseExecPids: the accepted range and every kind of bad value.
func TestParseExecPids(t *testing.T) {
	for v, want := range map[string]int64{"0": 0, "32": 32, "4194304": 4194304} {
		if got, err := ParseExecPids(v); err != nil || got != want {
			t.Errorf("ParseExecPids(%q) = %d, %v; want %d", v, got, err, want)
		}
	}
	var bad []string
	for _, v := range []string{"", "-1", "4194305", "32 ", "+3", "032", "1e3", "3%", "auto", "max"} {
		if _, err := ParseExecPids(v); err == nil {
			bad = append(bad, v)
		} else if err.Error() != "want a whole number from 0 (off) to 4194304" {
			t.Errorf("ParseExecPids(%q): %v", v, err)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("accepted %q", bad)
	}
}

// TestRunCapsContainers: envbox dind with ExecPids watches the dockerd it
// started, through that dockerd's root and with the WatchDir seam: a
// container under /docker gets 128 - 32; SIGTERM still stops everything.
func TestRunCapsContainers(t *testing.T) {
	fsys := writeFiles(t, map[string]string{
		"/sys/fs/cgroup/cgroup.controllers":              "cpuset cpu io memory hugetlb pids rdma misc\n",
		"/proc/self/status":                              statusPrivileged,
		"/proc/self/uid_map":                             uidMapInitial,
		"/proc/self/cgroup":                              "0::/\n",
		"/proc/self/mountinfo":                           mountinfoV2RW,
		"/proc/1/stat":                                   statOther,
		dockerdRoot + "/sys/fs/cgroup/docker/pids.max":   "128\n",
		dockerdRoot + "/sys/fs/cgroup/docker/c/pids.max": "max\n",
	})
	starter := newFakeStarter()
	starter.setup = func(p *fakeProc) { p.diesOnSignal = true }
	sigs := make(chan os.Signal, 1)
	watched := make(chan string, 4)
	deps := Deps{Log: testLogger(t), Fs: fsys, Signals: sigs, Start: starter.start,
		LookPath:      func(bin string) (string, error) { return "/usr/bin/" + bin, nil },
		IPTablesWorks: func(string) bool { return true },
		InterfaceMTU:  func(string) (int, error) { return 1500, nil },
		StartReaper:   func(context.Context, slog.Logger) (func(), error) { return func() {}, nil },
		Delegated:     func() (string, error) { return "", nil },
		OpenNS:        func(int) (*os.File, error) { return os.Open(os.DevNull) },
		WatchDir: func(dir string) (<-chan struct{}, func(), error) {
			watched <- dir
			return nil, func() {}, nil
		},
	}
	cfg := Config{Plan: Plan{Dockerd: []string{"dockerd", "--host=unix:///var/run/docker.sock"}, Socket: DefaultSocket},
		StopGrace: time.Second, ReadyTimeout: time.Second, ExecPids: 32}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), cfg, deps) }()
	if got := within(t, watched, 5*time.Second, "WatchDir"); got != dockerdRoot+"/sys/fs/cgroup/docker" {
		t.Errorf("WatchDir(%q), want %q", got, dockerdRoot+"/sys/fs/cgroup/docker")
	}
	b, _ := afero.ReadFile(fsys, dockerdRoot+"/sys/fs/cgroup/docker/c/pids.max")
	if string(b) != "96" {
		t.Errorf("the container's pids.max = %q, want %q", b, "96")
	}
	sigs <- syscall.SIGTERM
	if err := within(t, done, 5*time.Second, "return from Run"); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// TestExecShareRecreatedBetweenScans: `docker restart` (or a restart
// policy) removes a container's cgroup and makes it again under the same
// name (the container ID). When no scan falls between the rmdir and the
// mkdir (inotify wakes a scan only at IN_CREATE, so the mkdir's own wake
// sees the name present), the new cgroup is still a new one at "max" and
// must be capped.
func TestExecShareRecreatedBetweenScans(t *testing.T) {
	w := newShareWorld(t, map[string]string{
		"/sys/fs/cgroup/docker/pids.max":   "128\n",
		"/sys/fs/cgroup/docker/a/pids.max": "max\n",
	})
	w.start(t)
	checkFiles(t, w, map[string]string{"/sys/fs/cgroup/docker/a/pids.max": "96"})
	if err := w.fs.RemoveAll(dockerdRoot + "/sys/fs/cgroup/docker/a"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // a new directory: a new identity (inode; mtime in memory)
	w.write(t, "/sys/fs/cgroup/docker/a/pids.max", "max\n")
	w.next(t)
	checkFiles(t, w, map[string]string{"/sys/fs/cgroup/docker/a/pids.max": "96"})
}

// TestExecShareSkipsSymlinks: on a real file system, an entry of the
// parent that is a symlink to another directory whose pids.max is max is
// no container cgroup: nothing is written through it; the real child
// beside it is capped.
func TestExecShareSkipsSymlinks(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"docker/pids.max": "128\n", "docker/c/pids.max": "max\n", "elsewhere/pids.max": "max\n"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, "docker", "link")); err != nil {
		t.Fatal(err)
	}
	fsys := afero.NewOsFs()
	s := shareScan{fsys: fsys, dir: filepath.Join(dir, "docker"), parent: "/docker", headroom: 32, seen: map[string]dirID{}}
	s.scan(context.Background(), slog.Make(&recSink{}), "scan")
	wantFiles(t, fsys, map[string]string{
		filepath.Join(dir, "elsewhere/pids.max"): "max\n",
		filepath.Join(dir, "docker/c/pids.max"):  "96",
	})
}
