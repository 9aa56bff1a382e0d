package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/envbox/envbox/integration/cgtest"
)

// Fault injection with real processes on the real kernel, each test in its
// own test cgroup (cgtest) as the pod: dockerd killed again and again,
// dockerd that cannot start, a read-only cgroupfs, envbox started twice in
// the same pod, and envbox as PID 1 reaping a thousand orphans.

// dockerdsIn lists the dockerd processes anywhere under the test cgroup, as
// the host sees them (a killed dockerd leaves cgroup.procs at once).
func dockerdsIn(cg *cgtest.Cgroup) ([]int, error) {
	pids, err := subtreeProcs(cg)
	var out []int
	for _, pid := range pids {
		if exe, err := exeBase(pid); err == nil && exe == "dockerd" {
			out = append(out, pid)
		}
	}
	return out, err
}

// percentile is the nearest-rank percentile p (0 < p <= 100) of samples.
func percentile(samples []time.Duration, p int) time.Duration {
	s := slices.Clone(samples)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i, 1)-1]
}

// watchDockerds polls the test cgroup every few milliseconds until stop is
// closed and returns the most dockerd daemons (dockerd processes whose
// parent is envbox) seen at once. A child dockerd forks (containerd) runs
// dockerd's exe until it execs: its parent is dockerd, not envbox.
func watchDockerds(cg *cgtest.Cgroup, envbox int, stop <-chan struct{}) <-chan []int {
	worst := make(chan []int, 1)
	go func() {
		var most []int
		for {
			select {
			case <-stop:
				worst <- most
				return
			case <-time.After(5 * time.Millisecond):
			}
			pids, err := dockerdsIn(cg)
			var daemons []int
			for _, pid := range pids {
				if pp, perr := parentPid(pid); perr == nil && pp == envbox {
					daemons = append(daemons, pid)
				}
			}
			if err == nil && len(daemons) > len(most) {
				most = daemons
			}
		}
	}()
	return worst
}

const dockerdKills = 20

// TestFaultDockerdKilledRepeatedly: dockerd SIGKILLed 20 times in a row
// under `envbox dind` (ENVBOX_DOCKERD_RESTARTS=25). Each time a new dockerd
// is started through the wrapper, as envbox's child, in <pod>/init, and
// answers; never two dockerd at once. The restart latency (kill to the new
// dockerd's exec, and kill to its API answering) includes the back-off of
// cli/dind.go as it is: 250 ms doubling to 8 s for deaths within 30 s of
// the start, which every one of these is.
func TestFaultDockerdKilledRepeatedly(t *testing.T) {
	requireDockerd(t)
	dir := newDaemonDir(t)
	cg := cgtest.New(t)
	args := append([]string{envboxBinary(t), "dind", "--stop-grace=" + stopGrace.String(), "--"}, dockerdArgv(dir)...)
	env := []string{"ENVBOX_LOG_FORMAT=human", "ENVBOX_DOCKERD_RESTARTS=25"}
	d := &daemon{dir: dir, pod: startPod(t, cg, stopGrace+5*time.Second, env, args...)}
	d.connect(t)
	envboxPid, pod := d.pod.cmd.Process.Pid, testRel(cg)+"/pod"

	stop := make(chan struct{})
	worst := watchDockerds(cg, envboxPid, stop)
	var toExec, toAPI []time.Duration
	for i := 1; i <= dockerdKills; i++ {
		old := onlyDockerd(t, cg)
		killed := time.Now()
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: SIGKILL dockerd %d: %v", i, old, err)
		}
		pid := newDockerd(t, d, cg, old)
		toExec = append(toExec, time.Since(killed))
		d.waitAPIQuiet(t)
		toAPI = append(toAPI, time.Since(killed))
		if ppid, err := parentPid(pid); err != nil || ppid != envboxPid {
			t.Errorf("kill %d: dockerd %d parent = %d, %v; want envbox %d", i, pid, ppid, err, envboxPid)
		}
		if got, err := hostCgroup(pid); err != nil || got != pod+"/init" {
			t.Errorf("kill %d: dockerd %d host cgroup = %q, %v; want %q", i, pid, got, err, pod+"/init")
		}
	}
	close(stop)
	most := <-worst
	if len(most) > 1 {
		t.Errorf("%d dockerd daemons at once: %v", len(most), most)
	}
	t.Logf("most dockerd daemons (children of envbox) seen at once, polled every 5 ms: %d", len(most))
	t.Logf("dockerd SIGKILLed %d times: kill -> new dockerd exec p50 %v p99 %v max %v; kill -> API answers p50 %v p99 %v max %v",
		dockerdKills, percentile(toExec, 50).Round(time.Millisecond), percentile(toExec, 99).Round(time.Millisecond),
		slices.Max(toExec).Round(time.Millisecond), percentile(toAPI, 50).Round(time.Millisecond),
		percentile(toAPI, 99).Round(time.Millisecond), slices.Max(toAPI).Round(time.Millisecond))
	t.Logf("kill -> exec, in order: %v", roundAll(toExec))
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// onlyDockerd waits until exactly one dockerd runs in the test cgroup.
func onlyDockerd(t *testing.T, cg *cgtest.Cgroup) int {
	t.Helper()
	var pid int
	poll(t, timeoutStart, "exactly one dockerd in "+cg.Path, nil, func() error {
		pids, err := dockerdsIn(cg)
		if err != nil || len(pids) != 1 {
			return fmt.Errorf("dockerd processes %v (err %v), want one", pids, err)
		}
		pid = pids[0]
		return nil
	})
	return pid
}

