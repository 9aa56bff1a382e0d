package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/envbox/envbox/integration/cgtest"
)

// `envbox run -- CMD` on the real kernel, in the cgtest pod harness, with a
// stand-in for kubelet/containerd: a sh script that, like kubelet, creates
// its own child cgroup below what it sees as the root and starts its
// workload there.

// standinName is the stand-in's file name: what the process becomes after
// the wrapper execs it (its comm, as for any script run by its path).
const standinName = "standin"

// standin creates <root>/kubepods/pod-<its pid> and starts a workload
// that moves itself there, then waits; SIGTERM stops the workload and
// ends the stand-in with status 0.
const standin = `#!/bin/sh
set -eu
cg=/sys/fs/cgroup/kubepods/pod-$$
mkdir -p "$cg"
sh -c 'echo $$ >"$1/cgroup.procs" && exec sleep 600' workload "$cg" &
workload=$!
trap 'kill "$workload"; wait "$workload" || :; exit 0' TERM
echo "standin: workload $workload in $cg"
wait "$workload"
`

// runGrace is envbox run's --stop-grace in these tests.
const runGrace = 5 * time.Second

// requireRun skips under -short and is cgtest.Unavailable when the
// wrapper's tools are missing.
func requireRun(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("envbox run on the real kernel: skipped under -short")
	}
	if os.Geteuid() != 0 {
		cgtest.Unavailable(t, "envbox run test: needs root (euid %d)", os.Geteuid())
	}
	for _, bin := range []string{"unshare", "nsenter", "mount"} {
		if _, err := exec.LookPath(bin); err != nil {
			cgtest.Unavailable(t, "envbox run test: %s not installed (integration/deps.sh installs it): %v", bin, err)
		}
	}
}

// runPod is `envbox run FLAGS -- <standin>` as the pod's payload.
type runPod struct {
	*pod
	cg  *cgtest.Cgroup
	rel string // the pod's host cgroup path, "/<test cgroup>/pod"
}

func startRunPod(t *testing.T, flags ...string) *runPod {
	t.Helper()
	dir := shortTempDir(t)
	bin := filepath.Join(dir, standinName)
	if err := os.WriteFile(bin, []byte(standin), 0o755); err != nil {
		t.Fatal(err)
	}
	cg := cgtest.New(t)
	args := append([]string{envboxBinary(t), "run", "--stop-grace=" + runGrace.String()}, flags...)
	args = append(args, "--", bin)
	p := startPod(t, cg, runGrace+5*time.Second, []string{"ENVBOX_LOG_FORMAT=human"}, args...)
	return &runPod{pod: p, cg: cg, rel: testRel(cg) + "/pod"}
}

func (r *runPod) podExited() error {
	if done, err := r.exited(); done {
		return fmt.Errorf("envbox exited: %v\n%s", err, r.out.String())
	}
	return nil
}

// daemon waits for the one stand-in in <pod>/init other than old, started
// by envbox, and returns its pid.
func (r *runPod) daemon(t *testing.T, old int) int {
	t.Helper()
	var pid int
	poll(t, 30*time.Second, "the stand-in daemon in "+r.rel+"/init", r.podExited, func() error {
		pids, err := r.cg.Procs("pod/init")
		if err != nil {
			return err
		}
		var found []int
		for _, p := range pids {
			if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); err == nil && strings.TrimSpace(string(comm)) == standinName && p != old {
				found = append(found, p)
			}
		}
		if len(found) != 1 {
			return fmt.Errorf("stand-ins in %s/init: %v (all: %v), want exactly one other than %d", r.rel, found, pids, old)
		}
		pid = found[0]
		return nil
	})
	if ppid, err := parentPid(pid); err != nil || ppid != r.cmd.Process.Pid {
		t.Errorf("stand-in %d parent = %d, %v; want envbox %d", pid, ppid, err, r.cmd.Process.Pid)
	}
	return pid
}

// identified waits until envbox has identified pid as the daemon: only
// then is its cgroup namespace kept for restarts (a run killed before
// that restarts in a new namespace, one /init deeper, and says so).
func (r *runPod) identified(t *testing.T, pid int) {
	t.Helper()
	line := fmt.Sprintf("identified  pid=%d ", pid)
	poll(t, 10*time.Second, "envbox identifies the stand-in "+strconv.Itoa(pid), r.podExited, func() error {
		if !strings.Contains(r.out.String(), line) {
			return fmt.Errorf("no %q in envbox's output yet", line)
		}
		return nil
	})
}

// workload waits for the workload of daemon pid in its own cgroup and
// checks the host sees it under the pod.
func (r *runPod) workload(t *testing.T, daemon int) int {
	t.Helper()
	rel := "pod/kubepods/pod-" + strconv.Itoa(daemon)
	var pid int
	poll(t, 10*time.Second, "the workload in "+rel, r.podExited, func() error {
		pids, err := r.cg.Procs(rel)
		if err != nil || len(pids) != 1 {
			return fmt.Errorf("%s holds %v (%v), want one process", rel, pids, err)
		}
		pid = pids[0]
		return nil
	})
	want := r.rel + "/kubepods/pod-" + strconv.Itoa(daemon)
	if got, err := hostCgroup(pid); err != nil || got != want {
		t.Errorf("workload %d host cgroup = %q, %v; want %q", pid, got, err, want)
	}
	return pid
}

