package integration

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"

	"github.com/envbox/envbox/integration/cgtest"
)

// SIGTERM to `envbox dind` in each phase of its start-up, on the real
// kernel with a real dockerd: envbox exits 0 ("0 after a clean stop on
// SIGTERM/SIGINT", its --help) within the stop grace, and nothing is left
// running in the test cgroup.

// signalGrace is envbox's --stop-grace in these tests.
const signalGrace = 10 * time.Second

// holdingUnshare stands in front of util-linux unshare and holds the
// wrapper before the delegation starts, without a child process (a bash
// builtin read with a timeout on a FIFO nobody writes).
const holdingUnshare = `#!/bin/bash
fifo=$(mktemp -u)
mkfifo "$fifo" && exec 3<>"$fifo" && rm -f "$fifo"
read -r -t 30 -u 3 _
exec /usr/bin/unshare "$@"
`

// cmdlineHas reports whether pid's command line holds s.
func cmdlineHas(pid int, s string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(b, []byte(s))
}

// startupPhase is one moment of start-up and how the test reaches it.
type startupPhase struct {
	name string
	// hold puts the holding unshare first in PATH.
	hold bool
	// reached returns nil once the phase is on.
	reached func(d *daemon, cg *cgtest.Cgroup, shim string) error
}

var startupPhases = []startupPhase{
	{name: "before_dockerd_wrapper_held", hold: true, reached: func(_ *daemon, cg *cgtest.Cgroup, shim string) error {
		pids, err := subtreeProcs(cg)
		for _, pid := range pids {
			if cmdlineHas(pid, shim) {
				return nil
			}
		}
		return fmt.Errorf("no process running %s yet (pids %v, err %v)", shim, pids, err)
	}},
	{name: "dockerd_just_execed", reached: func(_ *daemon, cg *cgtest.Cgroup, _ string) error {
		pids, err := dockerdsIn(cg)
		if err != nil || len(pids) == 0 {
			return fmt.Errorf("no dockerd yet (err %v)", err)
		}
		return nil
	}},
	{name: "containerd_loading_plugins", reached: func(d *daemon, _ *cgtest.Cgroup, _ string) error {
		// containerd, started by dockerd, logs through dockerd's output.
		if !strings.Contains(d.pod.out.String(), `msg="loading plugin`) {
			return errors.New("containerd has not logged \"loading plugin\" yet")
		}
		return nil
	}},
	{name: "after_ready", reached: func(d *daemon, _ *cgtest.Cgroup, _ string) error {
		return d.pool.Client.Ping()
	}},
}

func TestSignalDuringStartup(t *testing.T) {
	requireDockerd(t)
	for _, ph := range startupPhases {
		t.Run(ph.name, func(t *testing.T) {
			dir := newDaemonDir(t)
			shimDir := t.TempDir()
			shim := filepath.Join(shimDir, "unshare")
			if err := os.WriteFile(shim, []byte(holdingUnshare), 0o755); err != nil {
				t.Fatal(err)
			}
			cg := cgtest.New(t)
			env := []string{"ENVBOX_LOG_FORMAT=human"}
			if ph.hold {
				env = append(env, "PATH="+shimDir+":/usr/sbin:/usr/bin:/sbin:/bin")
			}
			args := append([]string{envboxBinary(t), "dind", "--stop-grace=" + signalGrace.String(), "--"}, dockerdArgv(dir)...)
			d := &daemon{dir: dir, pod: startPod(t, cg, signalGrace+5*time.Second, env, args...)}
			pool, err := dockertest.NewPool("unix://" + d.sock())
			if err != nil {
				t.Fatal(err)
			}
			d.pool = pool
			pollFast(t, timeoutStart, ph.name, d.podExited, func() error { return ph.reached(d, cg, shim) })
			announced := strings.Contains(d.pod.out.String(), "API listen on")
			code, took := sigterm(t, d.pod, signalGrace+5*time.Second)
			if code != 0 {
				t.Errorf("exit status %d after SIGTERM, want 0", code)
			}
			if took > signalGrace+2*time.Second {
				t.Errorf("exited %v after SIGTERM, beyond the %v grace", took, signalGrace)
			}
			assertEmpty(t, cg)
			t.Logf("SIGTERM %s (dockerd had logged \"API listen on\": %v): exit status %d after %v; test cgroup empty", ph.name, announced, code, took.Round(time.Millisecond))
		})
	}
}

// sigterm sends SIGTERM to the pod's envbox and returns its exit status
// and how long it took to exit, failing after timeout.
func sigterm(t *testing.T, p *pod, timeout time.Duration) (int, time.Duration) {
	t.Helper()
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM envbox: %v", err)
	}
	code := podExit(t, p, timeout)
	return code, time.Since(sent)
}

// pollFast is poll at 5 ms: a start-up phase can be short.
func pollFast(t *testing.T, timeout time.Duration, what string, abort func() error, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if aerr := abort(); aerr != nil {
			t.Fatalf("%s: gave up: %v (last: %v)", what, aerr, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after %v: %v", what, timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
