package vm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/envbox/envbox/embed"
)

// allControllers is cgroup.controllers of the Debian 6.1 kernel's root with
// cgroup_no_v1=all, as read in the guest.
const allControllers = "cpuset cpu io memory hugetlb pids rdma misc"

// bootOnce boots the guest once for all scenarios and returns its console.
func bootOnce(t *testing.T) (Console, Kernel) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a qemu VM (about 10 s under TCG plus the first kernel download); skipped with -short")
	}
	for _, bin := range []string{"qemu-system-x86_64", "apt-cache", "apt-get", "dpkg-deb", "xz", "cpio"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (integration/deps.sh installs it): %v", bin, err)
		}
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil || checkStatic(busybox) != nil {
		t.Skipf("no static busybox (Debian busybox-static) in PATH: %v %v", err, checkStatic(busybox))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	k, err := EnsureKernel(ctx, cacheDir())
	if err != nil {
		t.Skipf("no Debian kernel for the VM: %v", err)
	}
	t.Logf("kernel %s ready in %s: %s", k.Package, time.Since(start).Round(time.Millisecond), k.Image)
	dir := t.TempDir()
	helper := buildHelper(t, dir)
	initrd, err := BuildInitramfs(dir, Guest{
		Busybox: busybox, Helper: helper,
		Init: InitScript, Target: TargetScript, Delegate: embed.DelegateScript,
	})
	if err != nil {
		t.Fatal(err)
	}
	boot := Boot{Kernel: k.Image, Initramfs: initrd, MemMiB: 512, CPUs: 1, Timeout: 3 * time.Minute}
	start = time.Now()
	out, err := boot.Run(ctx)
	t.Logf("VM ran for %s", time.Since(start).Round(time.Millisecond))
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
	return con, k
}

func cacheDir() string {
	if d := os.Getenv("ENVBOX_VM_CACHE"); d != "" {
		return d
	}
	return DefaultCacheDir
}

// buildHelper compiles ./helper static for the guest.
func buildHelper(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "vmhelper")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./helper")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./helper: %v\n%s", err, b)
	}
	return out
}

func TestPureCgroupV2(t *testing.T) {
	con, _ := bootOnce(t)
	for name, kv := range con.Results {
		t.Logf("%s:", name)
		for k, v := range kv {
			t.Logf("  %s = %q", k, v)
		}
	}
}
