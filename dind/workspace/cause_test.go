package workspace

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/afero"
)

// memoryEvents and pidsEvents are the guest kernel's (6.1) files of a
// container OOM-killed under <pod>/docker and of one whose fork failed.
const (
	memoryEventsOOM = "low 0\nhigh 0\nmax 31\noom 1\noom_kill 1\noom_group_kill 0\n"
	memoryEventsNil = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"
	pidsEventsMax   = "max 3\n"
)

func TestReadCause(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		memory, pids  string // "" = file absent
		want          Cause
		wantStr       string
		wantErrPrefix string
	}{
		{name: "oom_kill", memory: memoryEventsOOM, pids: "max 0\n", want: Cause{OOMKills: 1}, wantStr: "OOM kill (memory.events oom_kill 1)"},
		{name: "pids_max", memory: memoryEventsNil, pids: pidsEventsMax, want: Cause{PidsMax: 3}, wantStr: "PID limit reached (pids.events max 3)"},
		{name: "both", memory: memoryEventsOOM, pids: pidsEventsMax, want: Cause{OOMKills: 1, PidsMax: 3},
			wantStr: "OOM kill (memory.events oom_kill 1), PID limit reached (pids.events max 3)"},
		{name: "nothing", memory: memoryEventsNil, pids: "max 0\n", want: Cause{}, wantStr: ""},
		{name: "no_pids_controller", memory: memoryEventsOOM, want: Cause{OOMKills: 1}, wantStr: "OOM kill (memory.events oom_kill 1)"},
		{name: "cgroup_gone", wantErrPrefix: "read the workspace's cgroup: open /cg/memory.events: file does not exist; open /cg/pids.events"},
		{name: "garbage", memory: "oom_kill lots\n", pids: "max 0\n", wantErrPrefix: `parse /cg/memory.events: line "oom_kill lots": want oom_kill and a whole number`},
		{name: "no_key", memory: "low 0\n", pids: "max 0\n", wantErrPrefix: `parse /cg/memory.events: no oom_kill line in "low 0\n"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := afero.NewMemMapFs()
			if tt.memory != "" {
				_ = afero.WriteFile(fsys, "/cg/memory.events", []byte(tt.memory), 0o644)
			}
			if tt.pids != "" {
				_ = afero.WriteFile(fsys, "/cg/pids.events", []byte(tt.pids), 0o644)
			}
			got, err := ReadCause(fsys, "/cg")
			if tt.wantErrPrefix != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErrPrefix) {
					t.Errorf("ReadCause(%q, %q) error = %v, want prefix %q", tt.memory, tt.pids, err, tt.wantErrPrefix)
				}
				return
			}
			if err != nil || got != tt.want || got.String() != tt.wantStr {
				t.Errorf("ReadCause(%q, %q) = %+v (%q), %v; want %+v (%q)", tt.memory, tt.pids, got, got.String(), err, tt.want, tt.wantStr)
			}
		})
	}
}

// TestCauseWatchOutlivesTheCgroup: runc removes the cgroup when the
// container is gone; the watch keeps what it read while it was there.
func TestCauseWatchOutlivesTheCgroup(t *testing.T) {
	t.Parallel()
	fsys := afero.NewMemMapFs()
	_ = afero.WriteFile(fsys, "/cg/memory.events", []byte(memoryEventsNil), 0o644)
	_ = afero.WriteFile(fsys, "/cg/pids.events", []byte(pidsEventsMax), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := watchCause(ctx, fsys, "/cg", time.Millisecond, nil, nil)
	_ = afero.WriteFile(fsys, "/cg/memory.events", []byte(memoryEventsOOM), 0o644)
	deadline := time.Now().Add(5 * time.Second)
	for w.final().OOMKills == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := fsys.RemoveAll("/cg"); err != nil {
		t.Fatal(err)
	}
	if got, want := w.final(), (Cause{OOMKills: 1, PidsMax: 3}); got != want {
		t.Errorf("final() after the cgroup went = %+v, want %+v", got, want)
	}
}

func TestRunDockerWorkspaceOOMNamedFromItsCgroup(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), func(w *fakeWorld, d *SessionDeps) {
		_ = afero.WriteFile(d.Fs, "/sys/fs/cgroup/docker/id1/memory.events", []byte(memoryEventsOOM), 0o644)
		_ = afero.WriteFile(d.Fs, "/sys/fs/cgroup/docker/id1/pids.events", []byte("max 0\n"), 0o644)
	})
	waitScript(t, w)
	// Docker's own flag is not set: the cgroup names the cause alone.
	w.api.exits <- container.WaitResponse{StatusCode: 137}
	err := waitFor(t, done)
	want := "the workspace stopped: workspace container workspace_cvm (id1) stopped: exit status 137; its cgroup counted: OOM kill (memory.events oom_kill 1)"
	if !errors.Is(err, ErrStopped) || err.Error() != want {
		t.Fatalf("Run = %v, want %q", err, want)
	}
	if got, want := w.rec.list(), []string{"start dockerd", "remove workspace_cvm", "create workspace_cvm", "start id1",
		"exec in id1 as coder", "stop dockerd", "close client"}; !reflect.DeepEqual(got, want) {
		t.Errorf("events =\n%q\nwant\n%q", got, want)
	}
}

// TestCauseWatchReadsOnChange: the kernel's notice that memory.events
// changed makes the watch read at once. dockerd reports the exit only
// after runc removed the cgroup, so with a 250 ms timer alone a kill
// counted less than a tick before the removal went unnamed.
func TestCauseWatchReadsOnChange(t *testing.T) {
	t.Parallel()
	fsys := afero.NewMemMapFs()
	_ = afero.WriteFile(fsys, "/cg/memory.events", []byte(memoryEventsNil), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changed := make(chan struct{})
	var mu sync.Mutex
	var told []string
	w := watchCause(ctx, fsys, "/cg", time.Hour, changed, func(c Cause, by string) {
		mu.Lock()
		told = append(told, c.String()+" at "+by)
		mu.Unlock()
	})
	_ = afero.WriteFile(fsys, "/cg/memory.events", []byte(memoryEventsOOM), 0o644)
	select {
	case changed <- struct{}{}:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch took no change notice within 5 s")
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.seen().OOMKills == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := fsys.RemoveAll("/cg"); err != nil {
		t.Fatal(err)
	}
	if got, want := w.final(), (Cause{OOMKills: 1}); got != want {
		t.Errorf("final() after a change notice and the cgroup's removal = %+v, want %+v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"OOM kill (memory.events oom_kill 1) at change notice"}; !reflect.DeepEqual(told, want) {
		t.Errorf("told %q, want %q", told, want)
	}
}

// TestCauseWatchTells: each new OOM kill is told; a PID limit only when
// first hit (a fork bomb raises it thousands of times a second).
func TestCauseWatchTells(t *testing.T) {
	t.Parallel()
	fsys := afero.NewMemMapFs()
	var told []Cause
	w := &causeWatch{fsys: fsys, dir: "/cg", tell: func(c Cause, _ string) { told = append(told, c) }}
	for _, step := range []struct{ oom, pids int }{{0, 0}, {1, 0}, {1, 0}, {1, 5}, {1, 900}, {2, 901}, {2, 901}} {
		_ = afero.WriteFile(fsys, "/cg/memory.events", []byte(fmt.Sprintf("oom 0\noom_kill %d\n", step.oom)), 0o644)
		_ = afero.WriteFile(fsys, "/cg/pids.events", []byte(fmt.Sprintf("max %d\n", step.pids)), 0o644)
		w.read(readTimer)
	}
	if want := []Cause{{OOMKills: 1}, {OOMKills: 1, PidsMax: 5}, {OOMKills: 2, PidsMax: 901}}; !reflect.DeepEqual(told, want) {
		t.Errorf("told %+v, want %+v", told, want)
	}
}

// TestRunDockerWorkspaceCauseReadOnChange: the session watches the
// workspace's own event files, reads them at the kernel's notice, and
// names the OOM kill though the cgroup was gone before dockerd reported
// the exit (as runc removes it first).
func TestRunDockerWorkspaceCauseReadOnChange(t *testing.T) {
	t.Parallel()
	changed := make(chan struct{})
	watched := make(chan []string, 1)
	var fsys afero.Fs
	w, done := startFlow(t, flowConfig(), func(_ *fakeWorld, d *SessionDeps) {
		fsys = d.Fs
		_ = afero.WriteFile(d.Fs, "/sys/fs/cgroup/docker/id1/memory.events", []byte(memoryEventsNil), 0o644)
		_ = afero.WriteFile(d.Fs, "/sys/fs/cgroup/docker/id1/pids.events", []byte("max 0\n"), 0o644)
		d.WatchModified = func(_ context.Context, paths ...string) (<-chan struct{}, error) {
			watched <- paths
			return changed, nil
		}
	})
	waitScript(t, w)
	select {
	case got := <-watched:
		if want := []string{"/sys/fs/cgroup/docker/id1/memory.events", "/sys/fs/cgroup/docker/id1/pids.events",
			"/sys/fs/cgroup/docker/id1/cgroup.events"}; !reflect.DeepEqual(got, want) {
			t.Errorf("watched %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the session watched no files")
	}
	_ = afero.WriteFile(fsys, "/sys/fs/cgroup/docker/id1/memory.events", []byte(memoryEventsOOM), 0o644)
	// The second notice is taken only once the first one's read is done.
	for range 2 {
		select {
		case changed <- struct{}{}:
		case <-time.After(10 * time.Second):
			t.Fatal("the session took no change notice within 10 s")
		}
	}
	if err := fsys.RemoveAll("/sys/fs/cgroup/docker/id1"); err != nil {
		t.Fatal(err)
	}
	w.api.exits <- container.WaitResponse{StatusCode: 137}
	err := waitFor(t, done)
	want := "the workspace stopped: workspace container workspace_cvm (id1) stopped: exit status 137; its cgroup counted: OOM kill (memory.events oom_kill 1)"
	if !errors.Is(err, ErrStopped) || err.Error() != want {
		t.Fatalf("Run = %v, want %q", err, want)
	}
	// Said when the kernel counted it, before dockerd reported the exit
	// (read_at is the notice, unless the 250 ms timer came first).
	if line := `"msg":"the workspace's cgroup counted a kill or a refused fork","caller"`; !strings.Contains(w.logs.String(), line) ||
		!strings.Contains(w.logs.String(), `"fields":{"cause":"OOM kill (memory.events oom_kill 1)","cgroup":"/sys/fs/cgroup/docker/id1","read_at":"`) {
		t.Errorf("no line %s with the cause and the cgroup in\n%s", line, w.logs.String())
	}
}

// cgroupEvents are the guest kernel's cgroup.events of a running
// container and of one whose processes are all gone.
const (
	cgroupEventsRunning = "populated 1\nfrozen 0\n"
	cgroupEventsEmpty   = "populated 0\nfrozen 0\n"
)

// TestCauseWatchEnds: the watch says the workspace ended when the
// kernel's cgroup.events says populated 0, or when the cgroup, once read,
// is removed; a cgroup never found there (another cgroup driver) is not
// an end.
func TestCauseWatchEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		before  string // cgroup.events at the start; "" = no cgroup
		after   string // then; "" = the cgroup removed
		wantWhy string // "" = not ended
	}{
		{name: "populated_0", before: cgroupEventsRunning, after: cgroupEventsEmpty, wantWhy: "cgroup.events populated 0, read at change notice"},
		{name: "removed", before: cgroupEventsRunning, after: "", wantWhy: "its cgroup was removed, read at change notice"},
		{name: "running", before: cgroupEventsRunning, after: cgroupEventsRunning},
		{name: "never_there", before: "", after: ""},
		{name: "garbage", before: cgroupEventsRunning, after: "populated none\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := afero.NewMemMapFs()
			if tt.before != "" {
				_ = afero.WriteFile(fsys, "/cg/memory.events", []byte(memoryEventsNil), 0o644)
				_ = afero.WriteFile(fsys, "/cg/cgroup.events", []byte(tt.before), 0o644)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			changed := make(chan struct{})
			w := watchCause(ctx, fsys, "/cg", time.Hour, changed, nil)
			if tt.after == "" {
				_ = fsys.RemoveAll("/cg")
			} else {
				_ = afero.WriteFile(fsys, "/cg/cgroup.events", []byte(tt.after), 0o644)
			}
			changed <- struct{}{}
			changed <- struct{}{} // taken once the first notice's read is done
			select {
			case <-w.gone():
				if tt.wantWhy == "" {
					t.Fatalf("gone after %q -> %q (%s), want not", tt.before, tt.after, w.goneWhy())
				}
			case <-time.After(50 * time.Millisecond):
				if tt.wantWhy != "" {
					t.Fatalf("not gone after %q -> %q, want %q", tt.before, tt.after, tt.wantWhy)
				}
			}
			if got := w.goneWhy(); got != tt.wantWhy {
				t.Errorf("goneWhy() = %q, want %q", got, tt.wantWhy)
			}
		})
	}
}

