package dind

import (
	"context"
	"errors"
	"os"
	"reflect"
	"syscall"
	"testing"
	"time"
)

const (
	wantFirst = "unshare --cgroup -- /bin/sh -c <delegate.sh> dockerd --host=unix:///var/run/docker.sock"
	// After the first delegation envbox sits in /init of the pod's
	// namespace: a restart delegates there, not one /init deeper.
	wantInPod = "nsenter --cgroup=/proc/1/ns/cgroup -- /bin/sh -c <delegate.sh> dockerd --host=unix:///var/run/docker.sock"
)

// supervised is a Supervisor over fakes, with its back-off under the
// test's control.
type supervised struct {
	s       *Supervisor
	starter *fakeStarter
	sigs    chan os.Signal
	// backoff receives every back-off the supervisor waits; fire ends it.
	backoff chan time.Duration
	fire    chan time.Time
	// delegated answers the launch policy's second question, per call.
	delegated []string
	calls     int
	done      chan error
}

func newSupervised(t *testing.T, command ...string) *supervised {
	t.Helper()
	x := &supervised{starter: newFakeStarter(), sigs: make(chan os.Signal, 4),
		backoff: make(chan time.Duration, 8), fire: make(chan time.Time, 8), done: make(chan error, 1)}
	log := testLogger(t)
	l := &Launcher{Log: log, Delegated: func() (string, error) {
		defer func() { x.calls++ }()
		if x.calls < len(x.delegated) {
			return x.delegated[x.calls], nil
		}
		return "", nil
	}, OpenNS: func(int) (*os.File, error) { return os.Open(os.DevNull) }}
	t.Cleanup(l.Close)
	x.s = &Supervisor{Log: log, Launcher: l, Start: x.starter.start, Signals: x.sigs,
		Dockerd: []string{"dockerd", "--host=unix:///var/run/docker.sock"}, Restarts: 3,
		StopGrace: 2 * time.Second, ReadyTimeout: 5 * time.Second, Socket: DefaultSocket, Command: command,
		After: func(d time.Duration) <-chan time.Time { x.backoff <- d; return x.fire },
	}
	return x
}

func (x *supervised) run() { go func() { x.done <- x.s.Run(context.Background()) }() }

func (x *supervised) result(t *testing.T) error {
	t.Helper()
	return within(t, x.done, 5*time.Second, "return from Supervisor.Run")
}

// TestSupervisorSignalDuringBackoff: SIGTERM while dockerd is down and
// waiting for its restart stops envbox: no further start, exit 0 (a clean
// stop, as documented), at once rather than after the back-off.
func TestSupervisorSignalDuringBackoff(t *testing.T) {
	t.Parallel()
	x := newSupervised(t)
	x.run()
	d := within(t, x.starter.started, time.Second, "dockerd start")
	d.exit(1, 0)
	if got := within(t, x.backoff, time.Second, "back-off"); got != 250*time.Millisecond {
		t.Errorf("back-off = %s, want 250ms", got)
	}
	x.sigs <- syscall.SIGTERM
	if err := x.result(t); err != nil {
		t.Fatalf("Run after SIGTERM in the back-off = %v, want nil (exit 0)", err)
	}
	if got := len(d.starts()); got != 1 {
		t.Errorf("dockerd started %d times, want 1: %q", got, d.starts())
	}
	select {
	case got := <-x.backoff:
		t.Errorf("a second back-off (%s) after the signal: the signal was taken for a restart", got)
	default:
	}
}

