package cgtest

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/envbox/envbox/xunix"
)

func TestFindRoot(t *testing.T) {
	t.Parallel()
	// Mount points and types as on this project's hybrid CI machine (tmpfs
	// at /sys/fs/cgroup, v1 hierarchies in it, cgroup2 at unified) and in
	// the pure v2 VM.
	var (
		tmpfs   = xunix.Mount{MountPoint: "/sys/fs/cgroup", FSType: "tmpfs"}
		v1cpu   = xunix.Mount{MountPoint: "/sys/fs/cgroup/cpu,cpuacct", FSType: "cgroup"}
		unified = xunix.Mount{MountPoint: "/sys/fs/cgroup/unified", FSType: "cgroup2"}
		v2      = xunix.Mount{MountPoint: "/sys/fs/cgroup", FSType: "cgroup2"}
		other   = xunix.Mount{MountPoint: "/mnt/cg2", FSType: "cgroup2"}
	)
	tests := []struct {
		name    string
		env     map[string]string
		mounts  []xunix.Mount
		readErr error
		want    string
		wantErr string
	}{
		{name: "hybrid", mounts: []xunix.Mount{tmpfs, v1cpu, unified}, want: "/sys/fs/cgroup/unified"},
		{name: "pure_v2", mounts: []xunix.Mount{v2}, want: "/sys/fs/cgroup"},
		{name: "sys_fs_cgroup_wins_over_earlier", mounts: []xunix.Mount{other, v2}, want: "/sys/fs/cgroup"},
		{name: "first_elsewhere", mounts: []xunix.Mount{v1cpu, other, unified}, want: "/mnt/cg2"},
		{name: "env_wins", env: map[string]string{RootEnv: "/mnt/cg2/"}, mounts: []xunix.Mount{v2}, want: "/mnt/cg2"},
		{name: "env_is_not_checked_against_mounts", env: map[string]string{RootEnv: "/nonexistent"}, readErr: os.ErrPermission, want: "/nonexistent"},
		{name: "env_empty", env: map[string]string{RootEnv: ""}, wantErr: `ENVBOX_TEST_CGROUP2_ROOT="": want the absolute path of a cgroup2 mount`},
		{name: "env_relative", env: map[string]string{RootEnv: "sys/fs/cgroup"}, wantErr: `ENVBOX_TEST_CGROUP2_ROOT="sys/fs/cgroup": want the absolute path of a cgroup2 mount`},
		{name: "v1_only", mounts: []xunix.Mount{tmpfs, v1cpu}, wantErr: "no cgroup2 mount among the 2 of /proc/self/mountinfo (set ENVBOX_TEST_CGROUP2_ROOT to one)"},
		{name: "mountinfo_unreadable", readErr: errors.New("open /proc/self/mountinfo: permission denied"), wantErr: "find a cgroup2 mount for test cgroups (or set ENVBOX_TEST_CGROUP2_ROOT): open /proc/self/mountinfo: permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			wantFrom := "/proc/self/mountinfo"
			if _, ok := tt.env[RootEnv]; ok {
				wantFrom = RootEnv
			}
			got, from, err := findRoot(lookup, func() ([]xunix.Mount, error) { return tt.mounts, tt.readErr })
			if got != tt.want || from != wantFrom || errString(err) != tt.wantErr {
				t.Errorf("findRoot(env %q, mounts %+v) = %q, %q, %q; want %q, %q, %q", tt.env, tt.mounts, got, from, errString(err), tt.want, wantFrom, tt.wantErr)
			}
		})
	}
}

// TestCheckMountPoint covers the failures any Linux machine can show;
// TestCommandRunsInsideCgroup covers a real mount point and a directory
// below it.
func TestCheckMountPoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, root string
		findErr    error
		wantErr    string
	}{
		{name: "find_failed", findErr: errors.New("no cgroup2 mount"), wantErr: "no cgroup2 mount"},
		{name: "missing", root: "/nonexistent/envbox", wantErr: "test cgroup2 root /nonexistent/envbox (from ENVBOX_TEST_CGROUP2_ROOT): statfs: no such file or directory"},
		{name: "not_cgroup2", root: "/proc", wantErr: "test cgroup2 root /proc (from ENVBOX_TEST_CGROUP2_ROOT) is not a cgroup2 mount (fs magic 0x9fa0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := checkMountPoint(tt.root, RootEnv, tt.findErr); errString(err) != tt.wantErr {
				t.Errorf("checkMountPoint(%q, %s, %v) = %q, want %q", tt.root, RootEnv, tt.findErr, errString(err), tt.wantErr)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ci   bool
		want string
	}{
		{ci: false, want: "skip: no dash: not found"},
		{ci: true, want: "fatal: CI=true but this test cannot run here: no dash: not found"},
	} {
		r := &recordTB{}
		unavailable(r, tt.ci, "no %s: %v", "dash", errors.New("not found"))
		if r.got != tt.want {
			t.Errorf("unavailable(ci %t) did %q, want %q", tt.ci, r.got, tt.want)
		}
	}
}

// recordTB records the Skipf or Fatalf it gets instead of ending a test.
type recordTB struct {
	testing.TB
	got string
}

func (r *recordTB) Helper() {}
func (r *recordTB) Skipf(format string, args ...any) {
	r.got = "skip: " + fmt.Sprintf(format, args...)
}
func (r *recordTB) Fatalf(format string, args ...any) {
	r.got = "fatal: " + fmt.Sprintf(format, args...)
}