// kernelFirstFlow starts a session whose workspace cgroup is populated and
// watched through a fake change notice; the returned func empties it (the
// OOM kill counted) and gives the notice.
func kernelFirstFlow(t *testing.T, wait time.Duration) (*fakeWorld, <-chan error, func()) {
	t.Helper()
	changed := make(chan struct{})
	var fsys afero.Fs
	w, done := startFlow(t, flowConfig(), func(_ *fakeWorld, d *SessionDeps) {
		fsys = d.Fs
		_ = afero.WriteFile(d.Fs, "/sys/fs/cgroup/docker/id1/memory.events", []byte(memoryEventsNil), 0o644)
		_ = afero.WriteFile(d.Fs, "/sys/fs/cgroup/docker/id1/pids.events", []byte("max 0\n"), 0o644)
		_ = afero.WriteFile(d.Fs, "/sys/fs/cgroup/docker/id1/cgroup.events", []byte(cgroupEventsRunning), 0o644)
		d.WatchModified = func(context.Context, ...string) (<-chan struct{}, error) { return changed, nil }
		d.ExitReportWait = wait
	})
	waitScript(t, w)
	<-w.api.waiting
	return w, done, func() {
		_ = afero.WriteFile(fsys, "/sys/fs/cgroup/docker/id1/memory.events", []byte(memoryEventsOOM), 0o644)
		_ = afero.WriteFile(fsys, "/sys/fs/cgroup/docker/id1/cgroup.events", []byte(cgroupEventsEmpty), 0o644)
		select {
		case changed <- struct{}{}:
		case <-time.After(10 * time.Second):
			t.Fatal("the session took no change notice within 10 s")
		}
	}
}

