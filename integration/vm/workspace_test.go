package vm

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envbox/envbox/integration/cgtest"
)

// vmToken is the agent token in guest/workspace-init.sh.
const vmToken = "envbox-vm-token-7e21c4"

// dockerPrograms are the host's docker.io binaries the guest runs (the
// node's runtime and the pod's dockerd), and util-linux's unshare and
// nsenter for envbox's wrapper. Absolute: docker.io's, not another docker
// earlier in PATH.
var dockerPrograms = []string{
	"/usr/sbin/dockerd", "/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2", "/usr/sbin/runc",
	"/usr/bin/docker", "/usr/bin/unshare", "/usr/bin/nsenter",
}

// TestWorkspaceLimitsInCgroupfs runs the real envbox binary as `envbox
// docker` in a pod of a pure cgroup v2 machine (the one place here with cpu
// and memory controllers): the pod is a privileged container of the
// machine's own dockerd with 1.5 CPUs and 768 MiB, the workspace container
// lands at <pod>/docker/<id>, and its cpu.max and memory.max are the pod's,
// which envbox derived through the remounted cgroup root.
func TestWorkspaceLimitsInCgroupfs(t *testing.T) {
	b := podBoot(t, WorkspaceInitScript)
	// Once in about a dozen runs under CI load the guest stalled right
	// after `docker run` of the pod, before anything was recorded. The
	// guest's watchdog then dumps every process and ends the run; once in
	// a CI run the whole guest froze there, its watchdog silent too, and
	// b.Silence ends it. Either run is logged whole and the VM booted once
	// more. Every assertion below holds for one complete run.
	var kv map[string]string
	for attempt := 1; ; attempt++ {
		con, out, err := bootFrozen(t, b)
		if err != nil {
			if attempt == 2 {
				t.Fatalf("%v, twice; the second console:\n%s", err, out)
			}
			t.Logf("%v; its console:\n%s\nbooting once more", err, out)
			continue
		}
		var ok bool
		if kv, ok = con.Results["ws"]; !ok {
			t.Fatal("no RESULT line for ws")
		}
		stuck, ok := kv["stuck"]
		if !ok {
			break
		}
		if attempt == 2 {
			t.Fatalf("the guest made no progress for 4 min after %q, twice", stuck)
		}
		t.Logf("the guest made no progress for 4 min after %q; its dump:\n%s\nbooting once more", stuck, out)
	}
	for _, key := range sortedKeys(kv) {
		if !strings.HasSuffix(key, "log_tail") {
			t.Logf("%s = %q", key, kv[key])
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("envbox's last log lines:\n%s\nin the pod started again for the OOM kill:\n%s", kv["log_tail"], kv["oom_log_tail"])
		}
	})
	r := result{t: t, name: "ws", kv: kv}
	r.want("modules", "ok")
	r.want("import_rc", "0")
	r.want("prime_rc", "0")
	// pod_run_err holds docker's swap-limit warning (no swap accounting in
	// this kernel's default); logged above, not asserted.
	r.want("pod_run_rc", "0")
	podID := r.get("pod_id")
	// The node's runtime set the pod's limits.
	r.want("pod_cpu_max", "150000 100000")
	r.want("pod_memory_max", "805306368")

	id := r.get("id")
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("workspace container ID = %q, want 64 hex digits (envbox log tail:\n%s)", id, kv["log_tail"])
	}
	// Attribution: the workspace and nothing else under <pod>/docker; envbox
	// (the pod's PID 1), its dockerd and containerd in the pod's /init leaf;
	// the pod root empty.
	r.want("docker_children", id+"/")
	r.want("workspace_comm", "sleep")
	r.want("workspace_cgroup", "0::/docker/"+podID+"/docker/"+id)
	r.want("envbox_cgroup", "0::/docker/"+podID+"/init")
	r.want("init_comms", "containerd containerd-shim dockerd envbox ")
	r.want("pod_procs", "")
	// kubectl exec: runc cannot put the process in the pod's root any more
	// (EBUSY) and joins the cgroup of the pod's PID 1 instead.
	r.want("exec_cgroup", "0::/init")
	r.want("pod_subtree_control", allControllers)
	// The limits, as the kernel holds them for the workspace.
	r.want("cpu_max", "150000 100000")
	r.want("memory_max", "805306368")
	checkCreateLine(t, r.get("create_line"))

	r.want("boot_user", "coder")
	r.want("bootstrap_done", "1")
	r.want("boot_token", vmToken)
	r.want("token_in_log", "0")

	// A second envbox started in the delegated pod (docker exec, as kubectl
	// exec) delegates in the pod's namespace: its dockerd in the pod's
	// /init, nothing moved one level down.
	r.want("second_up", "0")
	r.want("second_cgroup", "0::/docker/"+podID+"/init")
	r.want("second_cgroupns", "same_as_pod")
	r.want("envbox_cgroup_after_second", "0::/docker/"+podID+"/init")
	r.want("init_children", "")
	r.wantContains("second_log_line", "already in /init of this container's cgroup namespace")
	r.want("second_rc", "0")

	// docker stop: SIGTERM to envbox, which must exit 0 on its own within
	// the 60 s before the runtime's SIGKILL.
	r.want("pod_exit", "0")
	r.want("procs_after", "")
	term, errT := strconv.ParseFloat(r.get("term_uptime"), 64)
	stop, errS := strconv.ParseFloat(r.get("stop_uptime"), 64)
	if errT != nil || errS != nil {
		t.Fatalf("uptimes: %v %v", errT, errS)
	}
	// ENVBOX_STOP_GRACE=10s for the workspace, then dockerd's own grace.
	t.Logf("the pod stopped %.2f s after docker stop", stop-term)
	if stop-term > 40 {
		t.Errorf("the pod took %.2f s to stop, want under 40 s", stop-term)
	}

	checkWorkspaceOOM(t, r, podID)
}

