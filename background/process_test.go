package background

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cdr.dev/slog"
)

func TestNewRejectsEmptyNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, bin, cmd string
		wantErr        string
	}{
		{name: "empty_bin", bin: "", cmd: "unshare", wantErr: `new process "unshare": empty binary name`},
		{name: "empty_cmd", bin: "dockerd", cmd: "", wantErr: `new process dockerd: empty command`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(context.Background(), slog.Make(), tt.bin, tt.cmd)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("New(%q, %q) error = %v, want %q", tt.bin, tt.cmd, err, tt.wantErr)
			}
		})
	}
}

func TestRestartRejectsEmptyBinName(t *testing.T) {
	t.Parallel()
	p := newProcess(t, slog.Make(), "fakedockerd", helperPath("fakedockerd"))
	err := p.Restart(time.Second, "", "unshare", "--cgroup")
	if want := `restart "unshare": empty binary name`; err == nil || err.Error() != want {
		t.Errorf("Restart with empty binName error = %v, want %q", err, want)
	}
	if p.Pid() != 0 {
		t.Errorf("Restart with empty binName started pid %d", p.Pid())
	}
}

func TestWaitBeforeStart(t *testing.T) {
	t.Parallel()
	p := newProcess(t, slog.Make(), "fakedockerd", helperPath("fakedockerd"))
	if err := p.Wait(); err == nil || err.Error() != "wait fakedockerd: not started" {
		t.Errorf("Wait before Start = %v, want %q", err, "wait fakedockerd: not started")
	}
}

// TestExitStatus checks the status and signal of real children as their
// own wait status reports them.
func TestExitStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     []string
		want    *ExitError // Pid is filled in from the process
		wantMsg string     // %d is the pid
	}{
		{name: "exit_0", env: helperEnv("exit", envCode+"=0")},
		{
			name:    "exit_3",
			env:     helperEnv("exit", envCode+"=3"),
			want:    &ExitError{BinName: "fakedockerd", Status: 3, Tail: "exiting 3"},
			wantMsg: "fakedockerd (pid %d) exit status 3; last output:\nexiting 3",
		},
		{
			name:    "exit_255",
			env:     helperEnv("exit", envCode+"=255"),
			want:    &ExitError{BinName: "fakedockerd", Status: 255, Tail: "exiting 255"},
			wantMsg: "fakedockerd (pid %d) exit status 255; last output:\nexiting 255",
		},
		{
			name:    "killed_by_sigterm",
			env:     helperEnv("kill-self", envSignal+"=15"),
			want:    &ExitError{BinName: "fakedockerd", Status: -1, Signal: syscall.SIGTERM, Tail: "killing self with terminated"},
			wantMsg: "fakedockerd (pid %d) killed by terminated; last output:\nkilling self with terminated",
		},
		{
			name:    "killed_by_sigkill",
			env:     helperEnv("kill-self", envSignal+"=9"),
			want:    &ExitError{BinName: "fakedockerd", Status: -1, Signal: syscall.SIGKILL, Tail: "killing self with killed"},
			wantMsg: "fakedockerd (pid %d) killed by killed; last output:\nkilling self with killed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log, _ := newLogger(t)
			p := newProcess(t, log, "fakedockerd", helperPath("fakedockerd"))
			p.Env = tt.env
			if err := p.Start(); err != nil {
				t.Fatal(err)
			}
			waitClosed(t, p.Done(), 10*time.Second, "exit")
			err := p.Wait()
			if tt.want == nil {
				if err != nil {
					t.Errorf("%v: Wait() = %v, want nil", tt.env, err)
				}
				return
			}
			var ee *ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("%v: Wait() = %v, want *ExitError", tt.env, err)
			}
			want := *tt.want
			want.Pid = p.Pid()
			if !reflect.DeepEqual(*ee, want) {
				t.Errorf("%v: Wait() = %+v, want %+v", tt.env, *ee, want)
			}
			if msg := fmt.Sprintf(tt.wantMsg, p.Pid()); ee.Error() != msg {
				t.Errorf("%v: error text = %q, want %q", tt.env, ee.Error(), msg)
			}
		})
	}
}