// TestRunDockerWorkspaceGoneBeforeDockerdReports: the kernel says the
// workspace's processes are gone and dockerd says nothing within the
// wait: envbox stops dockerd and exits 1 naming what the cgroup counted.
func TestRunDockerWorkspaceGoneBeforeDockerdReports(t *testing.T) {
	t.Parallel()
	w, done, empty := kernelFirstFlow(t, 20*time.Millisecond)
	start := time.Now()
	empty()
	err := waitFor(t, done)
	took := time.Since(start)
	want := "the workspace stopped: workspace container workspace_cvm (id1) stopped: its processes are gone " +
		"(cgroup.events populated 0, read at change notice), no exit status from dockerd within 20ms; " +
		"its cgroup counted: OOM kill (memory.events oom_kill 1)"
	if !errors.Is(err, ErrStopped) || err.Error() != want {
		t.Fatalf("Run = %v, want %q", err, want)
	}
	if took > 5*time.Second {
		t.Errorf("Run ended %s after the notice, want about 20ms", took)
	}
	if got, want := w.rec.list(), []string{"start dockerd", "remove workspace_cvm", "create workspace_cvm", "start id1",
		"exec in id1 as coder", "stop dockerd", "close client"}; !reflect.DeepEqual(got, want) {
		t.Errorf("events =\n%q\nwant\n%q", got, want)
	}
	for _, line := range []string{
		`"msg":"the workspace's processes are gone; waiting briefly for dockerd to report the exit","caller"`,
		`"fields":{"cgroup":"/sys/fs/cgroup/docker/id1","how":"cgroup.events populated 0, read at change notice","wait":"20ms"}}`,
		`"msg":"the workspace's processes are gone; stopping dockerd so the pod restarts","caller"`,
		`"fields":{"cause":"OOM kill (memory.events oom_kill 1)","oom_kills":1,"pids_max_events":0,"cgroup":"/sys/fs/cgroup/docker/id1","exit_status":"not reported by dockerd within 20ms"}}`,
	} {
		if !strings.Contains(w.logs.String(), line) {
			t.Errorf("no %s in the logs", line)
		}
	}
}

