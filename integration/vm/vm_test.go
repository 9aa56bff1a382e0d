package vm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envbox/envbox/embed"
	"github.com/envbox/envbox/integration/cgtest"
)

// allControllers is cgroup.controllers of the Debian 6.1 kernel's root with
// cgroup_no_v1=all, as read in the guest.
const allControllers = "cpuset cpu io memory hugetlb pids rdma misc"

// bootOnce boots the guest once for all scenarios and returns its console.
func bootOnce(t *testing.T) (Console, Kernel) {
	t.Helper()
	g := prepareGuest(t)
	var shells []string
	for _, sh := range []string{"/bin/dash", "/bin/bash"} {
		if _, err := os.Stat(sh); err == nil {
			shells = append(shells, sh)
		}
	}
	initrd, err := BuildInitramfs(g.dir, Guest{
		Busybox: g.busybox, Helper: g.helper, Init: InitScript,
		Files: []File{
			{Path: "bin/target", Text: TargetScript, Mode: 0o755},
			{Path: "bin/envbox-sim", Text: EnvboxSimScript, Mode: 0o755},
			{Path: "delegate.sh", Text: embed.DelegateScript, Mode: 0o644},
		},
		Programs: shells,
	})
	if err != nil {
		t.Fatal(err)
	}
	con, _ := boot(t, Boot{Kernel: g.kernel.Image, Initramfs: initrd, MemMiB: 512, CPUs: 1, Timeout: 3 * time.Minute})
	return con, g.kernel
}

// preparedGuest is what every VM test needs before it builds its initramfs.
type preparedGuest struct {
	kernel          Kernel
	dir             string
	busybox, helper string
}

// prepareGuest skips under -short, checks the host tools, fetches the
// kernel (cached) and builds vmhelper.
func prepareGuest(t *testing.T) preparedGuest {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a qemu VM (about 10 s under TCG plus the first kernel download); skipped with -short")
	}
	for _, bin := range []string{"qemu-system-x86_64", "apt-cache", "apt-get", "dpkg-deb", "xz", "cpio"} {
		if _, err := exec.LookPath(bin); err != nil {
			cgtest.Unavailable(t, "%s is not installed (integration/deps.sh installs it): %v", bin, err)
		}
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil || checkStatic(busybox) != nil {
		cgtest.Unavailable(t, "no static busybox (Debian busybox-static) in PATH: %v %v", err, checkStatic(busybox))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	k, err := EnsureKernel(ctx, cacheDir())
	if err != nil {
		cgtest.Unavailable(t, "no Debian kernel for the VM: %v", err)
	}
	t.Logf("kernel %s ready in %s: %s", k.Package, time.Since(start).Round(time.Millisecond), k.Image)
	dir := t.TempDir()
	return preparedGuest{kernel: k, dir: dir, busybox: busybox, helper: buildStatic(t, dir, "vmhelper", "./helper")}
}

// boot runs b and parses the console, which it also returns raw; the
// console is logged when the test fails.
func boot(t *testing.T, b Boot) (Console, []byte) {
	t.Helper()
	con, out, err := bootFrozen(t, b)
	if err != nil {
		t.Fatalf("%v\nconsole:\n%s", err, out)
	}
	return con, out
}

// bootFrozen is boot, except that a guest killed for a silent console
// (Boot.Silence) comes back as an ErrSilent error with its console, for
// the caller to boot once more.
func bootFrozen(t *testing.T, b Boot) (Console, []byte, error) {
	t.Helper()
	start := time.Now()
	out, err := b.Run(context.Background())
	t.Logf("VM ran for %s", time.Since(start).Round(time.Millisecond))
	if errors.Is(err, ErrSilent) {
		return Console{}, out, err
	}
	if err != nil {
		t.Fatalf("%v\nconsole:\n%s", err, out)
	}
	con, err := ParseConsole(out)
	if err != nil || !con.Done {
		t.Fatalf("console parse error %v, DONE seen %t\nconsole:\n%s", err, con.Done, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("console:\n%s", out)
		}
	})
	return con, out, nil
}

