package cgtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"

	"github.com/envbox/envbox/xunix"
)

// RootEnv names the variable that sets Root.
const RootEnv = "ENVBOX_TEST_CGROUP2_ROOT"

// Root is the cgroup2 mount point test cgroups are created under (see
// findRoot); rootFrom says where it came from. Root is "" when none was
// found; CheckRoot then reports why.
var Root, rootFrom, rootErr = findRoot(os.LookupEnv, func() ([]xunix.Mount, error) {
	return xunix.ParseMountinfoFile(afero.NewOsFs(), mountinfo)
})

const mountinfo = "/proc/self/mountinfo"

// findRoot picks the test root: the value of RootEnv, an absolute path, when
// set; else, among the mounts, the cgroup2 mount at /sys/fs/cgroup (a pure
// v2 host), else the first cgroup2 mount listed (a hybrid host:
// /sys/fs/cgroup/unified). from is RootEnv or mountinfo.
func findRoot(lookup func(string) (string, bool), mounts func() ([]xunix.Mount, error)) (root, from string, err error) {
	if v, ok := lookup(RootEnv); ok {
		if !filepath.IsAbs(v) {
			return "", RootEnv, fmt.Errorf("%s=%q: want the absolute path of a cgroup2 mount", RootEnv, v)
		}
		return filepath.Clean(v), RootEnv, nil
	}
	ms, err := mounts()
	if err != nil {
		return "", mountinfo, fmt.Errorf("find a cgroup2 mount for test cgroups (or set %s): %w", RootEnv, err)
	}
	for _, m := range ms {
		if m.FSType != "cgroup2" {
			continue
		}
		if m.MountPoint == xunix.CgroupRoot {
			return m.MountPoint, mountinfo, nil
		}
		if root == "" {
			root = m.MountPoint
		}
	}
	if root == "" {
		return "", mountinfo, fmt.Errorf("no cgroup2 mount among the %d of %s (set %s to one)", len(ms), mountinfo, RootEnv)
	}
	return root, mountinfo, nil
}

// CheckRoot returns Root once it is proven to be a cgroup2 mount point
// (filesystem magic, and a parent on another filesystem), independently of
// the mountinfo parser. When it is not, the test is Unavailable.
func CheckRoot(t testing.TB) string {
	t.Helper()
	if err := checkMountPoint(Root, rootFrom, rootErr); err != nil {
		Unavailable(t, "cgtest: %v", err)
	}
	return Root
}

// checkMountPoint proves root (found in from, or not: findErr) is a cgroup2
// mount point.
func checkMountPoint(root, from string, findErr error) error {
	if findErr != nil {
		return findErr
	}
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return fmt.Errorf("test cgroup2 root %s (from %s): statfs: %w", root, from, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("test cgroup2 root %s (from %s) is not a cgroup2 mount (fs magic %#x)", root, from, st.Type)
	}
	var dir, parent unix.Stat_t
	if err := errors.Join(unix.Stat(root, &dir), unix.Stat(filepath.Dir(root), &parent)); err != nil {
		return fmt.Errorf("test cgroup2 root %s (from %s): stat: %w", root, from, err)
	}
	if dir.Dev == parent.Dev {
		return fmt.Errorf("test cgroup2 root %s (from %s) is a directory inside a cgroup2 mount, not its mount point", root, from)
	}
	return nil
}

// Unavailable skips a test this machine cannot run, with the reason, except
// under CI=true: CI installs and provides everything the tests need, so
// there the test fails instead of passing by skipping.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	unavailable(t, os.Getenv("CI") == "true", format, args...)
}

func unavailable(t testing.TB, ci bool, format string, args ...any) {
	t.Helper()
	if ci {
		t.Fatalf("CI=true but this test cannot run here: "+format, args...)
		return
	}
	t.Skipf(format, args...)
}
