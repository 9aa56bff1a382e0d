package dind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestLauncherRule: kept namespace, else the pod's own, else a new one;
// asked again at every start until a namespace is kept.
func TestLauncherRule(t *testing.T) {
	t.Parallel()
	argv := []string{"dockerd", "--debug"}
	var answers []string
	var asked int
	var kept *os.File
	l := &Launcher{Log: testLogger(t),
		Delegated: func() (string, error) {
			defer func() { asked++ }()
			if asked < len(answers) {
				return answers[asked], nil
			}
			return "", errors.New("read /proc/self/cgroup: permission denied")
		},
		OpenNS: func(pid int) (*os.File, error) {
			if pid != 4242 {
				return nil, fmt.Errorf("opened pid %d, want 4242", pid)
			}
			f, err := os.Open(os.DevNull)
			kept = f
			return f, err
		},
	}
	defer l.Close()
	answers = []string{"", "/proc/1/ns/cgroup"}
	next := func() string {
		t.Helper()
		cmd, err := l.Command(context.Background(), argv)
		if err != nil {
			t.Fatal(err)
		}
		return argvOf(cmd.Argv())
	}
	if got, want := next(), "unshare --cgroup -- /bin/sh -c <delegate.sh> dockerd --debug"; got != want {
		t.Errorf("first start = %q, want %q", got, want)
	}
	if got, want := next(), "nsenter --cgroup=/proc/1/ns/cgroup -- /bin/sh -c <delegate.sh> dockerd --debug"; got != want {
		t.Errorf("restart in the pod's namespace = %q, want %q", got, want)
	}
	// Unreadable: a new namespace, still inside the pod.
	if got, want := next(), "unshare --cgroup -- /bin/sh -c <delegate.sh> dockerd --debug"; got != want {
		t.Errorf("restart when unreadable = %q, want %q", got, want)
	}
	unidentified := newFakeProc("dockerd", nil)
	unidentified.identify = errors.New("still sh")
	l.Keep(context.Background(), unidentified)
	if l.Kept() {
		t.Fatal("kept the namespace of a run that never became dockerd")
	}
	l.Keep(context.Background(), newFakeProc("dockerd", nil))
	if !l.Kept() {
		t.Fatal("no namespace kept from an identified run")
	}
	askedBefore := asked
	want := fmt.Sprintf("nsenter --cgroup=/proc/%d/fd/%d -- /bin/sh -c <delegate.sh> dockerd --debug", os.Getpid(), kept.Fd())
	if got := next(); got != want {
		t.Errorf("restart with a kept namespace = %q, want %q", got, want)
	}
	if asked != askedBefore {
		t.Errorf("asked for the pod's namespace although one is kept")
	}
}

// TestLauncherKeepIgnoresALaterRun: Keep runs in a goroutine. When the run
// it waited for became dockerd and then died and was restarted before Keep
// looked up the pid, the pid is the new run's, which may not have entered
// its namespace yet: nothing may be kept from it by this Keep (the new
// run's own Keep decides).
func TestLauncherKeepIgnoresALaterRun(t *testing.T) {
	t.Parallel()
	opened := make(chan int, 4)
	l := &Launcher{Log: testLogger(t), OpenNS: func(pid int) (*os.File, error) {
		opened <- pid
		return os.Open(os.DevNull)
	}}
	defer l.Close()
	p := newFakeProc("dockerd", nil)
	p.identifyGate = make(chan struct{})
	kept := make(chan struct{})
	go func() { l.Keep(context.Background(), p); close(kept) }()
	within(t, p.identifying, time.Second, "Keep waiting for run 1")
	p.exit(1, 0)
	if err := p.Restart(0, "dockerd", "nsenter"); err != nil {
		t.Fatal(err)
	}
	close(p.identifyGate) // run 1 had become dockerd before it died
	within(t, kept, time.Second, "Keep's return")
	select {
	case pid := <-opened:
		t.Errorf("Keep for run 1 (pid 4242) opened the namespace of pid %d", pid)
	default:
	}
	if l.Kept() {
		t.Error("a namespace is kept from a run Keep did not wait for")
	}
}

// TestLauncherKeepAfterClose: a Keep that finishes after Close (the
// session ended while dockerd was being identified) keeps nothing open.
func TestLauncherKeepAfterClose(t *testing.T) {
	t.Parallel()
	var f *os.File
	l := &Launcher{Log: testLogger(t), OpenNS: func(int) (*os.File, error) {
		var err error
		f, err = os.Open(os.DevNull)
		return f, err
	}}
	l.Close()
	l.Keep(context.Background(), newFakeProc("dockerd", nil))
	if l.Kept() {
		t.Error("Keep after Close kept a namespace")
	}
	if f != nil {
		if err := f.Close(); !errors.Is(err, os.ErrClosed) {
			t.Errorf("the namespace opened after Close is still open (Close = %v)", err)
		}
	}
}