// checkWorkspaceOOM: the same pod started again, its workspace's PID 1
// became the allocator and was OOM-killed at <pod>/docker's limit (the
// pod's less the headroom reserve; the workspace's own memory.max is the
// pod's); envbox exited 1 naming the kill and the node saw the pod end.
func checkWorkspaceOOM(t *testing.T, r result, podID string) {
	t.Helper()
	r.want("oom_start_rc", "0")
	oid := r.get("oom_id")
	r.want("oom_docker_memory_max", "603979776") // 768 MiB - the default reserve, 192 MiB
	r.want("oom_ws_memory_max", "805306368")
	// PID 1 is the script standing in for the image's sleep, waiting on the FIFO.
	r.want("oom_ws_procs", "/bin/sh /usr/local/bin/sleep infinity ")
	kernel := r.get("oom_kernel")
	r.wantContains("oom_kernel", "oom_memcg=/docker/"+podID+"/docker,task_memcg=/docker/"+podID+"/docker/"+oid+"\n")
	if n := strings.Count(kernel, "Killed process"); n != 1 {
		t.Errorf("%d processes OOM-killed, want 1 (kernel log %q)", n, kernel)
	}
	r.wantContains("oom_kernel", "(busybox)") // PID 1 after its exec of busybox tail
	r.wantContains("oom_ws_state", `"OOMKilled":true "ExitCode":137 `)
	r.want("oom_wait", "1")
	r.wantContains("oom_pod_state", "exited 1 ")
	r.want("oom_procs_after", "")
	// envbox ends on the kernel's notice that the workspace's processes
	// are gone (cgroup.events populated 0) or on dockerd's report,
	// whichever comes first; the exit status only when dockerd reported
	// it within 250 ms of the notice.
	line := r.get("oom_last_line")
	shape := regexp.MustCompile(`^envbox: the workspace stopped: workspace container workspace_cvm \(` + oid +
		`\) stopped: (exit status 137, OOM-killed|its processes are gone \((cgroup\.events populated 0|its cgroup was removed), read at [a-z ]+\), no exit status from dockerd within 250ms)` +
		`; its cgroup counted: OOM kill \(memory\.events oom_kill [1-9][0-9]*\)$`)
	if !shape.MatchString(line) {
		t.Errorf("envbox's last line = %q, want it to match %s", line, shape)
	}

	// envbox said so when the kernel counted it, before dockerd reported
	// the exit; read_at (logged) says whether the change notice on
	// memory.events or the 250 ms timer made it read.
	r.wantContains("oom_counted_line", `"fields":{"cause":"OOM kill (memory.events oom_kill 1)","cgroup":"/sys/fs/cgroup/docker/`+oid+`","read_at":"`)

	// The times, all on the wall clock: the kill (the kernel's line,
	// converted by the mark written after it), the workspace's exit
	// (containerd's, in the pod's data root), envbox's line that it saw
	// the exit, the pod's end (the node's runtime).
	kill := killWallTime(t, kernel)
	counted := rfc3339In(t, r.get("oom_counted_line"), `^\{"ts":"([^"]+)"`)
	exited := rfc3339In(t, r.get("oom_ws_state"), `"FinishedAt":"([^"]+)"`)
	seen := rfc3339In(t, r.get("oom_stopped_line"), `^\{"ts":"([^"]+)"`)
	gone := seen // dockerd's report came first: no notice line
	goneHow := "none: dockerd reported first"
	if l := r.kv["oom_gone_line"]; l != "" {
		gone = rfc3339In(t, l, `^\{"ts":"([^"]+)"`)
		if m := regexp.MustCompile(`"how":"([^"]*)"`).FindStringSubmatch(l); m != nil {
			goneHow = m[1]
		}
	}
	end := rfc3339In(t, r.get("oom_pod_state"), ` ([^ ]+)$`)
	total := end.Sub(kill).Seconds()
	readAt := regexp.MustCompile(`"read_at":"([^"]*)"`).FindStringSubmatch(r.get("oom_counted_line"))
	if readAt == nil {
		readAt = []string{"", "?"}
	}
	// envbox's last lines, dockerd's among them: where its stop spent the time.
	t.Logf("envbox's last log lines after the OOM kill:\n%s", r.get("oom_log_tail"))
	t.Logf("OOM kill -> pod end %.2f s: kill -> envbox read the count %.3f s (at its %s); kill -> envbox's notice the processes are gone %.2f s (%s); "+
		"notice -> envbox stops dockerd %.2f s (%s); kill -> workspace exit (containerd's) %.2f s; -> envbox exit (dockerd stopped) %.2f s",
		total, counted.Sub(kill).Seconds(), readAt[1], gone.Sub(kill).Seconds(), goneHow, seen.Sub(gone).Seconds(), stoppedBy(r.get("oom_stopped_line")),
		exited.Sub(kill).Seconds(), end.Sub(seen).Seconds())
	// Logged against the 2 s goal, asserted loosely: under TCG with other
	// VMs on the 2 cores each step stretches (docs/limits.md).
	if total < 0 || total > 15 {
		t.Errorf("the pod ended %.2f s after the OOM kill, want within 15 s", total)
	}
}