func cacheDir() string {
	if d := os.Getenv("ENVBOX_VM_CACHE"); d != "" {
		return d
	}
	return DefaultCacheDir
}

// buildStatic compiles pkg static for the guest as dir/name.
func buildStatic(t *testing.T, dir, name, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// TestPureCgroupV2 boots the guest once; each subtest asserts one scenario
// of guest/init.sh from the values it printed.
func TestPureCgroupV2(t *testing.T) {
	con, k := bootOnce(t)
	res := func(t *testing.T, name string) result {
		t.Helper()
		kv, ok := con.Results[name]
		if !ok {
			t.Fatalf("no RESULT line for scenario %s", name)
		}
		for _, key := range sortedKeys(kv) {
			t.Logf("%s = %q", key, kv[key])
		}
		return result{t: t, name: name, kv: kv}
	}

	t.Run("no_delegation_ebusy", func(t *testing.T) {
		r := res(t, "s1_no_delegation")
		r.want("controllers", allControllers)
		r.want("procs_count", "1")
		r.want("write_with_procs", "EBUSY")
		r.want("write_after_move", "ok")
		r.want("subtree_control", "memory")
	})

	// Scenarios 2 and 5a run under busybox ash (/bin/sh), dash and bash.
	shells := []struct{ name, suffix, path string }{
		{"busybox_ash", "", "/bin/sh"}, {"dash", "_dash", "/bin/dash"}, {"bash", "_bash", "/bin/bash"},
	}
	underShells := func(t *testing.T, scenario string, check func(r result)) {
		for _, sh := range shells {
			t.Run(sh.name, func(t *testing.T) {
				if _, ok := con.Results[scenario+sh.suffix]; !ok && sh.suffix != "" {
					cgtest.Unavailable(t, "%s is not on this host, so not in the guest (integration/deps.sh installs it)", sh.path)
				}
				r := res(t, scenario+sh.suffix)
				r.want("shell", sh.path)
				check(r)
			})
		}
	}

	t.Run("delegation_in_pod", func(t *testing.T) {
		underShells(t, "s2_delegate", func(r result) {
			r.want("procs_before", "3")
			r.want("rc", "0")
			r.want("stderr", "")
			r.want("ns_self_cgroup", "0::/init")
			r.want("ns_controllers", allControllers)
			r.want("ns_subtree_control", allControllers)
			r.want("ns_root_procs", "")
			r.wantMount("ns_mountinfo", "/", "/sys/fs/cgroup", "rw")
			r.want("host_procs", "")
			r.want("host_init_procs_count", "3")
			r.want("host_subtree_control", allControllers)
			r.want("host_sleeper_cgroup", "0::/"+r.name+"/init")
		})
	})

	t.Run("pod_limits_hold_for_nested", func(t *testing.T) {
		r := res(t, "s3_limits")
		r.want("rc", "0")
		r.want("ns_subtree_control", allControllers)
		// The 100 MiB hog in docker/<id> dies by SIGKILL (128+9) at the
		// pod's 32 MiB before it can print "survived".
		r.want("ns_hog_rc", "137")
		r.want("ns_hog_out", "")
		r.wantAtLeast("ns_nested_memory_events", "oom_kill", 1)
		r.wantAtLeast("ns_root_memory_events", "oom", 1)
		r.wantAtLeast("host_memory_events", "oom_kill", 1)
		// pids.max 24 on the pod caps forks in the nested cgroup; 6.1
		// counts the refused fork in the forking cgroup's pids.events.
		r.want("ns_root_pids_max", "24")
		r.wantAtLeast("ns_nested_pids_events", "max", 1)
		r.wantAtMost("ns_nested_pids_current", 24)
		r.wantContains("ns_fork_out", "can't fork: Resource temporarily unavailable")
		// On the host, dockerd-style cgroups are under the pod.
		r.want("host_nested", "3f4c0de1a2b5/ 9a8b7c6d5e4f/")
	})

	t.Run("cpu_quota_read_in_namespace", func(t *testing.T) {
		r := res(t, "s4_cpu_quota")
		r.want("rc", "0")
		r.want("host_cpu_max", "50000 100000")
		r.want("ns_root_cpu_max", "50000 100000")
		r.want("ns_init_cpu_max", "max 100000")
		self, dir, _ := strings.Cut(r.kv["ns_quota"], "\n")
		// A cgroup directory not visible in the remounted tree falls back
		// to the namespace root, the pod.
		if want := "dir cpus=0.5 unlimited=false source=/sys/fs/cgroup/cpu.max"; dir != want {
			t.Errorf("xunix.ReadCPUQuotaV2(missing dir) in the namespace = %q, want %q", dir, want)
		}
		// The process lives in /init ("max"); the pod's limit is on the
		// namespace root, and the effective reader walks up to it.
		if want := "self cpus=0.5 unlimited=false source=/sys/fs/cgroup/cpu.max"; self != want {
			t.Errorf("xunix.ReadEffectiveCPUQuota(self) in the namespace = %q, want %q", self, want)
		}
	})

	t.Run("envbox_default_mode_limits", func(t *testing.T) {
		r := res(t, "s4b_envbox_default_mode")
		r.want("sim_rc", "0")
		r.want("sim_stderr", "")
		r.want("wrapper_rc", "0")
		r.want("wrapper_stderr", "")
		r.want("ns_subtree_control", allControllers)
		// envbox itself was in the pod root, so the script moved it too.
		r.want("envbox_cgroup_before", "0::/")
		r.want("envbox_cgroup_after", "0::/init")
		r.want("envbox_root_procs_after", "")
		// The pod's limits: 0.5 CPU, 64 MiB.
		const want = "cpu cpus=0.5 unlimited=false source=/sys/fs/cgroup/cpu.max\n" +
			"memory bytes=67108864 unlimited=false source=/sys/fs/cgroup/memory.max"
		r.want("envbox_limits_before", want)
		// After the wrapper ran envbox lives in /init, which has no limits
		// of its own: the pod's still apply and are what envbox reads.
		r.want("envbox_limits_after", want)
	})

	t.Run("persistent_failure_threaded_subtree", func(t *testing.T) {
		underShells(t, "s5_threaded", func(r result) {
			r.want("host_type", "domain threaded")
			// ENOTSUP and EOPNOTSUPP are the same errno (95) on Linux.
			r.want("probe_memory", "ENOTSUP")
			r.want("rc", "1")
			// Bounded (ENVBOX_DELEGATE_ATTEMPTS=3), named, with the reason.
			for _, part := range []string{
				"envbox-delegate: gave up after 3 attempts",
				"Operation not supported",
				"io", "memory", "hugetlb", "rdma", "misc",
			} {
				r.wantContains("stderr", part)
			}
			// What it could enable (threaded controllers) it left enabled.
			r.want("host_subtree_control", "cpuset cpu pids")
		})
	})

	t.Run("realtime_task_without_rt_group_sched", func(t *testing.T) {
		cfg, err := os.ReadFile(k.Config)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(cfg), "\n# CONFIG_RT_GROUP_SCHED is not set\n") {
			t.Fatalf("%s: CONFIG_RT_GROUP_SCHED is set: extend the VM test to expect EINVAL for +cpu", k.Config)
		}
		r := res(t, "s5_realtime")
		r.want("sched", "SCHED_FIFO 10")
		r.want("rc", "0")
		r.want("host_subtree_control", allControllers)
	})

	t.Run("churn_in_pod", func(t *testing.T) {
		r := res(t, "s6_churn")
		r.wantAtLeast("procs_before", "", 3)
		r.want("rc", "0")
		r.want("stderr", "")
		r.want("ns_root_procs", "")
		r.want("host_procs_after", "")
		r.want("ns_subtree_control", allControllers)
	})

	t.Run("churn_injected_from_outside", func(t *testing.T) {
		r := res(t, "s6_injected")
		// Once the root delegates memory, the kernel refuses every new
		// process there (no internal processes): EBUSY keeps it empty.
		if got := r.get("injected_errnos"); got != "" && got != "EBUSY" {
			t.Errorf("injections refused with %q, want only EBUSY", got)
		}
		switch r.kv["rc"] {
		case "0":
			r.want("injected_errnos", "EBUSY")
			r.want("stderr", "")
			r.want("ns_subtree_control", allControllers)
		case "1":
			r.wantContains("stderr", "envbox-delegate: gave up after 5 attempts")
			r.wantContains("stderr", "pids still in /sys/fs/cgroup: ")
		default:
			t.Errorf("rc = %q, want 0 (converged) or 1 (gave up loudly)", r.kv["rc"])
		}
	})

	t.Run("mount_options_survive_remount", func(t *testing.T) {
		r := res(t, "s7_mount_options")
		const opts = "rw,nsdelegate,memory_localevents,memory_recursiveprot"
		r.want("remount_rc", "0")
		r.wantMount("host_before_remount", "/", "/sys/fs/cgroup", "rw")
		r.wantMount("host_before", "/", "/sys/fs/cgroup", opts)
		r.want("rc", "0")
		r.want("stderr", "")
		r.want("ns_subtree_control", allControllers)
		r.wantMount("ns_mountinfo", "/", "/sys/fs/cgroup", opts)
		r.wantMount("host_after", "/", "/sys/fs/cgroup", opts)
		// Control: the same remount without a new cgroup namespace resets
		// them, so this test would see a script that lost them.
		r.want("control_rc", "0")
		r.wantMount("host_after_control", "/", "/sys/fs/cgroup", "rw")
	})
}