// TestExitNotDelayedByOrphanedOutput: an orphan still holding the output
// pipe must not delay exit detection (the pipe's EOF is not the exit).
func TestExitNotDelayedByOrphanedOutput(t *testing.T) {
	t.Parallel()
	log, _ := newLogger(t)
	p := newProcess(t, log, "sh", "/bin/sh", "-c", "sleep 3 & echo started; exit 4")
	start := time.Now()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, p.Done(), 2*time.Second, "exit while an orphan holds stdout")
	t.Logf("exit seen after %s", time.Since(start))
	var ee *ExitError
	if err := p.Wait(); !errors.As(err, &ee) || ee.Status != 4 || ee.Tail != "started" {
		t.Errorf("Wait() = %v, want exit status 4 with tail %q", err, "started")
	}
}

func TestStopTerminatesGracefully(t *testing.T) {
	t.Parallel()
	log, _ := newLogger(t)
	p := newProcess(t, log, "fakedockerd", helperPath("fakedockerd"))
	ready := make(chan struct{}, 1)
	p.OnLine = func(l string) {
		if l == "ready" {
			ready <- struct{}{}
		}
	}
	p.Env = helperEnv("serve", envRecord+"="+filepath.Join(t.TempDir(), "record"))
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ready, 10*time.Second, "helper ready")
	start := time.Now()
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Stop took %s for a child that exits on SIGTERM", took)
	}
	if !isClosed(p.Done()) {
		t.Error("Stop returned before the child was reaped")
	}
	if err := p.Wait(); err != nil {
		t.Errorf("Wait() after graceful stop = %v, want nil", err)
	}
}

// TestStopGraceThenKill: a child that ignores SIGTERM gets the whole grace
// period, then SIGKILL, and Stop returns only once it is reaped.
func TestStopGraceThenKill(t *testing.T) {
	t.Parallel()
	log, sink := newLogger(t)
	p := newProcess(t, log, "fakedockerd", helperPath("fakedockerd"))
	ready := make(chan struct{}, 1)
	p.OnLine = func(l string) {
		if l == "ready" {
			ready <- struct{}{}
		}
	}
	p.Env = helperEnv("serve", envIgnore+"=1", envRecord+"="+filepath.Join(t.TempDir(), "record"))
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ready, 10*time.Second, "helper ready")
	const grace = 300 * time.Millisecond
	start := time.Now()
	if err := p.Stop(grace); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < grace || took > grace+2*time.Second {
		t.Errorf("Stop(%s) took %s, want the grace period then a prompt kill", grace, took)
	}
	if !isClosed(p.Done()) {
		t.Error("Stop returned before the child was reaped")
	}
	want := ExitError{BinName: "fakedockerd", Pid: p.Pid(), Status: -1, Signal: syscall.SIGKILL, Tail: "ready"}
	var ee *ExitError
	if err := p.Wait(); !errors.As(err, &ee) || *ee != want {
		t.Errorf("Wait() = %v, want %+v", err, want)
	}
	if !sink.has("fakedockerd", slog.LevelWarn, "did not stop in time, killing") {
		t.Error(`no warning "did not stop in time, killing" logged`)
	}
}