// TestSupervisorHUPDuringBackoff: SIGHUP (reload) while dockerd is down is
// not a stop: the restart still happens.
func TestSupervisorHUPDuringBackoff(t *testing.T) {
	t.Parallel()
	x := newSupervised(t)
	x.delegated = []string{"", "/proc/1/ns/cgroup"}
	x.run()
	d := within(t, x.starter.started, time.Second, "dockerd start")
	d.exit(1, 0)
	within(t, x.backoff, time.Second, "back-off")
	x.sigs <- syscall.SIGHUP
	x.fire <- time.Now()
	waitFor(t, func() bool { return len(d.starts()) == 2 }, "the restart")
	x.sigs <- syscall.SIGTERM
	if err := x.result(t); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if got := d.signals(); !reflect.DeepEqual(got, []string{"terminated"}) {
		t.Errorf("dockerd got %q, want only the SIGTERM (SIGHUP came while it was down)", got)
	}
}

// TestSupervisorSignalWhileWaitingReady: in command mode a SIGTERM before
// dockerd answers stops dockerd within the grace and the command never
// starts; envbox exits 128+15.
func TestSupervisorSignalWhileWaitingReady(t *testing.T) {
	t.Parallel()
	x := newSupervised(t, "make", "test")
	x.s.ReadyTimeout = time.Hour // the signal, not the timeout, must end the wait
	x.s.Ready = func(ctx context.Context, _ string, _ <-chan struct{}) error { <-ctx.Done(); return ctx.Err() }
	x.starter.setup = func(p *fakeProc) { p.diesOnSignal = true }
	x.run()
	d := within(t, x.starter.started, time.Second, "dockerd start")
	x.sigs <- syscall.SIGTERM
	err := x.result(t)
	if got, want := errString(err), "terminated before make started"; got != want || exitCode(err) != 143 {
		t.Fatalf("Run = %q (exit %d), want %q (exit 143)", got, exitCode(err), want)
	}
	if got := d.signals(); !reflect.DeepEqual(got, []string{"terminated"}) {
		t.Errorf("dockerd got %q, want [terminated]", got)
	}
	if n := x.starter.count(); n != 1 {
		t.Errorf("%d processes started, want 1 (dockerd only; the command must not start)", n)
	}
}

// TestSupervisorForwardsSignalToCommandOnce: SIGTERM goes to the command,
// once; envbox exits with the command's status and stops dockerd.
func TestSupervisorForwardsSignalToCommandOnce(t *testing.T) {
	t.Parallel()
	x, d, cmd := runningCommand(t, nil)
	if got, want := argvOf(cmd.starts()[0]), "make test"; got != want {
		t.Errorf("command argv = %q, want %q", got, want)
	}
	cmd.diesOnSignal = true
	x.sigs <- syscall.SIGTERM
	err := x.result(t)
	if exitCode(err) != 143 {
		t.Fatalf("Run = %v (exit %d), want the command's end (exit 143)", err, exitCode(err))
	}
	if got := cmd.signals(); !reflect.DeepEqual(got, []string{"terminated"}) {
		t.Errorf("command got %q, want [terminated] exactly once", got)
	}
	if d.stopCount() != 1 || len(d.signals()) != 0 {
		t.Errorf("dockerd: %d stops, signals %q; want one Stop after the command ended and no forwarded signal", d.stopCount(), d.signals())
	}
}

// TestSupervisorSignalDuringBackoffReachesCommand: in command mode a
// SIGTERM while dockerd waits for its restart goes to the command, which
// ends envbox; dockerd is not restarted.
func TestSupervisorSignalDuringBackoffReachesCommand(t *testing.T) {
	t.Parallel()
	x, d, cmd := runningCommand(t, nil)
	cmd.diesOnSignal = true
	d.exit(1, 0)
	within(t, x.backoff, time.Second, "back-off")
	x.sigs <- syscall.SIGTERM
	if err := x.result(t); exitCode(err) != 143 {
		t.Fatalf("Run = %v (exit %d), want the command's end (exit 143)", err, exitCode(err))
	}
	if got := cmd.signals(); !reflect.DeepEqual(got, []string{"terminated"}) {
		t.Errorf("command got %q, want [terminated]", got)
	}
	if got := len(d.starts()); got != 1 {
		t.Errorf("dockerd started %d times, want 1", got)
	}
}

