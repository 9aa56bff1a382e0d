package xunix

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

func mustMounts(t *testing.T, mountinfo string) []Mount {
	t.Helper()
	ms, err := parseMountinfo(strings.NewReader(mountinfo))
	if err != nil {
		t.Fatalf("parseMountinfo: %v", err)
	}
	return ms
}

func TestCgroupDir(t *testing.T) {
	t.Parallel()
	// A container without its own cgroup namespace: the runtime bind-mounts
	// the container's cgroup as /sys/fs/cgroup, so the mount root is deep.
	const boundRoot = "23 22 0:21 /kubepods/pod1/ctr /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n"
	// The same cgroup2 mounted twice: the deeper root is the more specific.
	const twoMounts = "23 22 0:21 / /mnt/all rw - cgroup2 cgroup2 rw\n24 22 0:21 /kubepods /mnt/pods rw - cgroup2 cgroup2 rw\n"
	nsWithoutOvermount := strings.Replace(nsMountinfo, "63 47 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n", "", 1)
	tests := []struct {
		name       string
		mountinfo  string
		controller string // "" = v2
		path       string
		want       string
		wantErr    string
	}{
		{name: "hybrid_v2_root", mountinfo: hybridMountinfo, path: "/", want: "/sys/fs/cgroup/unified"},
		{name: "hybrid_v1_memory", mountinfo: hybridMountinfo, controller: "memory", path: "/process_api/81cedb9f105fa229595f3f11417ccf13", want: "/sys/fs/cgroup/memory/process_api/81cedb9f105fa229595f3f11417ccf13"},
		{name: "hybrid_v1_cpu", mountinfo: hybridMountinfo, controller: "cpu", path: "/", want: "/sys/fs/cgroup/cpu"},
		{name: "hybrid_v1_named", mountinfo: hybridMountinfo, controller: "name=systemd", path: "/", want: "/sys/fs/cgroup/systemd"},
		{name: "hybrid_v1_unmounted_controller", mountinfo: hybridMountinfo, controller: "hugetlb", path: "/", wantErr: `cgroup v1 hugetlb path "/": cgroup not below any mount of its hierarchy: file does not exist`},
		{name: "v2_nested", mountinfo: v2Mountinfo, path: "/kubepods/pod1/ctr", want: "/sys/fs/cgroup/kubepods/pod1/ctr"},
		{name: "v2_has_no_v1", mountinfo: v2Mountinfo, controller: "cpu", path: "/", wantErr: `cgroup v1 cpu path "/": cgroup not below any mount of its hierarchy: file does not exist`},
		{name: "namespace_init", mountinfo: nsMountinfo, path: "/init", want: "/sys/fs/cgroup/init"},
		{name: "namespace_outside_process_hidden_mount", mountinfo: nsMountinfo, path: "/..", wantErr: `cgroup2 path "/..": cgroup not below any mount of its hierarchy: file does not exist`},
		{name: "namespace_outside_process_visible_mount", mountinfo: nsWithoutOvermount, path: "/..", want: "/sys/fs/cgroup/unified"},
		{name: "namespace_outside_sibling", mountinfo: nsWithoutOvermount, path: "/../envbox-test-2", want: "/sys/fs/cgroup/unified/envbox-test-2"},
		{name: "namespace_v1_hidden_by_cgroup2", mountinfo: nsMountinfo, controller: "cpu", path: "/", wantErr: `cgroup v1 cpu path "/": cgroup not below any mount of its hierarchy: file does not exist`},
		{name: "climbing_path_not_below_root_mount", mountinfo: v2Mountinfo, path: "/../x", wantErr: `cgroup2 path "/../x": cgroup not below any mount of its hierarchy: file does not exist`},
		{name: "bound_root_itself", mountinfo: boundRoot, path: "/kubepods/pod1/ctr", want: "/sys/fs/cgroup"},
		{name: "bound_root_child", mountinfo: boundRoot, path: "/kubepods/pod1/ctr/init", want: "/sys/fs/cgroup/init"},
		{name: "bound_root_parent_invisible", mountinfo: boundRoot, path: "/kubepods/pod1", wantErr: `cgroup2 path "/kubepods/pod1": cgroup not below any mount of its hierarchy: file does not exist`},
		{name: "bound_root_sibling_with_prefix_name", mountinfo: boundRoot, path: "/kubepods/pod1/ctr2", wantErr: `cgroup2 path "/kubepods/pod1/ctr2": cgroup not below any mount of its hierarchy: file does not exist`},
		{name: "deeper_root_wins", mountinfo: twoMounts, path: "/kubepods/a", want: "/mnt/pods/a"},
		{name: "only_shallow_root_shows_it", mountinfo: twoMounts, path: "/system.slice", want: "/mnt/all/system.slice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ms := mustMounts(t, tt.mountinfo)
			var got string
			var err error
			if tt.controller == "" {
				got, err = CgroupV2Dir(ms, tt.path)
			} else {
				var chain []string
				if chain, err = v1Chain(ms, tt.controller, tt.path); err == nil {
					got = chain[0]
				}
			}
			checkErr(t, "CgroupDir", tt.controller+":"+tt.path, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("CgroupDir(%q, %q) = %q, want %q", tt.controller, tt.path, got, tt.want)
			}
			if tt.wantErr != "" && (!errors.Is(err, ErrCgroupNotMounted) || !errors.Is(err, fs.ErrNotExist)) {
				t.Errorf("CgroupDir(%q, %q) error %v: want ErrCgroupNotMounted and fs.ErrNotExist", tt.controller, tt.path, err)
			}
		})
	}
}

