package workspace

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
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
		if want := []string{"/sys/fs/cgroup/docker/id1/memory.events", "/sys/fs/cgroup/docker/id1/pids.events"}; !reflect.DeepEqual(got, want) {
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