// TestSupervisorCommandEndsDuringBackoff: the command ends while dockerd
// waits for its restart: envbox exits with the command's status at once,
// without waiting out the back-off and without starting dockerd again.
func TestSupervisorCommandEndsDuringBackoff(t *testing.T) {
	t.Parallel()
	x, d, cmd := runningCommand(t, nil)
	d.exit(1, 0)
	within(t, x.backoff, time.Second, "back-off")
	cmd.exit(2, 0)
	err := x.result(t) // the back-off never fires: only the command's end can end Run
	if got, want := errString(err), "make (pid 4242) exit status 2"; got != want || exitCode(err) != 2 {
		t.Fatalf("Run = %q (exit %d), want %q (exit 2)", got, exitCode(err), want)
	}
	if got := len(d.starts()); got != 1 {
		t.Errorf("dockerd started %d times, want 1: the command had ended", got)
	}
}

// TestSupervisorHUPDuringBackoffReachesCommand: in command mode signals
// go to the command, also SIGHUP while dockerd waits for its restart.
func TestSupervisorHUPDuringBackoffReachesCommand(t *testing.T) {
	t.Parallel()
	x, d, cmd := runningCommand(t, nil)
	d.exit(1, 0)
	within(t, x.backoff, time.Second, "back-off")
	x.sigs <- syscall.SIGHUP
	if got := within(t, cmd.signalled, time.Second, "SIGHUP at the command"); got != syscall.SIGHUP {
		t.Errorf("command got %s, want SIGHUP", got)
	}
	x.fire <- time.Now()
	waitFor(t, func() bool { return len(d.starts()) == 2 }, "the restart")
	cmd.exit(0, 0)
	if err := x.result(t); err != nil {
		t.Fatalf("Run = %v, want nil (the command's status 0)", err)
	}
	if got := cmd.signals(); !reflect.DeepEqual(got, []string{"hangup"}) {
		t.Errorf("command got %q, want [hangup]", got)
	}
	if got := d.signals(); len(got) != 0 {
		t.Errorf("dockerd got %q, want nothing (it was down)", got)
	}
}

// TestSupervisorCommandIgnoringSIGTERM: a command that ignores the
// forwarded SIGTERM is killed after the grace; envbox exits 128+9.
func TestSupervisorCommandIgnoringSIGTERM(t *testing.T) {
	t.Parallel()
	x, d, cmd := runningCommand(t, func(s *Supervisor) { s.StopGrace = 20 * time.Millisecond })
	x.sigs <- syscall.SIGTERM
	err := x.result(t)
	if got, want := errString(err), "make (pid 4242) killed by killed"; got != want || exitCode(err) != 137 {
		t.Fatalf("Run = %q (exit %d), want %q (exit 137)", got, exitCode(err), want)
	}
	if got := cmd.signals(); !reflect.DeepEqual(got, []string{"terminated"}) || cmd.stopCount() != 1 {
		t.Errorf("command got %q and %d stops, want [terminated] then one kill", got, cmd.stopCount())
	}
	if d.stopCount() != 1 {
		t.Errorf("dockerd stopped %d times, want 1", d.stopCount())
	}
}

// TestSupervisorNoRestartLeftWhileCommandRuns: dockerd dies under the
// command with no restart left: the command is stopped and envbox exits
// with dockerd's status.
func TestSupervisorNoRestartLeftWhileCommandRuns(t *testing.T) {
	t.Parallel()
	x, d, cmd := runningCommand(t, func(s *Supervisor) { s.Restarts = 0 })
	d.exit(3, 0)
	err := x.result(t)
	if want := "no restart left: dockerd (pid 4242) exit status 3"; errString(err) != want || exitCode(err) != 3 {
		t.Fatalf("Run = %q (exit %d), want %q (exit 3)", errString(err), exitCode(err), want)
	}
	if cmd.stopCount() != 1 || len(d.starts()) != 1 {
		t.Errorf("command stops %d, dockerd starts %d; want 1 and 1", cmd.stopCount(), len(d.starts()))
	}
}

