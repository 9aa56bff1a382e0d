package xunix

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
)

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
		t.Skip("reads the real /proc and /sys/fs/cgroup; skipped by -short")
	}
	var wantMode CgroupMode
	var wantPrefix string
	switch {
	case isCgroup2("/sys/fs/cgroup/unified"): // this development machine, CI
		wantMode, wantPrefix = CgroupHybrid, "/sys/fs/cgroup/unified"
	case isCgroup2("/sys/fs/cgroup"):
		wantMode, wantPrefix = CgroupV2, "/sys/fs/cgroup"
	default:
		t.Skip("no cgroup2 mount at /sys/fs/cgroup/unified or /sys/fs/cgroup")
	}
	fsys := afero.NewOsFs()
	p, err := ReadProcCgroup(fsys, "self")
	if err != nil {
		t.Fatalf("ReadProcCgroup(self): %v", err)
	}
	dir, err := p.V2Dir()
	if err != nil {
		t.Fatalf("V2Dir: %v", err)
	}
	if dir != wantPrefix && !strings.HasPrefix(dir, wantPrefix+"/") {
		t.Errorf("V2Dir() = %q, want %s or below", dir, wantPrefix)
	}
	procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil || !slices.Contains(strings.Fields(string(procs)), strconv.Itoa(os.Getpid())) {
		t.Errorf("%s/cgroup.procs = %q, %v; want it to list this process %d", dir, procs, err, os.Getpid())
	}
	if mode, err := DetectCgroupMode(fsys); mode != wantMode || err != nil {
		t.Errorf("DetectCgroupMode() = %q, %v; want %q", mode, err, wantMode)
	}
	t.Logf("cgroup2 directory of pid %d: %s (mode %s)", os.Getpid(), dir, wantMode)
}

// TestRealMachineLimits reads this process's CPU quota and memory limit from
// the real cgroupfs and compares them with the raw files, read directly.
func TestRealMachineLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the real /proc and /sys/fs/cgroup; skipped by -short")
	}
	fsys := afero.NewOsFs()
	q, err := ReadCPUQuota(fsys, "self")
	if err != nil {
		t.Skipf("no readable CPU quota on this machine (a controller-less cgroup2?): %v", err)
	}
	raw, err := os.ReadFile(q.Source)
	if err != nil {
		t.Fatalf("read %s: %v", q.Source, err)
	}
	first := strings.Fields(string(raw))[0] // cpu.max "max …" or cfs quota
	if q.Unlimited != (first == "max" || first == "-1") || (!q.Unlimited && strconv.FormatInt(q.Quota, 10) != first) {
		t.Errorf("ReadCPUQuota = %+v, but %s holds %q", q, q.Source, raw)
	}
	m, err := ReadMemoryLimit(fsys, "self")
	if err != nil {
		t.Fatalf("ReadMemoryLimit(self): %v", err)
	}
	raw, err = os.ReadFile(m.Source)
	if err != nil {
		t.Fatalf("read %s: %v", m.Source, err)
	}
	if v := strings.TrimSpace(string(raw)); !m.Unlimited && strconv.FormatInt(m.Bytes, 10) != v {
		t.Errorf("ReadMemoryLimit = %+v, but %s holds %q", m, m.Source, raw)
	}
	eq, err := ReadEffectiveCPUQuota(fsys, "self")
	if err != nil || tighterCPU(q, eq) {
		t.Errorf("ReadEffectiveCPUQuota = %+v, %v; want no error and at least as tight as the own %+v", eq, err, q)
	}
	em, err := ReadEffectiveMemoryLimit(fsys, "self")
	if err != nil || tighterMemory(m, em) {
		t.Errorf("ReadEffectiveMemoryLimit = %+v, %v; want no error and at least as tight as the own %+v", em, err, m)
	}
	t.Logf("cpu %+v, effective %+v; memory %+v, effective %+v", q, eq, m, em)
}

// helperEnv makes the test binary, re-executed inside a test cgroup, run
// realNamespaceHelper instead of the tests.
const helperEnv = "ENVBOX_XUNIX_NS_HELPER"

// TestRealNamespaceView runs this test binary inside a fresh test cgroup
// with its own cgroup and mount namespaces (cgtest: cgroup2 mounted over
// /sys/fs/cgroup, rooted at the test cgroup). There the helper moves itself
// into init/ (the delegation layout) and reports what xunix resolves: its own
// directory, that the parent test process is outside the namespace, and the
// error of a limit read on a cgroup2 without controllers.
func TestRealNamespaceView(t *testing.T) {
	if testing.Short() {
		t.Skip("creates a cgroup and namespaces; skipped by -short")
	}
	cg := cgtest.New(t)
	cmd := cg.Command(context.Background(), os.Args[0], "-test.run=^TestRealNamespaceHelper$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper in %s: %v\n%s", cg.Path, err, out)
	}
	var got []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "xunix ") {
			got = append(got, line)
		}
	}
	want := []string{
		"xunix mode=v2",
		"xunix self=/sys/fs/cgroup/init err=<nil>",
		`xunix parent= err=cgroup2 path "/..": cgroup not below any mount of its hierarchy: file does not exist`,
		"xunix cpu err=read cpu.max: own cgroup: open /sys/fs/cgroup/init/cpu.max: no such file or directory; namespace root: open /sys/fs/cgroup/cpu.max: no such file or directory",
		"xunix effective cpu err=no cpu.max in /sys/fs/cgroup/init or its 1 ancestors: file does not exist",
	}
	if !slices.Equal(got, want) {
		t.Errorf("helper reported\n%s\nwant\n%s\nfull output:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}
	if procs, err := cg.Procs("init"); err != nil || len(procs) != 0 {
		t.Errorf("init/cgroup.procs after the helper exited = %v, %v; want empty", procs, err)
	}
}

// TestRealNamespaceHelper is the payload of TestRealNamespaceView; it does
// nothing unless started by it.
func TestRealNamespaceHelper(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process of TestRealNamespaceView")
	}
	// Guarded by cgtest: /sys/fs/cgroup is the test cgroup here.
	if err := os.Mkdir("/sys/fs/cgroup/init", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/sys/fs/cgroup/init/cgroup.procs", []byte("0"), 0); err != nil {
		t.Fatal(err)
	}
	fsys := afero.NewOsFs()
	mode, err := DetectCgroupMode(fsys)
	fmt.Printf("\nxunix mode=%s%s\n", mode, errSuffix(err))
	self, err := ReadProcCgroup(fsys, "self")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := self.V2Dir()
	fmt.Printf("xunix self=%s err=%v\n", dir, err)
	parent, err := ReadProcCgroup(fsys, strconv.Itoa(os.Getppid()))
	if err != nil {
		t.Fatal(err)
	}
	dir, err = parent.V2Dir()
	fmt.Printf("xunix parent=%s err=%v\n", dir, err)
	_, err = ReadCPUQuota(fsys, "self")
	fmt.Printf("xunix cpu err=%v\n", err)
	_, err = ReadEffectiveCPUQuota(fsys, "self")
	fmt.Printf("xunix effective cpu err=%v\n", err)
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return " err=" + err.Error()
}
