package xunix_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"

	"github.com/envbox/envbox/integration/cgtest"
	"github.com/envbox/envbox/xunix"
)

// The real-kernel tests are an external test package: they use cgtest,
// which imports xunix.

// isCgroup2 reports whether dir is a cgroup2 mount, by filesystem magic:
// independent of the mountinfo parsing under test.
func isCgroup2(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// TestRealMachineCgroup2Dir resolves the test process's own cgroup2
// directory from the real /proc through afero.NewOsFs, and proves it by
// finding the process's PID in that directory's cgroup.procs.
func TestRealMachineCgroup2Dir(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the real /proc and /sys/fs/cgroup; skipped under -short")
	}
	root := cgtest.CheckRoot(t)
	wantMode := xunix.CgroupHybrid // cgroup2 beside the v1 hierarchies: this development machine, CI
	if isCgroup2(xunix.CgroupRoot) {
		wantMode = xunix.CgroupV2
	}
	fsys := afero.NewOsFs()
	p, err := xunix.ReadProcCgroup(fsys, "self")
	if err != nil {
		t.Fatalf("ReadProcCgroup(self): %v", err)
	}
	dir, err := ownDir(p)
	if err != nil {
		t.Fatalf("V2Chain: %v", err)
	}
	if !isCgroup2(dir) {
		t.Errorf("V2Chain()[0] = %q, which is not on a cgroup2 filesystem", dir)
	}
	procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil || !slices.Contains(strings.Fields(string(procs)), strconv.Itoa(os.Getpid())) {
		t.Errorf("%s/cgroup.procs = %q, %v; want it to list this process %d", dir, procs, err, os.Getpid())
	}
	if mode, err := xunix.CgroupModeOf(p.Mounts); mode != wantMode || err != nil {
		t.Errorf("CgroupModeOf(/proc/self/mountinfo) = %q, %v; want %q", mode, err, wantMode)
	}
	t.Logf("cgroup2 directory of pid %d: %s (mode %s, test cgroups under %s)", os.Getpid(), dir, wantMode, root)
}

// TestRealMachineLimits reads this process's effective CPU quota and memory
// limit from the real cgroupfs and compares each with the raw file it names
// as its source, read directly.
func TestRealMachineLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the real /proc and /sys/fs/cgroup; skipped under -short")
	}
	fsys := afero.NewOsFs()
	q, err := xunix.ReadEffectiveCPUQuota(fsys, "self")
	if err != nil {
		cgtest.Unavailable(t, "no CPU quota file in this process's cgroup or its ancestors (no cpu controller mounted?): %v", err)
	}
	first := strings.Fields(readFile(t, q.Source))[0] // cpu.max "max …" or cfs quota
	if q.Unlimited != (first == "max" || first == "-1") || (!q.Unlimited && strconv.FormatInt(q.Quota, 10) != first) {
		t.Errorf("ReadEffectiveCPUQuota = %+v, but %s holds %q", q, q.Source, first)
	}
	m, err := xunix.ReadEffectiveMemoryLimit(fsys, "self")
	if err != nil {
		cgtest.Unavailable(t, "no memory limit file in this process's cgroup or its ancestors (no memory controller mounted?): %v", err)
	}
	if v := strings.TrimSpace(readFile(t, m.Source)); !m.Unlimited && strconv.FormatInt(m.Bytes, 10) != v {
		t.Errorf("ReadEffectiveMemoryLimit = %+v, but %s holds %q", m, m.Source, v)
	}
	t.Logf("effective cpu %+v; memory %+v", q, m)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

// TestRealNamespaceView runs this test binary inside a fresh test cgroup
// with its own cgroup and mount namespaces (cgtest: cgroup2 mounted over
// /sys/fs/cgroup, rooted at the test cgroup). There TestMain plays
// namespaceHelper: it moves itself into init/ (the delegation layout) and
// reports what xunix resolves: its own directory, that the parent test
// process is outside the namespace, and the error of a limit read on a
// cgroup2 without controllers.
func TestRealNamespaceView(t *testing.T) {
	if testing.Short() {
		t.Skip("creates a cgroup and namespaces; skipped under -short")
	}
	cg := cgtest.New(t)
	cmd := cg.Command(context.Background(), os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper in %s: %v\n%s", cg.Path, err, out)
	}
	want := strings.Join([]string{
		"xunix mode=v2",
		"xunix self=/sys/fs/cgroup/init err=<nil>",
		`xunix parent= err=cgroup2 path "/..": cgroup not below any mount of its hierarchy: file does not exist`,
		"xunix cpu err=read cpu.max: own cgroup: open /sys/fs/cgroup/init/cpu.max: no such file or directory; namespace root: open /sys/fs/cgroup/cpu.max: no such file or directory",
		"xunix effective cpu err=no cpu.max in /sys/fs/cgroup/init or its 1 ancestors: file does not exist",
	}, "\n") + "\n"
	if string(out) != want {
		t.Errorf("helper printed\n%s\nwant\n%s", out, want)
	}
	if procs, err := cg.Procs("init"); err != nil || len(procs) != 0 {
		t.Errorf("init/cgroup.procs after the helper exited = %v, %v; want empty", procs, err)
	}
}

// helperEnv makes the test binary, re-executed by TestRealNamespaceView
// inside a test cgroup, play namespaceHelper instead of running the tests.
const helperEnv = "ENVBOX_XUNIX_NS_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		if err := namespaceHelper(); err != nil {
			fmt.Fprintf(os.Stderr, "namespace helper: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// namespaceHelper runs where cgtest's guard proved /sys/fs/cgroup is the
// test cgroup, and prints what xunix sees there, one "xunix" line each.
func namespaceHelper() error {
	if err := os.Mkdir("/sys/fs/cgroup/init", 0o755); err != nil {
		return err
	}
	if err := os.WriteFile("/sys/fs/cgroup/init/cgroup.procs", []byte("0"), 0); err != nil {
		return err
	}
	fsys := afero.NewOsFs()
	self, err := xunix.ReadProcCgroup(fsys, "self")
	if err != nil {
		return err
	}
	mode, err := xunix.CgroupModeOf(self.Mounts)
	fmt.Printf("xunix mode=%s%s\n", mode, errSuffix(err))
	dir, err := ownDir(self)
	fmt.Printf("xunix self=%s err=%v\n", dir, err)
	parent, err := xunix.ReadProcCgroup(fsys, strconv.Itoa(os.Getppid()))
	if err != nil {
		return err
	}
	pdir, err := ownDir(parent)
	fmt.Printf("xunix parent=%s err=%v\n", pdir, err)
	_, err = xunix.ReadCPUQuotaV2(fsys, dir)
	fmt.Printf("xunix cpu err=%v\n", err)
	_, err = xunix.ReadEffectiveCPUQuota(fsys, "self")
	fmt.Printf("xunix effective cpu err=%v\n", err)
	return nil
}

// ownDir is the process's own cgroup2 directory: the first of its chain.
func ownDir(p xunix.ProcCgroup) (string, error) {
	chain, err := p.V2Chain()
	if err != nil {
		return "", err
	}
	return chain[0], nil
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return " err=" + err.Error()
}