// stoppedBy says what envbox's stop line came from: dockerd's report
// (first, or within the wait after the kernel's notice) or the notice alone.
func stoppedBy(line string) string {
	switch {
	case strings.Contains(line, `"noticed_by":"kernel"`):
		return "dockerd's report within the wait after the notice"
	case strings.Contains(line, `"noticed_by":"dockerd"`):
		return "dockerd's report, before the notice"
	}
	return "the notice alone"
}

// killWallTime is the wall time of the kernel's oom-kill line: its
// timestamp since boot plus the offset the "envbox-vm mark" line gives.
func killWallTime(t *testing.T, kernel string) time.Time {
	t.Helper()
	m := regexp.MustCompile(`\[ *([0-9.]+)\] envbox-vm mark ([0-9]+)\.([0-9]{9})`).FindStringSubmatch(kernel)
	k := regexp.MustCompile(`\[ *([0-9.]+)\] oom-kill:`).FindStringSubmatch(kernel)
	if m == nil || k == nil {
		t.Fatalf("no mark or oom-kill line in the kernel log %q", kernel)
	}
	markUp, _ := strconv.ParseFloat(m[1], 64)
	killUp, _ := strconv.ParseFloat(k[1], 64)
	sec, _ := strconv.ParseInt(m[2], 10, 64)
	nsec, _ := strconv.ParseInt(m[3], 10, 64)
	return time.Unix(sec, nsec).Add(-time.Duration((markUp - killUp) * float64(time.Second)))
}

// rfc3339In is the time the first group of pattern finds in s.
func rfc3339In(t *testing.T, s, pattern string) time.Time {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no time matching %s in %q", pattern, s)
	}
	v, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatalf("time %q in %q: %v", m[1], s, err)
	}
	return v
}

// checkCreateLine: envbox's JSON log says what it asked dockerd for.
func checkCreateLine(t *testing.T, line string) {
	t.Helper()
	var e struct {
		Fields struct {
			CPUQuota  int64  `json:"cpu_quota"`
			CPUPeriod int64  `json:"cpu_period"`
			Memory    int64  `json:"memory"`
			Runtime   string `json:"runtime"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Errorf("create_line %q: %v", line, err)
		return
	}
	f := e.Fields
	if f.CPUQuota != 150000 || f.CPUPeriod != 100000 || f.Memory != 805306368 || f.Runtime != "runc" {
		t.Errorf("requested cpu %d/%d memory %d runtime %q; want 150000/100000 805306368 runc", f.CPUQuota, f.CPUPeriod, f.Memory, f.Runtime)
	}
}

// podBoot is the node VM of the pod tests: the real envbox binary, the
// workspace image, the host's docker.io and util-linux, init as /init.
func podBoot(t *testing.T, init string) Boot {
	t.Helper()
	g := prepareGuest(t)
	for _, p := range dockerPrograms {
		if _, err := os.Stat(p); err != nil {
			cgtest.Unavailable(t, "%s is missing (integration/deps.sh installs docker.io and util-linux): %v", p, err)
		}
	}
	envbox := buildStatic(t, g.dir, "envbox", "github.com/envbox/envbox/cmd/envbox")
	image := filepath.Join(g.dir, "workspace.tar")
	if err := WriteWorkspaceImage(image, g.busybox); err != nil {
		t.Fatal(err)
	}
	files := []File{
		{Path: "usr/local/bin/envbox", From: envbox, Mode: 0o755, Static: true},
		{Path: "images/workspace.tar", From: image, Mode: 0o644},
		{Path: "lib/guest.sh", Text: GuestLib, Mode: 0o644},
	}
	for _, m := range GuestModules {
		base := filepath.Base(m)
		files = append(files, File{Path: "modules/" + base, From: filepath.Join(g.kernel.Modules, base), Mode: 0o644})
	}
	initrd, err := BuildInitramfs(g.dir, Guest{
		Busybox: g.busybox, Helper: g.helper, Init: init, Files: files, Programs: dockerPrograms,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Silence: the guest's watchdog speaks within about 250 s of its last
	// step, so 6 minutes of nothing is a frozen guest.
	return Boot{Kernel: g.kernel.Image, Initramfs: initrd, MemMiB: 2048, CPUs: 2, Timeout: 15 * time.Minute,
		Silence: 6 * time.Minute}
}
