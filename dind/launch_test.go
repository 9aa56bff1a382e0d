package dind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
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