// TestRestartReapsBeforeStart: the old child takes 300 ms to exit after
// SIGTERM; the new one records whether the old pid still exists (even as a
// zombie) when it starts, and when.
func TestRestartReapsBeforeStart(t *testing.T) {
	t.Parallel()
	log, _ := newLogger(t)
	rec := filepath.Join(t.TempDir(), "record")
	p := newProcess(t, log, "fakedockerd", helperPath("fakedockerd"))
	ready := make(chan struct{}, 2)
	p.OnLine = func(l string) {
		if l == "ready" {
			ready <- struct{}{}
		}
	}
	p.Env = helperEnv("serve", envRecord+"="+rec, envTermDelay+"=300ms")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ready, 10*time.Second, "first helper ready")
	oldPid := p.Pid()
	p.Env = append(p.Env, envOldPid+"="+strconv.Itoa(oldPid))
	start := time.Now()
	if err := p.Restart(10*time.Second, "fakedockerd", helperPath("fakedockerd")); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("Restart took %s, less than the old child's 300 ms shutdown", took)
	}
	waitClosed(t, ready, 10*time.Second, "second helper ready")
	newPid := p.Pid()
	events, times := readRecord(t, rec)
	want := []string{
		fmt.Sprintf("start %d old_alive=-", oldPid),
		fmt.Sprintf("exit %d", oldPid),
		fmt.Sprintf("start %d old_alive=false", newPid),
	}
	if !slices.Equal(events, want) {
		t.Fatalf("recorded events = %q, want %q", events, want)
	}
	if times[2] <= times[1] {
		t.Errorf("new child started at %d, not after the old one exited at %d", times[2], times[1])
	}
}

func TestOutputLoggedUnderBinName(t *testing.T) {
	t.Parallel()
	log, sink := newLogger(t)
	p := newProcess(t, log, "fakedockerd", helperPath("fakedockerd"))
	var seen []string
	p.OnLine = func(l string) { seen = append(seen, l) }
	p.Env = helperEnv("lines", envLines+"=3", envCode+"=0")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	want := []string{"line 0001", "line 0002", "line 0003"}
	if got := sink.outputLines("fakedockerd"); !slices.Equal(got, want) {
		t.Errorf("logged output under fakedockerd = %q, want %q", got, want)
	}
	if !slices.Equal(seen, want) {
		t.Errorf("OnLine saw %q, want %q", seen, want)
	}
}

// TestTailBounded: 1000 lines of 9 bytes; 4096 bytes hold the last 409
// lines with their newlines (4090 bytes), joined without the last newline.
func TestTailBounded(t *testing.T) {
	t.Parallel()
	log, _ := newLogger(t)
	p := newProcess(t, log, "fakedockerd", helperPath("fakedockerd"))
	p.Env = helperEnv("lines", envLines+"=1000", envCode+"=3")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	var ee *ExitError
	if err := p.Wait(); !errors.As(err, &ee) {
		t.Fatalf("Wait() = %v, want *ExitError", err)
	}
	lines := strings.Split(ee.Tail, "\n")
	if len(ee.Tail) != 4089 || len(lines) != 409 || lines[0] != "line 0592" || lines[408] != "line 1000" {
		t.Errorf("tail: %d bytes, %d lines, first %q, last %q; want 4089 bytes, 409 lines, first %q, last %q",
			len(ee.Tail), len(lines), lines[0], lines[len(lines)-1], "line 0592", "line 1000")
	}
	if p.Tail() != ee.Tail {
		t.Errorf("Tail() = %d bytes, want the exit error's tail", len(p.Tail()))
	}
}

// TestPdeathsigThreadOutlivesGoroutine: children are forked from a thread
// that never exits, so a locked goroutine that exits (and takes its OS
// thread with it) does not fire Pdeathsig on a child it started.
func TestPdeathsigThreadOutlivesGoroutine(t *testing.T) {
	t.Parallel()
	log, _ := newLogger(t)
	p := newProcess(t, log, "fakedockerd", helperPath("fakedockerd"))
	p.Env = helperEnv("serve", envRecord+"="+filepath.Join(t.TempDir(), "record"))
	var err error
	tid := onDyingThread(func() { err = p.Start() })
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, "/proc/self/task/"+strconv.Itoa(tid))
	select {
	case <-p.Done():
		t.Fatalf("child died when the starting goroutine's thread exited: %v", p.Wait())
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(p.Pid())); err != nil {
		t.Errorf("child pid %d gone: %v", p.Pid(), err)
	}
}