// newDockerd polls every 2 ms for a dockerd other than old.
func newDockerd(t *testing.T, d *daemon, cg *cgtest.Cgroup, old int) int {
	t.Helper()
	deadline := time.Now().Add(timeoutStart)
	for time.Now().Before(deadline) {
		pids, _ := dockerdsIn(cg)
		for _, pid := range pids {
			if pid != old {
				return pid
			}
		}
		if err := d.podExited(); err != nil {
			t.Fatalf("waiting for a dockerd after killing %d: %v", old, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("no new dockerd %v after killing %d", timeoutStart, old)
	return 0
}

// waitAPIQuiet is waitAPI without the log line (20 of them).
func (d *daemon) waitAPIQuiet(t *testing.T) {
	t.Helper()
	poll(t, timeoutStart, "dockerd API on "+d.sock(), d.podExited, d.pool.Client.Ping)
}

// podExit waits for the pod's payload and returns its exit status.
func podExit(t *testing.T, p *pod, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("payload still running after %v", timeout)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("payload: %v", p.err)
	return -1
}

// TestFaultDockerdExitsAtOnce: a dockerd that cannot start (an unknown
// flag) is restarted with the back-off (250 ms, 500 ms, 1 s for three
// restarts), then envbox gives up with a clear error and exits with
// dockerd's own status.
func TestFaultDockerdExitsAtOnce(t *testing.T) {
	requireDockerd(t)
	cg := cgtest.New(t)
	env := []string{"ENVBOX_LOG_FORMAT=human", "ENVBOX_DOCKERD_RESTARTS=3"}
	start := time.Now()
	p := startPod(t, cg, 10*time.Second, env, envboxBinary(t), "dind", "--", "dockerd", "--bogus-flag")
	code := podExit(t, p, 60*time.Second)
	took := time.Since(start)
	out := p.out.String()
	if code != 1 {
		t.Errorf("envbox exit status %d, want dockerd's 1", code)
	}
	for _, want := range []string{"unknown flag: --bogus-flag", "dockerd exited and no restart is left"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	var backoffs []string
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "backoff="); i >= 0 && strings.Contains(line, "restarting through the delegation wrapper") {
			backoffs = append(backoffs, strings.Fields(line[i:])[0])
		}
	}
	if want := []string{"backoff=250ms", "backoff=500ms", "backoff=1s"}; !slices.Equal(backoffs, want) {
		t.Errorf("back-offs %q, want %q", backoffs, want)
	}
	if took < 1750*time.Millisecond {
		t.Errorf("gave up after %v, before the 1.75 s of back-off", took)
	}
	t.Logf("dockerd --bogus-flag: %d back-offs %v, gave up after %v with exit status %d; last lines:\n%s",
		len(backoffs), backoffs, took.Round(time.Millisecond), code, lastLines(out, 2))
	assertEmpty(t, cg)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// assertEmpty waits until nothing runs in the test cgroup any more.
func assertEmpty(t *testing.T, cg *cgtest.Cgroup) {
	t.Helper()
	poll(t, 10*time.Second, "empty test cgroup", nil, func() error {
		pids, err := subtreeProcs(cg)
		if err != nil || len(pids) > 0 {
			return fmt.Errorf("processes left under %s: %v (err %v)", cg.Path, pids, err)
		}
		return nil
	})
}

// TestFaultCgroupfsReadOnly: the pod's /sys/fs/cgroup is read-only (a
// per-mount flag set in the pod's own mount namespace: remount,bind,ro
// never touches the shared cgroup2 superblock). Preflight says so, the
// delegation script's fresh cgroup2 mount is read-write, and dockerd comes
// up in <pod>/init.
func TestFaultCgroupfsReadOnly(t *testing.T) {
	requireDockerd(t)
	dir := newDaemonDir(t)
	cg := cgtest.New(t)
	script := `mount -o remount,bind,ro /sys/fs/cgroup || exit 99; exec "$@"`
	args := append([]string{"/bin/sh", "-c", script, "ro", envboxBinary(t), "dind", "--"}, dockerdArgv(dir)...)
	d := &daemon{dir: dir, pod: startPod(t, cg, stopGrace+5*time.Second, []string{"ENVBOX_LOG_FORMAT=human", "ENVBOX_DOCKERD_RESTARTS=0"}, args...)}
	d.connect(t)
	out := d.pod.out.String()
	want := "preflight: /sys/fs/cgroup is mounted read-only: the delegation script remounts it read-write; if that fails, run the container privileged"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q", want)
	}
	pid := onlyDockerd(t, cg)
	if got, err := hostCgroup(pid); err != nil || got != testRel(cg)+"/pod/init" {
		t.Errorf("dockerd %d host cgroup = %q, %v; want %q", pid, got, err, testRel(cg)+"/pod/init")
	} else {
		t.Logf("read-only /sys/fs/cgroup: preflight warned, dockerd %d answers in %s", pid, got)
	}
}

// TestFaultEnvboxTwiceInPod: envbox dind runs, is stopped, and runs again
// in the same pod (same mount and cgroup namespaces, /sys/fs/cgroup already
// remounted by the first run): the second dockerd comes up and its
// containers still land under the pod.
func TestFaultEnvboxTwiceInPod(t *testing.T) {
	requireDockerd(t)
	dir := newDaemonDir(t)
	cg := cgtest.New(t)
	script := `"$@" & pid=$!; wait "$pid"; echo "first envbox exited $?"; exec "$@"`
	args := append([]string{"/bin/sh", "-c", script, "twice", envboxBinary(t), "dind", "--stop-grace=" + stopGrace.String(), "--"}, dockerdArgv(dir)...)
	d := &daemon{dir: dir, pod: startPod(t, cg, stopGrace+5*time.Second, []string{"ENVBOX_LOG_FORMAT=human"}, args...)}
	d.connect(t)
	pod := testRel(cg) + "/pod"
	first := onlyDockerd(t, cg)
	firstCg, _ := hostCgroup(first)
	envbox := childEnvbox(t, d.pod.cmd.Process.Pid)
	if err := syscall.Kill(envbox, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	poll(t, stopGrace+5*time.Second, "first envbox stopped", d.podExited, func() error {
		if !strings.Contains(d.pod.out.String(), "first envbox exited 0") {
			return errors.New("no \"first envbox exited 0\" line yet")
		}
		return nil
	})
	d.waitAPIQuiet(t)
	second := onlyDockerd(t, cg)
	secondCg, err := hostCgroup(second)
	if err != nil {
		t.Fatal(err)
	}
	importImage(t, d.pool, imageTarball(t, "base"), baseImage)
	argv := sleeper(t)
	c := runContainer(t, d.pool, baseImage, argv, nil)
	cpid := onlyProc(t, argv)
	got, err := hostCgroup(cpid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first dockerd %d in %s; after a second envbox dind in the same pod: dockerd %d in %s, container in %s",
		first, firstCg, second, secondCg, got)
	if firstCg != pod+"/init" {
		t.Errorf("first dockerd in %q, want %q", firstCg, pod+"/init")
	}
	if want := pod + "/init/init"; secondCg != want {
		t.Errorf("second dockerd in %q, want %q (the pod shell was moved to /init by the first run)", secondCg, want)
	}
	if want := pod + "/init/docker/" + c.ID; got != want {
		t.Errorf("container in %q, want %q", got, want)
	}
}

// childEnvbox finds the envbox process whose parent is ppid.
func childEnvbox(t *testing.T, ppid int) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		if pp, err := parentPid(pid); err == nil && pp == ppid {
			if exe, err := exeBase(pid); err == nil && exe == filepath.Base(envboxBinary(t)) {
				return pid
			}
		}
	}
	t.Fatalf("no envbox child of %d", ppid)
	return 0
}

const orphans = 1000

// orphanDockerd stands in for dockerd in the PID-1 test: it makes orphans
// (each subshell starts a child and exits at once, so the child is
// reparented to PID 1), then counts zombies in its PID namespace until
// none is left, and stays up.
const orphanDockerd = `#!/bin/sh
i=0
while [ "$i" -lt "$N" ]; do
	(/bin/true &)
	i=$((i + 1))
done
tries=0
while :; do
	z=0
	for f in /proc/[0-9]*/stat; do
		read -r l <"$f" 2>/dev/null || continue
		case $l in *") Z "*) z=$((z + 1)) ;; esac
	done
	tries=$((tries + 1))
	if [ "$z" = 0 ] || [ "$tries" = 200 ]; then break; fi
	sleep 0.05
done
echo "orphans $N zombies $z polls $tries pid1 $(cat /proc/1/comm)"
exec sleep 100000
`

// TestFaultPID1ReapsOrphans: envbox as PID 1 of a new PID namespace
// (unshare --pid --fork --mount-proc), its dockerd leaving 1,000 orphans:
// no zombie remains. The pod's /run is a tmpfs first, so docker:dind's
// start-up hygiene (stale pid files in /run) cannot touch the host's.
func TestFaultPID1ReapsOrphans(t *testing.T) {
	requireDockerd(t)
	cg := cgtest.New(t)
	script := `mount -t tmpfs tmpfs /run || exit 99
mkdir /run/h9 && printf '%s' "$FAKE" >/run/h9/dockerd && chmod +x /run/h9/dockerd || exit 99
exec unshare --pid --fork --mount-proc "$@"`
	env := []string{"ENVBOX_LOG_FORMAT=human", "FAKE=" + orphanDockerd, "N=" + fmt.Sprint(orphans)}
	start := time.Now()
	p := startPod(t, cg, 10*time.Second, env, "/bin/sh", "-c", script, "pid1", envboxBinary(t), "dind", "--stop-grace=5s", "--", "/run/h9/dockerd")
	var line string
	poll(t, 120*time.Second, "the orphan maker's count", func() error {
		if done, err := p.exited(); done {
			return fmt.Errorf("exited: %v", err)
		}
		return nil
	}, func() error {
		for _, l := range strings.Split(p.out.String(), "\n") {
			if i := strings.Index(l, "orphans "); i >= 0 && strings.Contains(l, "zombies") {
				line = l[i:]
				return nil
			}
		}
		return errors.New("no count yet")
	})
	t.Logf("envbox as PID 1: %q after %v", line, time.Since(start).Round(time.Millisecond))
	if !strings.HasPrefix(line, fmt.Sprintf("orphans %d zombies 0 ", orphans)) || !strings.HasSuffix(line, "pid1 envbox") {
		t.Errorf("count %q, want %d orphans, 0 zombies, PID 1 envbox", line, orphans)
	}
}
