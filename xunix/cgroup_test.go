package xunix

import (
	"errors"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

func TestParseCgroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Cgroups
		wantErr string
	}{
		{
			name: "hybrid_v2_line_last",
			in:   hybridCgroup,
			want: Cgroups{
				{ID: 9, Controllers: []string{"name=systemd"}, Path: "/"},
				{ID: 8, Controllers: []string{"pids"}, Path: "/"},
				{ID: 7, Controllers: []string{"blkio"}, Path: "/"},
				{ID: 6, Controllers: []string{"freezer"}, Path: "/"},
				{ID: 5, Controllers: []string{"devices"}, Path: "/"},
				{ID: 4, Controllers: []string{"memory"}, Path: "/process_api/81cedb9f105fa229595f3f11417ccf13"},
				{ID: 3, Controllers: []string{"cpuset"}, Path: "/"},
				{ID: 2, Controllers: []string{"cpuacct"}, Path: "/"},
				{ID: 1, Controllers: []string{"cpu"}, Path: "/"},
				{ID: 0, Path: "/"},
			},
		},
		{
			name: "v2_only",
			in:   v2Cgroup,
			want: Cgroups{{ID: 0, Path: "/kubepods/pod1/ctr"}},
		},
		{
			name: "outside_namespace_climbs",
			in:   nsOutsideCgroup,
			want: Cgroups{
				{ID: 9, Controllers: []string{"name=systemd"}, Path: "/"},
				{ID: 8, Controllers: []string{"pids"}, Path: "/"},
				{ID: 7, Controllers: []string{"blkio"}, Path: "/"},
				{ID: 6, Controllers: []string{"freezer"}, Path: "/"},
				{ID: 5, Controllers: []string{"devices"}, Path: "/"},
				{ID: 4, Controllers: []string{"memory"}, Path: "/../.."},
				{ID: 3, Controllers: []string{"cpuset"}, Path: "/"},
				{ID: 2, Controllers: []string{"cpuacct"}, Path: "/"},
				{ID: 1, Controllers: []string{"cpu"}, Path: "/"},
				{ID: 0, Path: "/.."},
			},
		},
		{
			// Format of a v1 host with co-mounted controllers (cgroup-v1 docs).
			name: "comounted_controllers_and_colon_in_path",
			in:   "2:cpu,cpuacct:/a:b\n",
			want: Cgroups{{ID: 2, Controllers: []string{"cpu", "cpuacct"}, Path: "/a:b"}},
		},
		{
			// proc_cgroup_show appends " (deleted)" to a removed v2 cgroup.
			name: "v2_deleted",
			in:   "0::/kubepods/pod1/ctr (deleted)\n",
			want: Cgroups{{ID: 0, Path: "/kubepods/pod1/ctr", Deleted: true}},
		},
		{name: "empty", in: "", wantErr: `parse "": empty`},
		{name: "blank_line", in: "0::/\n\n", wantErr: `parse line 2 "": want ID:controllers:path`},
		{name: "two_fields", in: "0:/\n", wantErr: `parse line 1 "0:/": want ID:controllers:path`},
		{name: "id_not_number", in: "x::/\n", wantErr: `parse line 1 "x::/": hierarchy ID "x" is not a non-negative integer`},
		{name: "id_negative", in: "-1:cpu:/\n", wantErr: `parse line 1 "-1:cpu:/": hierarchy ID "-1" is not a non-negative integer`},
		{name: "v1_without_controllers", in: "3::/\n", wantErr: `parse line 1 "3::/": hierarchy 3 with controllers "": only hierarchy 0 (v2) has none`},
		{name: "v2_with_controllers", in: "0:cpu:/\n", wantErr: `parse line 1 "0:cpu:/": hierarchy 0 with controllers "cpu": only hierarchy 0 (v2) has none`},
		{name: "empty_controller", in: "2:cpu,:/\n", wantErr: `parse line 1 "2:cpu,:/": empty controller name in "cpu,"`},
		{name: "relative_path", in: "0::init\n", wantErr: `parse line 1 "0::init": path "init" is not absolute`},
		{name: "garbage", in: "hello world\n", wantErr: `parse line 1 "hello world": want ID:controllers:path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseCgroup(strings.NewReader(tt.in))
			checkErr(t, "parseCgroup", tt.in, err, tt.wantErr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseCgroup(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestCgroupsPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		in         string
		controller string
		wantV2     string
		wantV2Err  string
		wantV1     string
		wantV1Err  string
	}{
		{name: "hybrid_memory", in: hybridCgroup, controller: "memory", wantV2: "/", wantV1: "/process_api/81cedb9f105fa229595f3f11417ccf13"},
		{name: "hybrid_named_hierarchy", in: hybridCgroup, controller: "name=systemd", wantV2: "/", wantV1: "/"},
		{name: "namespace_init", in: nsCgroup, controller: "cpu", wantV2: "/init", wantV1: "/"},
		{name: "outside_namespace", in: nsOutsideCgroup, controller: "memory", wantV2: "/..", wantV1: "/../.."},
		{
			name: "v2_only_has_no_v1", in: v2Cgroup, controller: "cpu", wantV2: "/kubepods/pod1/ctr",
			wantV1Err: `cgroup v1 controller "cpu" among 1 entries: no such cgroup hierarchy`,
		},
		{
			name: "v1_only_has_no_v2", in: "2:cpu,cpuacct:/docker/abc\n", controller: "cpuacct", wantV1: "/docker/abc",
			wantV2Err: "cgroup v2 (0::) among 1 entries: no such cgroup hierarchy",
		},
		{
			name: "controller_is_not_a_prefix_match", in: "2:cpuacct:/x\n", controller: "cpu",
			wantV2Err: "cgroup v2 (0::) among 1 entries: no such cgroup hierarchy",
			wantV1Err: `cgroup v1 controller "cpu" among 1 entries: no such cgroup hierarchy`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cgs, err := parseCgroup(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("parseCgroup(%q): %v", tt.in, err)
			}
			v2, err := cgs.V2Path()
			checkErr(t, "V2Path", tt.in, err, tt.wantV2Err)
			if v2 != tt.wantV2 {
				t.Errorf("V2Path of %q = %q, want %q", tt.in, v2, tt.wantV2)
			}
			v1, err := cgs.V1Path(tt.controller)
			checkErr(t, "V1Path", tt.in, err, tt.wantV1Err)
			if v1 != tt.wantV1 {
				t.Errorf("V1Path(%q) of %q = %q, want %q", tt.controller, tt.in, v1, tt.wantV1)
			}
			if (tt.wantV1Err != "") != errors.Is(err, ErrNoCgroup) {
				t.Errorf("V1Path(%q) error %v: errors.Is(ErrNoCgroup) wrong", tt.controller, err)
			}
		})
	}
}

func TestParseCgroupFile(t *testing.T) {
	t.Parallel()
	fsys := afero.NewMemMapFs()
	writeFiles(t, fsys, map[string]string{
		"/proc/self/cgroup": hybridCgroup,
		"/proc/7/cgroup":    "0::/\nbroken\n",
	})
	tests := []struct {
		name    string
		fsys    afero.Fs
		path    string
		wantV2  string
		wantErr string
		wantIs  error
	}{
		{name: "hybrid", fsys: fsys, path: "/proc/self/cgroup", wantV2: "/"},
		{name: "missing", fsys: fsys, path: "/proc/9/cgroup", wantErr: "open /proc/9/cgroup: file does not exist", wantIs: fs.ErrNotExist},
		{name: "garbage_names_file_line_content", fsys: fsys, path: "/proc/7/cgroup", wantErr: `parse /proc/7/cgroup line 2 "broken": want ID:controllers:path`},
		{name: "permission_denied", fsys: denyFs{fsys}, path: "/proc/self/cgroup", wantErr: "open /proc/self/cgroup: permission denied", wantIs: fs.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cgs, err := ParseCgroupFile(tt.fsys, tt.path)
			checkErr(t, "ParseCgroupFile", tt.path, err, tt.wantErr)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("ParseCgroupFile(%s) error %v is not %v", tt.path, err, tt.wantIs)
			}
			var pe *ParseError
			if strings.HasPrefix(tt.wantErr, "parse") && (!errors.As(err, &pe) || pe.Path != tt.path || pe.Line != 2 || pe.Content != "broken") {
				t.Errorf("ParseCgroupFile(%s) error %#v, want *ParseError{Path: %q, Line: 2, Content: \"broken\"}", tt.path, err, tt.path)
			}
			if tt.wantErr != "" {
				return
			}
			if v2, _ := cgs.V2Path(); v2 != tt.wantV2 {
				t.Errorf("ParseCgroupFile(%s) v2 path %q, want %q", tt.path, v2, tt.wantV2)
			}
		})
	}
}

// checkErr compares an error with its literal expected text ("" = none).
func checkErr(t *testing.T, fn, in string, err error, want string) {
	t.Helper()
	got := ""
	if err != nil {
		got = err.Error()
	}
	if got != want {
		t.Errorf("%s(%q) error = %q, want %q", fn, in, got, want)
	}
}

func writeFiles(t *testing.T, fsys afero.Fs, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := afero.WriteFile(fsys, name, []byte(content), 0o644); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
	}
}

// denyFs fails every open the way a file without read permission does.
type denyFs struct{ afero.Fs }

func (d denyFs) Open(name string) (afero.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: os.ErrPermission}
}

func (d denyFs) OpenFile(name string, _ int, _ os.FileMode) (afero.File, error) {
	return d.Open(name)
}
