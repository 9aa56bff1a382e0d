package integration

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The two lost-signal cases of the lifecycle, with the real envbox binary
// and a real dockerd in a docker:dind-like pod (own test cgroup, network
// namespace, /run and /var/lib). Both failed before the supervisor moved
// to package dind.

// lifecycleGrace is envbox's --stop-grace here.
const lifecycleGrace = 10 * time.Second

// TestSignalDuringRestartBackoff: SIGTERM while dockerd is down and envbox
// waits out the back-off before restarting it. envbox exits 0 at once; no
// dockerd is started again.
func TestSignalDuringRestartBackoff(t *testing.T) {
	c := startDindCompat(t, []string{"ENVBOX_DOCKERD_RESTARTS=3"}, "--stop-grace="+lifecycleGrace.String(), "--")
	c.waitUnixAPI()
	pids, err := dockerdsIn(c.pod.cg)
	if err != nil || len(pids) != 1 {
		t.Fatalf("dockerd processes in %s: %v (err %v), want one", c.pod.cg.Path, pids, err)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL dockerd %d: %v", pids[0], err)
	}
	pollFast(t, 10*time.Second, "the back-off before the restart", c.podExited, func() error {
		if !strings.Contains(c.pod.out.String(), "dockerd exited, restarting through the delegation wrapper") {
			return errors.New("envbox has not logged the restart yet")
		}
		return nil
	})
	code, took := sigterm(t, c.pod, lifecycleGrace+5*time.Second)
	out := c.pod.out.String()
	if code != 0 {
		t.Errorf("exit status %d after SIGTERM in the back-off, want 0", code)
	}
	if took > time.Second {
		t.Errorf("exited %v after SIGTERM, want at once (dockerd was already down)", took)
	}
	if !strings.Contains(out, "signal while dockerd was down, not restarting") {
		t.Errorf("envbox did not log the signal in the back-off")
	}
	if n := strings.Count(out, "launching through the delegation wrapper"); n != 1 {
		t.Errorf("dockerd launched %d times, want 1 (no restart after the signal)", n)
	}
	assertEmpty(t, c.pod.cg)
	t.Logf("SIGTERM in the restart back-off: exit status %d after %v, one launch, test cgroup empty", code, took.Round(time.Millisecond))
}

// slowReadyPrelude is dindPodPrelude with a dockerd that cannot become
// ready for a minute: its daemon.json names a containerd socket nobody
// serves, and dockerd waits for it before it serves its API.
const slowReadyPrelude = `set -eu
ip link set lo up
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
mkdir -p /etc/docker
mount -t tmpfs tmpfs /etc/docker
echo '{"containerd": "/run/nobody/containerd.sock"}' >/etc/docker/daemon.json
exec "$@"`

// TestSignalWhileWaitingForReady: `envbox dind CMD` gets SIGTERM while the
// real dockerd is running but not ready. dockerd is stopped within the
// grace, the command never runs, envbox exits 128+15.
func TestSignalWhileWaitingForReady(t *testing.T) {
	marker := filepath.Join(shortTempDir(t), "command-ran")
	c := startDindCompatWith(t, slowReadyPrelude, nil,
		"--stop-grace="+lifecycleGrace.String(), "--ready-timeout=5m", "--", "sh", "-c", "touch "+marker)
	pollFast(t, timeoutStart, "a running dockerd", c.podExited, func() error {
		pids, err := dockerdsIn(c.pod.cg)
		if err != nil || len(pids) == 0 {
			return errors.New("no dockerd in the test cgroup yet")
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // dockerd is now waiting for its containerd
	code, took := sigterm(t, c.pod, lifecycleGrace+5*time.Second)
	if code != 143 {
		t.Errorf("exit status %d after SIGTERM before the command, want 143 (128+SIGTERM)", code)
	}
	if took > lifecycleGrace+2*time.Second {
		t.Errorf("exited %v after SIGTERM, beyond the %v grace", took, lifecycleGrace)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the command ran despite the SIGTERM before dockerd was ready (stat %s: %v)", marker, err)
	}
	if out := c.pod.out.String(); !strings.Contains(out, "signal before the command started") {
		t.Errorf("envbox did not log the signal before the command")
	}
	assertEmpty(t, c.pod.cg)
	t.Logf("SIGTERM while waiting for readiness: exit status %d after %v, command not run, test cgroup empty", code, took.Round(time.Millisecond))
}
