package vm

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envbox/envbox/integration/cgtest"
)

// runPrograms are the host's containerd, its runc shim, runc and ctr (from
// docker.io's dependencies), and util-linux's unshare and nsenter for the
// pod and envbox's wrapper.
var runPrograms = []string{
	"/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2", "/usr/sbin/runc", "/usr/bin/ctr",
	"/usr/bin/unshare", "/usr/bin/nsenter",
}

// TestRunContainerdInPod runs the real envbox binary as `envbox run --
// containerd`, PID 1 of a pod of a pure cgroup v2 machine (cpu.max
// 50000 100000, memory.max 256 MiB), then `ctr run` of a busybox rootfs:
// the task lands at <pod>/default/<id> as the node sees it, containerd in
// <pod>/init; a 400 MiB allocator in the pod is OOM-killed; envbox doctor
// (no Docker API) exits 0 with the task's cgroup and ID, and 1 naming the
// task once the node moves it out of the pod; SIGTERM stops everything.
func TestRunContainerdInPod(t *testing.T) {
	g := prepareGuest(t)
	for _, p := range runPrograms {
		if _, err := os.Stat(p); err != nil {
			cgtest.Unavailable(t, "%s is missing (integration/deps.sh installs docker.io and util-linux): %v", p, err)
		}
	}
	envbox := buildStatic(t, g.dir, "envbox", "github.com/envbox/envbox/cmd/envbox")
	files := []File{
		{Path: "usr/local/bin/envbox", From: envbox, Mode: 0o755, Static: true},
		{Path: "rootfs/bin/busybox", From: g.busybox, Mode: 0o755, Static: true},
		{Path: "rootfs/bin/vmhelper", From: g.helper, Mode: 0o755, Static: true},
		{Path: "lib/guest.sh", Text: GuestLib, Mode: 0o644},
	}
	initrd, err := BuildInitramfs(g.dir, Guest{Busybox: g.busybox, Helper: g.helper, Init: RunInitScript, Files: files, Programs: runPrograms})
	if err != nil {
		t.Fatal(err)
	}
	con, _ := boot(t, Boot{Kernel: g.kernel.Image, Initramfs: initrd, MemMiB: 1536, CPUs: 2, Timeout: 5 * time.Minute})
	kv, ok := con.Results["run"]
	if !ok {
		t.Fatal("no RESULT line for run")
	}
	for _, key := range sortedKeys(kv) {
		if key != "log_tail" && key != "doctor_json" {
			t.Logf("%s = %q", key, kv[key])
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("envbox's last log lines:\n%s\ndoctor:\n%s", kv["log_tail"], kv["doctor_json"])
		}
	})
	r := result{t: t, name: "run", kv: kv}
	r.want("ctr_version_rc", "0")
	r.want("envbox_comm", "envbox")
	r.want("envbox_cgroup", "0::/pod/init")
	r.want("containerd_cgroup", "0::/pod/init")
	r.want("envbox_parent", r.get("pod_unshare")) // PID 1 of the pod
	r.want("task_comm", "sleep")
	r.want("pod_procs", "")
	r.want("pod_subtree_control", allControllers)
	r.want("ctr_run_rc", "0")
	r.want("task_cgroup", "0::/pod/default/t1")
	r.want("task_cpu_max", "50000 100000")
	r.want("task_memory_max", "268435456")
	r.want("task_own_memory_max", "max")
	r.want("default_memory_max", "134217728")
	r.want("default_pids_max", "max")
	r.want("envbox_oom_score_adj", "-999")
	r.want("containerd_oom_score_adj", "0")
	if r.get("hog_rc") == "0" || r.get("pod_oom_kill") == "0" {
		t.Errorf("400 MiB allocator in the 256 MiB pod: rc %q, pod oom_kill %q; want killed", r.get("hog_rc"), r.get("pod_oom_kill"))
	}

	r.want("doctor_rc", "0")
	var rep struct {
		Cgroups []struct {
			Path      string `json:"path"`
			HostPath  string `json:"host_path"`
			CgroupID  uint64 `json:"cgroup_id"`
			Processes []struct {
				Comm string `json:"comm"`
			} `json:"processes"`
		} `json:"cgroups"`
	}
	if err := json.Unmarshal([]byte(r.get("doctor_json")), &rep); err != nil {
		t.Fatalf("doctor --json: %v", err)
	}
	found := false
	for _, c := range rep.Cgroups {
		if c.Path == "/default/t1" {
			found = true
			if c.HostPath != "/pod/default/t1" || r.get("task_cgroup_id") != strconv.FormatUint(c.CgroupID, 10) ||
				len(c.Processes) != 1 || c.Processes[0].Comm != "sleep" {
				t.Errorf("doctor's /default/t1 = %+v; want host path /pod/default/t1, cgroup ID %s, one sleep", c, r.get("task_cgroup_id"))
			}
		}
	}
	if !found {
		t.Errorf("doctor lists no /default/t1: %+v", rep.Cgroups)
	}
	r.want("doctor_outside_rc", "1")
	if got := r.get("doctor_outside_err"); !strings.Contains(got, "(sleep): cgroup /../outside is not below the pod cgroup /") {
		t.Errorf("doctor with the task moved out: stderr %q, want it named", got)
	}

	r.want("pod_exit", "0")
	r.want("procs_after", "")
	t.Logf("the pod stopped %s ms after SIGTERM", r.get("stop_ms"))
}