// TestRunDockerWorkspaceGoneThenDockerdReports: dockerd's report within
// the wait puts the exit status in the line, as when it comes first.
func TestRunDockerWorkspaceGoneThenDockerdReports(t *testing.T) {
	t.Parallel()
	w, done, empty := kernelFirstFlow(t, time.Hour)
	w.api.oomKilled = true
	empty()
	waitLog(t, w, "the workspace's processes are gone; waiting briefly")
	w.api.exits <- container.WaitResponse{StatusCode: 137}
	err := waitFor(t, done)
	want := "the workspace stopped: workspace container workspace_cvm (id1) stopped: exit status 137, OOM-killed; its cgroup counted: OOM kill (memory.events oom_kill 1)"
	if !errors.Is(err, ErrStopped) || err.Error() != want {
		t.Fatalf("Run = %v, want %q", err, want)
	}
	if line := `"fields":{"exit_code":137,"oom_killed":true,"cause":"OOM kill (memory.events oom_kill 1)","oom_kills":1,"pids_max_events":0,"noticed_by":"kernel"}}`; !strings.Contains(w.logs.String(), line) {
		t.Errorf("no %s in the logs", line)
	}
	if got, want := w.rec.list(), []string{"start dockerd", "remove workspace_cvm", "create workspace_cvm", "start id1",
		"exec in id1 as coder", "stop dockerd", "close client"}; !reflect.DeepEqual(got, want) {
		t.Errorf("events =\n%q\nwant\n%q", got, want)
	}
}