func TestReadProcCgroup(t *testing.T) {
	t.Parallel()
	fsys := afero.NewMemMapFs()
	writeFiles(t, fsys, map[string]string{
		"/proc/self/cgroup":    nsCgroup,
		"/proc/1/cgroup":       nsOutsideCgroup,
		"/proc/self/mountinfo": nsMountinfo,
		"/proc/5/cgroup":       "0::/\nnot a line\n",
	})
	tests := []struct {
		name      string
		fsys      afero.Fs
		pid       string
		wantV2    string
		wantV2Err string
		wantErr   string
	}{
		{name: "self_in_namespace", fsys: fsys, pid: "self", wantV2: "/sys/fs/cgroup/init"},
		{name: "pid1_outside_namespace", fsys: fsys, pid: "1", wantV2Err: `cgroup2 path "/..": cgroup not below any mount of its hierarchy: file does not exist`},
		{name: "vanished_pid", fsys: fsys, pid: "4", wantErr: "open /proc/4/cgroup: file does not exist"},
		{name: "garbage", fsys: fsys, pid: "5", wantErr: `parse /proc/5/cgroup line 2 "not a line": want ID:controllers:path`},
		{name: "no_mountinfo", fsys: onlyFs{fsys, "/proc/self/cgroup"}, pid: "self", wantErr: "open /proc/self/mountinfo: permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := ReadProcCgroup(tt.fsys, tt.pid)
			checkErr(t, "ReadProcCgroup", tt.pid, err, tt.wantErr)
			if err != nil {
				return
			}
			chain, err := p.V2Chain()
			checkErr(t, "V2Chain", tt.pid, err, tt.wantV2Err)
			got := ""
			if len(chain) > 0 {
				got = chain[0]
			}
			if got != tt.wantV2 {
				t.Errorf("ReadProcCgroup(%s).V2Chain()[0] = %q, want %q", tt.pid, got, tt.wantV2)
			}
		})
	}
}

// onlyFs denies every open except of the allowed path.
type onlyFs struct {
	afero.Fs
	allowed string
}

func (o onlyFs) Open(name string) (afero.File, error) {
	if name == o.allowed {
		return o.Fs.Open(name)
	}
	return denyFs{o.Fs}.Open(name)
}