// result holds one scenario's values and asserts on them.
type result struct {
	t    *testing.T
	name string
	kv   map[string]string
}

func (r result) get(key string) string {
	r.t.Helper()
	v, ok := r.kv[key]
	if !ok {
		r.t.Errorf("no result %q", key)
	}
	return v
}

func (r result) want(key, want string) {
	r.t.Helper()
	if got := r.get(key); got != want {
		r.t.Errorf("%s = %q, want %q", key, got, want)
	}
}

func (r result) wantContains(key, part string) {
	r.t.Helper()
	if got := r.get(key); !strings.Contains(got, part) {
		r.t.Errorf("%s = %q, want it to contain %q", key, got, part)
	}
}

// number is the value of field in a flat-keyed cgroup file ("oom_kill 1"),
// or the whole value when field is empty.
func (r result) number(key, field string) int64 {
	r.t.Helper()
	v := r.get(key)
	for _, line := range strings.Split(v, "\n") {
		f := strings.Fields(line)
		var num string
		switch {
		case field == "" && len(f) == 1:
			num = f[0]
		case len(f) == 2 && f[0] == field:
			num = f[1]
		default:
			continue
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			r.t.Errorf("%s field %q in %q: %v", key, field, v, err)
		}
		return n
	}
	r.t.Errorf("%s = %q has no field %q", key, v, field)
	return -1
}