// TestRunDockerSIGTERMWhileAwaitingTheExitReport: a SIGTERM during the
// wait for dockerd's report is the clean stop it is before the notice:
// neither held for the wait nor lost, dockerd stopped once.
func TestRunDockerSIGTERMWhileAwaitingTheExitReport(t *testing.T) {
	t.Parallel()
	w, done, empty := kernelFirstFlow(t, time.Hour)
	empty()
	waitLog(t, w, "the workspace's processes are gone; waiting briefly")
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatalf("Run = %v, want nil (exit 0)", err)
	}
	want := []string{"start dockerd", "remove workspace_cvm", "create workspace_cvm", "start id1", "exec in id1 as coder",
		"stop container id1 timeout=25", "stop dockerd", "close client"}
	if got := w.rec.list(); !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

// TestRunDockerWorkspaceCgroupRemovedOnTimer: with no change notice at
// all, the timer finds the cgroup removed (runc delete) and that ends the
// workspace too.
func TestRunDockerWorkspaceCgroupRemovedOnTimer(t *testing.T) {
	t.Parallel()
	var fsys afero.Fs
	w, done := startFlow(t, flowConfig(), func(_ *fakeWorld, d *SessionDeps) {
		fsys = d.Fs
		_ = afero.WriteFile(d.Fs, "/sys/fs/cgroup/docker/id1/pids.events", []byte(pidsEventsMax), 0o644)
		_ = afero.WriteFile(d.Fs, "/sys/fs/cgroup/docker/id1/cgroup.events", []byte(cgroupEventsRunning), 0o644)
		d.ExitReportWait = 20 * time.Millisecond
	})
	waitScript(t, w)
	waitLog(t, w, `"read_at":"start"`)
	if err := fsys.RemoveAll("/sys/fs/cgroup/docker/id1"); err != nil {
		t.Fatal(err)
	}
	err := waitFor(t, done)
	want := "the workspace stopped: workspace container workspace_cvm (id1) stopped: its processes are gone " +
		"(its cgroup was removed, read at timer), no exit status from dockerd within 20ms; " +
		"its cgroup counted: PID limit reached (pids.events max 3)"
	if !errors.Is(err, ErrStopped) || err.Error() != want {
		t.Fatalf("Run = %v, want %q", err, want)
	}
}

// seen is the most the counters showed so far, without reading.
func (w *causeWatch) seen() Cause {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}