// nsOf is the cgroup namespace of pid ("cgroup:[INODE]").
func nsOf(t *testing.T, pid int) string {
	t.Helper()
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// ownView is /proc/<pid>/cgroup's v2 path as pid itself reads it.
func ownView(t *testing.T, pid int) string {
	t.Helper()
	path := fmt.Sprintf("/proc/%d/cgroup", pid)
	b, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-C", "--", "cat", path).Output()
	if err != nil {
		t.Fatalf("nsenter -C cat %s: %v", path, err)
	}
	p, err := parseCgroup2(path, string(b))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunStandinNestsItsCgroups: the stand-in runs in <pod>/init, in a
// cgroup namespace rooted at the pod, and the cgroup it creates for its
// workload (/kubepods/pod-<pid>, as it sees it) is <pod>/kubepods/... on
// the host. SIGTERM stops everything: envbox exits 0, nothing is left.
func TestRunStandinNestsItsCgroups(t *testing.T) {
	requireRun(t)
	envboxBinary(t)
	start := time.Now()
	r := startRunPod(t)
	d := r.daemon(t, 0)
	r.identified(t, d)
	t.Logf("stand-in %d identified in %s/init %v after the start", d, r.rel, time.Since(start).Round(time.Millisecond))
	if got, err := hostCgroup(d); err != nil || got != r.rel+"/init" {
		t.Errorf("stand-in %d host cgroup = %q, %v; want %q", d, got, err, r.rel+"/init")
	}
	if got := ownView(t, d); got != "/init" {
		t.Errorf("stand-in %d sees itself in %q, want /init (its namespace rooted at the pod)", d, got)
	}
	w := r.workload(t, d)
	if got := ownView(t, w); got != "/kubepods/pod-"+strconv.Itoa(d) {
		t.Errorf("workload %d sees itself in %q, want /kubepods/pod-%d", w, got, d)
	}
	if pids, err := r.cg.Procs(""); err != nil || len(pids) != 0 {
		t.Errorf("test cgroup root holds %v (%v), want nothing outside the pod", pids, err)
	}

	stopped := time.Now()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.done:
	case <-time.After(runGrace + 5*time.Second):
		t.Fatalf("envbox still running %v after SIGTERM", runGrace+5*time.Second)
	}
	if r.err != nil {
		t.Errorf("envbox after SIGTERM: %v, want exit status 0\n%s", r.err, r.out.String())
	}
	t.Logf("envbox exited %v after SIGTERM", time.Since(stopped).Round(time.Millisecond))
	poll(t, 10*time.Second, "empty test cgroup after envbox exit", nil, func() error {
		if pids, err := subtreeProcs(r.cg); err != nil || len(pids) > 0 {
			return fmt.Errorf("processes left under %s: %v (err %v)", r.cg.Path, pids, err)
		}
		return nil
	})
}

// TestRunRestartsKilledDaemon: with ENVBOX_RESTARTS=2, a stand-in killed
// with SIGKILL is started again by envbox through the wrapper, in the same
// cgroup namespace (kept from the first run, not a new one one /init
// deeper), and its new workload still lands under the pod. The third
// death spends the budget: envbox exits with the daemon's status, 137.
func TestRunRestartsKilledDaemon(t *testing.T) {
	requireRun(t)
	r := startRunPod(t, "--restarts=2")
	d := r.daemon(t, 0)
	r.identified(t, d)
	ns := nsOf(t, d)
	r.workload(t, d)
	for i := 1; i <= 2; i++ {
		killed := time.Now()
		if err := syscall.Kill(d, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		nd := r.daemon(t, d)
		r.identified(t, nd)
		t.Logf("restart %d: stand-in %d killed, %d in %s/init after %v", i, d, nd, r.rel, time.Since(killed).Round(time.Millisecond))
		if got := nsOf(t, nd); got != ns {
			t.Errorf("restart %d: stand-in %d in cgroup namespace %s, want the first run's %s", i, nd, got, ns)
		}
		if got := ownView(t, nd); got != "/init" {
			t.Errorf("restart %d: stand-in %d sees itself in %q, want /init", i, nd, got)
		}
		r.workload(t, nd)
		d = nd
	}
	if err := syscall.Kill(d, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("envbox still running 10s after the third death with ENVBOX_RESTARTS=2")
	}
	var ee *exec.ExitError
	if !errors.As(r.err, &ee) || ee.ExitCode() != 137 {
		t.Errorf("envbox after the budget was spent: %v, want exit status 137 (128+SIGKILL)\n%s", r.err, r.out.String())
	}
	if !strings.Contains(r.out.String(), "standin exited and no restart is left") {
		t.Errorf("output does not say the budget was spent:\n%s", r.out.String())
	}
}

// TestRunNameMismatchReported: --name=kubelet while CMD never becomes
// kubelet: envbox logs an error naming the process and what it runs, and
// keeps supervising it (it is neither hidden nor killed).
func TestRunNameMismatchReported(t *testing.T) {
	requireRun(t)
	r := startRunPod(t, "--name=kubelet", "--identify-timeout=1s")
	d := r.daemon(t, 0)
	want := fmt.Sprintf("kubelet: pid %d is still %q", d, standinName)
	poll(t, 10*time.Second, "the report that the stand-in never became kubelet", r.podExited, func() error {
		out := r.out.String()
		if !strings.Contains(out, "process never became kubelet") || !strings.Contains(out, want) {
			return fmt.Errorf("no line with %q and %q yet", "process never became kubelet", want)
		}
		return nil
	})
	for _, line := range strings.Split(r.out.String(), "\n") {
		if strings.Contains(line, "never became") {
			t.Logf("reported: %s", line)
		}
	}
	if err := r.podExited(); err != nil {
		t.Errorf("envbox after the mismatch: %v, want it still supervising", err)
	}
	if err := syscall.Kill(d, 0); err != nil {
		t.Errorf("stand-in %d after the mismatch: %v, want it still running", d, err)
	}
}

// runDoctorReport is the part of `envbox doctor --json` the run tests check.
type runDoctorReport struct {
	PodCgroup string `json:"pod_cgroup"`
	Docker    string `json:"docker_note"`
	Cgroups   []struct {
		Path      string `json:"path"`
		HostPath  string `json:"host_path"`
		CgroupID  uint64 `json:"cgroup_id"`
		Processes []struct {
			PID  int    `json:"pid"`
			Comm string `json:"comm"`
		} `json:"processes"`
	} `json:"cgroups"`
	Outside []struct {
		PID    int    `json:"pid"`
		Comm   string `json:"comm"`
		Cgroup string `json:"cgroup"`
	} `json:"outside_pod"`
	Offenders []string `json:"offenders"`
}

// TestRunDoctorWithoutDocker: `envbox doctor` in the pod of `envbox run`
// (no Docker socket) exits 0 and lists the stand-in's own cgroup with its
// workload, the host path and the cgroup ID the host reads; once the host
// moves the workload out of the pod, doctor exits 1 naming it.
func TestRunDoctorWithoutDocker(t *testing.T) {
	requireRun(t)
	r := startRunPod(t)
	d := r.daemon(t, 0)
	r.identified(t, d)
	w := r.workload(t, d)
	envbox := r.cmd.Process.Pid
	flags := []string{"--json", "--pid=" + strconv.Itoa(envbox), "--host-cgroup-root=" + r.rel, "--host=unix:///run/docker.sock"}
	start := time.Now()
	out, stderr, code := runDoctor(t, envbox, flags...)
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("envbox doctor: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	var rep runDoctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("decode doctor --json: %v\n%s", err, out)
	}
	if rep.PodCgroup != "/pod" || rep.Docker != "no socket /run/docker.sock (dockerd not running)" {
		t.Errorf("pod cgroup %q, docker note %q; want /pod and no socket", rep.PodCgroup, rep.Docker)
	}
	task := "/pod/kubepods/pod-" + strconv.Itoa(d)
	host := r.rel + "/kubepods/pod-" + strconv.Itoa(d)
	id, err := cgroupID(host)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, c := range rep.Cgroups {
		var procs []string
		for _, p := range c.Processes {
			procs = append(procs, fmt.Sprintf("%d (%s)", p.PID, p.Comm))
		}
		found[c.Path] = fmt.Sprintf("%s %d %s", c.HostPath, c.CgroupID, strings.Join(procs, ", "))
	}
	if want := fmt.Sprintf("%s %d %d (sleep)", host, id, w); found[task] != want {
		t.Errorf("doctor's %s = %q, want %q (all: %q)", task, found[task], want, found)
	}
	initID, err := cgroupID(r.rel + "/init")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s/init %d %d (envbox), %d (%s)", r.rel, initID, envbox, d, standinName); found["/pod/init"] != want {
		t.Errorf("doctor's /pod/init = %q, want %q", found["/pod/init"], want)
	}
	t.Logf("doctor took %v; %s: %s", took.Round(time.Millisecond), task, found[task])

	outside := filepath.Join(r.cg.Path, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "cgroup.procs"), []byte(strconv.Itoa(w)), 0o644); err != nil {
		t.Fatalf("move workload %d to %s: %v", w, outside, err)
	}
	out, stderr, code = runDoctor(t, envbox, flags...)
	if code != 1 {
		t.Fatalf("envbox doctor with workload %d outside the pod: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", w, code, out, stderr)
	}
	wantLine := fmt.Sprintf("process %d (sleep): cgroup /outside is not below the pod cgroup /pod", w)
	if want := "envbox: 1 not attributed: " + wantLine + "\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	human, _, code := runDoctor(t, envbox, flags[1:]...)
	if code != 1 {
		t.Errorf("envbox doctor (human): exit %d, want 1", code)
	}
	t.Logf("envbox doctor (human):\n%s", human)
}
