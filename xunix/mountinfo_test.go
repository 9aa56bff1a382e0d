package xunix

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

func TestParseMountinfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []Mount
		wantErr string
	}{
		{
			name: "v2_vm",
			in:   v2Mountinfo,
			want: []Mount{
				{ID: 1, ParentID: 1, Major: 0, Minor: 2, Root: "/", MountPoint: "/", Options: "rw", FSType: "rootfs", Source: "rootfs", SuperOptions: "rw,size=229700k,nr_inodes=57425,inode64"},
				{ID: 21, ParentID: 1, Major: 0, Minor: 19, Root: "/", MountPoint: "/proc", Options: "rw,relatime", FSType: "proc", Source: "proc", SuperOptions: "rw"},
				{ID: 22, ParentID: 1, Major: 0, Minor: 20, Root: "/", MountPoint: "/sys", Options: "rw,relatime", FSType: "sysfs", Source: "sysfs", SuperOptions: "rw"},
				{ID: 23, ParentID: 22, Major: 0, Minor: 21, Root: "/", MountPoint: "/sys/fs/cgroup", Options: "rw,relatime", FSType: "cgroup2", Source: "cgroup2", SuperOptions: "rw"},
			},
		},
		{
			name: "octal_escapes_and_optional_field",
			in:   escapedMountinfo,
			want: []Mount{
				{ID: 112, ParentID: 79, Major: 0, Minor: 49, Root: "/", MountPoint: "/tmp/x cap", Options: "rw,relatime", Optional: []string{"shared:3"}, FSType: "tmpfs", Source: "my src", SuperOptions: "rw"},
				{ID: 113, ParentID: 112, Major: 0, Minor: 49, Root: "/", MountPoint: `/tmp/x cap/back\slash`, Options: "rw,relatime", Optional: []string{"shared:3"}, FSType: "tmpfs", Source: "my src", SuperOptions: "rw"},
			},
		},
		{
			name: "root_outside_cgroup_namespace",
			in:   "57 47 0:38 /.. /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
			want: []Mount{{ID: 57, ParentID: 47, Major: 0, Minor: 38, Root: "/..", MountPoint: "/sys/fs/cgroup/unified", Options: "rw,relatime", FSType: "cgroup2", Source: "cgroup2", SuperOptions: "rw"}},
		},
		{
			// A network namespace file dockerd bind-mounts under its exec
			// root, read in the pod of integration/doctor_test.go.
			name: "nsfs_root_is_not_a_path",
			in:   "128 65 0:4 net:[4026532187] /tmp/ebx-1943649244/x/netns/47bfbda2cc79 rw - nsfs nsfs rw\n",
			want: []Mount{{ID: 128, ParentID: 65, Major: 0, Minor: 4, Root: "net:[4026532187]", MountPoint: "/tmp/ebx-1943649244/x/netns/47bfbda2cc79", Options: "rw", FSType: "nsfs", Source: "nsfs", SuperOptions: "rw"}},
		},
		{
			// Example line of proc(5): two optional fields, a big device.
			name: "proc5_example_two_optional_fields",
			in:   "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue\n",
			want: []Mount{{ID: 36, ParentID: 35, Major: 98, Minor: 0, Root: "/mnt1", MountPoint: "/mnt2", Options: "rw,noatime", Optional: []string{"master:1", "shared:2"}, FSType: "ext3", Source: "/dev/root", SuperOptions: "rw,errors=continue"}},
		},
		{name: "empty", in: "", wantErr: `parse "": empty`},
		{name: "no_separator", in: "23 22 0:21 / /sys/fs/cgroup rw,relatime cgroup2 cgroup2 rw\n", wantErr: `parse line 1 "23 22 0:21 / /sys/fs/cgroup rw,relatime cgroup2 cgroup2 rw": want 6 fields, optional fields, "-", fstype, source, super options`},
		{name: "missing_super_options", in: "23 22 0:21 / /sys/fs/cgroup rw - cgroup2 cgroup2\n", wantErr: `parse line 1 "23 22 0:21 / /sys/fs/cgroup rw - cgroup2 cgroup2": want 6 fields, optional fields, "-", fstype, source, super options`},
		{name: "bad_id", in: "x 22 0:21 / /s rw - cgroup2 cgroup2 rw\n", wantErr: `parse line 1 "x 22 0:21 / /s rw - cgroup2 cgroup2 rw": mount ID "x" is not a non-negative integer`},
		{name: "bad_parent", in: "1 -2 0:21 / /s rw - cgroup2 cgroup2 rw\n", wantErr: `parse line 1 "1 -2 0:21 / /s rw - cgroup2 cgroup2 rw": parent ID "-2" is not a non-negative integer`},
		{name: "bad_device", in: "1 2 021 / /s rw - cgroup2 cgroup2 rw\n", wantErr: `parse line 1 "1 2 021 / /s rw - cgroup2 cgroup2 rw": device "021" is not major:minor`},
		{name: "truncated_escape", in: "1 2 0:21 / /a\\04 rw - tmpfs t rw\n", wantErr: `parse line 1 "1 2 0:21 / /a\\04 rw - tmpfs t rw": mount point: truncated escape in "/a\\04"`},
		{name: "bad_escape", in: "1 2 0:21 /\\x41b / rw - tmpfs t rw\n", wantErr: `parse line 1 "1 2 0:21 /\\x41b / rw - tmpfs t rw": root: bad escape "\\x41" in "/\\x41b"`},
		{name: "relative_mount_point", in: "1 2 0:21 / sys rw - sysfs sysfs rw\n", wantErr: `parse line 1 "1 2 0:21 / sys rw - sysfs sysfs rw": root "/" or mount point "sys" is not absolute`},
		{name: "second_line_garbage", in: v2Mountinfo + "garbage\n", wantErr: `parse line 5 "garbage": want 6 fields, optional fields, "-", fstype, source, super options`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseMountinfo(strings.NewReader(tt.in))
			checkErr(t, "parseMountinfo", tt.in, err, tt.wantErr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseMountinfo(%q) =\n%+v\nwant\n%+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseMountinfoFile(t *testing.T) {
	t.Parallel()
	fsys := afero.NewMemMapFs()
	writeFiles(t, fsys, map[string]string{
		"/proc/self/mountinfo": hybridMountinfo,
		"/proc/2/mountinfo":    "1 1 0:2 / / rw - rootfs\n",
	})
	ms, err := ParseMountinfoFile(fsys, "/proc/self/mountinfo")
	if err != nil || len(ms) != 20 || ms[19].MountPoint != "/sys/fs/cgroup/unified" {
		t.Errorf("ParseMountinfoFile(hybrid) = %d mounts, last %+v, err %v; want 20, last at /sys/fs/cgroup/unified", len(ms), ms[len(ms)-1], err)
	}
	_, err = ParseMountinfoFile(fsys, "/proc/2/mountinfo")
	checkErr(t, "ParseMountinfoFile", "/proc/2/mountinfo", err,
		`parse /proc/2/mountinfo line 1 "1 1 0:2 / / rw - rootfs": want 6 fields, optional fields, "-", fstype, source, super options`)
	_, err = ParseMountinfoFile(fsys, "/proc/3/mountinfo")
	if checkErr(t, "ParseMountinfoFile", "/proc/3/mountinfo", err, "open /proc/3/mountinfo: file does not exist"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ParseMountinfoFile(/proc/3/mountinfo) error %v is not fs.ErrNotExist", err)
	}
	_, err = ParseMountinfoFile(denyFs{fsys}, "/proc/self/mountinfo")
	checkErr(t, "ParseMountinfoFile", "/proc/self/mountinfo", err, "open /proc/self/mountinfo: permission denied")
}
