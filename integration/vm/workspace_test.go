package vm

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// vmToken is the agent token in guest/workspace-init.sh.
const vmToken = "envbox-vm-token-7e21c4"

// dockerPrograms are the host's docker.io binaries the guest runs, and
// util-linux's unshare and nsenter for envbox's wrapper.
var dockerPrograms = []string{"dockerd", "containerd", "containerd-shim-runc-v2", "runc", "unshare", "nsenter"}

// TestWorkspaceLimitsInCgroupfs runs the real envbox binary as `envbox
// docker` in a pod of a pure cgroup v2 machine (the one place here with cpu
// and memory controllers): the workspace container lands at
// <pod>/docker/<id> and its cpu.max and memory.max are the pod's 1.5 CPUs
// and 768 MiB, which envbox derived through the remounted cgroup root.
func TestWorkspaceLimitsInCgroupfs(t *testing.T) {
	g := prepareGuest(t)
	var programs []string
	for _, name := range dockerPrograms {
		p, err := exec.LookPath(name)
		if err != nil {
			unavailable(t, "%s is not installed (integration/deps.sh installs docker.io and util-linux): %v", name, err)
		}
		programs = append(programs, p)
	}
	envbox := buildStatic(t, g.dir, "envbox", "github.com/envbox/envbox/cmd/envbox")
	image := filepath.Join(g.dir, "workspace.tar")
	if err := WriteWorkspaceImage(image, g.busybox); err != nil {
		t.Fatal(err)
	}
	files := []File{
		{Path: "usr/local/bin/envbox", From: envbox, Mode: 0o755, Static: true},
		{Path: "images/workspace.tar", From: image, Mode: 0o644},
	}
	for _, m := range GuestModules {
		base := filepath.Base(m)
		files = append(files, File{Path: "modules/" + base, From: filepath.Join(g.kernel.Modules, base), Mode: 0o644})
	}
	initrd, err := BuildInitramfs(g.dir, Guest{
		Busybox: g.busybox, Helper: g.helper, Init: WorkspaceInitScript, Files: files, Programs: programs,
	})
	if err != nil {
		t.Fatal(err)
	}
	con := boot(t, Boot{Kernel: g.kernel.Image, Initramfs: initrd, MemMiB: 1536, CPUs: 2, Timeout: 8 * time.Minute})
	kv, ok := con.Results["ws"]
	if !ok {
		t.Fatal("no RESULT line for ws")
	}
	for _, key := range sortedKeys(kv) {
		if key != "log_tail" {
			t.Logf("%s = %q", key, kv[key])
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("envbox's last log lines:\n%s", kv["log_tail"])
		}
	})
	r := result{t: t, name: "ws", kv: kv}
	r.want("modules", "ok")
	r.want("import_rc", "0")
	r.want("prime_rc", "0")

	id := r.get("id")
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("workspace container ID = %q, want 64 hex digits (envbox log tail:\n%s)", id, kv["log_tail"])
	}
	// Attribution: the workspace and nothing else under <pod>/docker; envbox
	// and dockerd in the pod's /init leaf; the pod root empty.
	r.want("docker_children", id+"/")
	r.want("workspace_comm", "sleep")
	r.want("workspace_cgroup", "0::/pod/docker/"+id)
	r.want("envbox_cgroup", "0::/pod/init")
	r.want("dockerd_cgroup", "0::/pod/init")
	r.want("pod_procs", "")
	r.want("pod_subtree_control", allControllers)
	// The limits, as the kernel holds them for the workspace.
	r.want("cpu_max", "150000 100000")
	r.want("memory_max", "805306368")
	checkCreateLine(t, r.get("create_line"))

	r.want("boot_user", "coder")
	r.want("bootstrap_done", "1")
	r.want("boot_token", vmToken)
	r.want("token_in_log", "0")

	r.want("envbox_rc", "0")
	r.want("procs_after", "")
	term, errT := strconv.ParseFloat(r.get("term_uptime"), 64)
	exit, errE := strconv.ParseFloat(r.get("exit_uptime"), 64)
	if errT != nil || errE != nil {
		t.Fatalf("uptimes: %v %v", errT, errE)
	}
	// ENVBOX_STOP_GRACE=10s for the workspace, then dockerd's own grace.
	t.Logf("envbox docker exited %.2f s after SIGTERM", exit-term)
	if exit-term > 40 {
		t.Errorf("envbox docker took %.2f s to exit after SIGTERM, want under 40 s", exit-term)
	}
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