func (r result) wantAtLeast(key, field string, min int64) {
	r.t.Helper()
	if n := r.number(key, field); n < min {
		r.t.Errorf("%s %s = %d, want >= %d (in %q)", key, field, n, min, r.kv[key])
	}
}

func (r result) wantAtMost(key string, max int64) {
	r.t.Helper()
	if n := r.number(key, ""); n > max {
		r.t.Errorf("%s = %d, want <= %d", key, n, max)
	}
}

// wantMount checks a cgroup2 mountinfo line: the root of the mount (relative
// to the reader's cgroup namespace), its mount point and the super options
// (the field after " - cgroup2 <source> ").
func (r result) wantMount(key, root, point, superOpts string) {
	r.t.Helper()
	line := r.get(key)
	before, after, ok := strings.Cut(line, " - ")
	mnt, super := strings.Fields(before), strings.Fields(after)
	if !ok || len(mnt) < 5 || len(super) != 3 || super[0] != "cgroup2" {
		r.t.Errorf("%s = %q is not a cgroup2 mountinfo line", key, line)
		return
	}
	if mnt[3] != root || mnt[4] != point || super[2] != superOpts {
		r.t.Errorf("%s = %q: root %q mount point %q super options %q, want %q %q %q",
			key, line, mnt[3], mnt[4], super[2], root, point, superOpts)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