// TestSupervisorUnidentifiedRunReevaluatesNamespace: the first dockerd
// never became dockerd, so no namespace was kept; the restart asks the
// launch policy again and, envbox being in /init of the pod's namespace
// by now, delegates there instead of one /init deeper.
func TestSupervisorUnidentifiedRunReevaluatesNamespace(t *testing.T) {
	t.Parallel()
	x := newSupervised(t)
	x.delegated = []string{"", "/proc/1/ns/cgroup"}
	x.starter.setup = func(p *fakeProc) { p.identify = errors.New("still sh after 30s") }
	x.run()
	d := within(t, x.starter.started, time.Second, "dockerd start")
	d.exit(1, 0)
	within(t, x.backoff, time.Second, "back-off")
	x.fire <- time.Now()
	waitFor(t, func() bool { return len(d.starts()) == 2 }, "the restart")
	x.sigs <- syscall.SIGTERM
	if err := x.result(t); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	var got []string
	for _, a := range d.starts() {
		got = append(got, argvOf(a))
	}
	if want := []string{wantFirst, wantInPod}; !reflect.DeepEqual(got, want) {
		t.Errorf("dockerd command lines =\n%q\nwant\n%q", got, want)
	}
}

// TestSupervisorNoRestartLeft: the budget spent, envbox exits with
// dockerd's status and says why.
func TestSupervisorNoRestartLeft(t *testing.T) {
	t.Parallel()
	x := newSupervised(t)
	x.s.Restarts = 0
	x.run()
	d := within(t, x.starter.started, time.Second, "dockerd start")
	d.exit(3, 0)
	err := x.result(t)
	if want := "no restart left: dockerd (pid 4242) exit status 3"; errString(err) != want || exitCode(err) != 3 || !errors.Is(err, ErrNoRestartLeft) {
		t.Fatalf("Run = %q (exit %d), want %q (exit 3)", errString(err), exitCode(err), want)
	}
}

// TestSupervisorReadyTimeout: dockerd never answers: exit 1 quoting its
// output, dockerd stopped, the command never started.
func TestSupervisorReadyTimeout(t *testing.T) {
	t.Parallel()
	x := newSupervised(t, "make")
	x.s.ReadyTimeout = 10 * time.Millisecond
	x.s.Socket = "unix:///nonexistent/docker.sock"
	x.run()
	d := within(t, x.starter.started, time.Second, "dockerd start")
	err := x.result(t)
	want := "wait for dockerd on /nonexistent/docker.sock: context deadline exceeded"
	if exitCode(err) != 1 || len(errString(err)) < len(want) || errString(err)[:len(want)] != want {
		t.Fatalf("Run = %q (exit %d), want exit 1 starting %q", errString(err), exitCode(err), want)
	}
	if d.stopCount() != 1 || x.starter.count() != 1 {
		t.Errorf("dockerd stops %d, processes %d; want 1 and 1", d.stopCount(), x.starter.count())
	}
}

// runningCommand runs `make test` in command mode, dockerd ready at once,
// after edit adjusted the Supervisor, and returns once both run.
func runningCommand(t *testing.T, edit func(s *Supervisor)) (x *supervised, d, cmd *fakeProc) {
	t.Helper()
	x = newSupervised(t, "make", "test")
	x.s.Ready = func(context.Context, string, <-chan struct{}) error { return nil }
	if edit != nil {
		edit(x.s)
	}
	x.run()
	d = within(t, x.starter.started, time.Second, "dockerd start")
	cmd = within(t, x.starter.started, time.Second, "command start")
	return x, d, cmd
}

// waitFor polls cond until it holds, failing after a deadline.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 5s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
