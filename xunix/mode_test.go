package xunix

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

func TestCgroupModeOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mountinfo string
		want      CgroupMode
		wantErr   string
	}{
		{name: "hybrid_dev_machine", mountinfo: hybridMountinfo, want: CgroupHybrid},
		{name: "v2_vm", mountinfo: v2Mountinfo, want: CgroupV2},
		{name: "namespace_cgroup2_over_sys_fs_cgroup", mountinfo: nsMountinfo, want: CgroupV2},
		{name: "v1_only", mountinfo: strings.Replace(hybridMountinfo, "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n", "", 1), want: CgroupV1},
		{name: "v2_elsewhere_only", mountinfo: "23 22 0:21 / /mnt/cg rw - cgroup2 cgroup2 rw\n", want: CgroupV2},
		{name: "none", mountinfo: escapedMountinfo, wantErr: "classify 2 mounts: no cgroup or cgroup2 mount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := CgroupModeOf(mustMounts(t, tt.mountinfo))
			checkErr(t, "CgroupModeOf", tt.name, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("CgroupModeOf(%s) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestParseIDMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []IDMapRange
		wantErr string
	}{
		{name: "initial", in: uidMapInitial, want: []IDMapRange{{Inside: 0, Outside: 0, Count: 4294967295}}},
		{name: "root_only", in: uidMapRootOnly, want: []IDMapRange{{Inside: 0, Outside: 0, Count: 1}}},
		{name: "unwritten", in: uidMapEmpty, want: []IDMapRange{}},
		{name: "subuid_range", in: "         0     100000      65536\n", want: []IDMapRange{{Inside: 0, Outside: 100000, Count: 65536}}},
		{name: "two_fields", in: "0 0\n", wantErr: `parse line 1 "0 0": want inside outside count`},
		{name: "not_number", in: "0 0 x\n", wantErr: `parse line 1 "0 0 x": field 3: strconv.ParseUint: parsing "x": invalid syntax`},
		{name: "too_big", in: "0 0 4294967296\n", wantErr: `parse line 1 "0 0 4294967296": field 3: strconv.ParseUint: parsing "4294967296": value out of range`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseIDMap(strings.NewReader(tt.in))
			checkErr(t, "parseIDMap", tt.in, err, tt.wantErr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseIDMap(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestInUserNamespace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		uidMap  *string
		want    bool
		wantErr string
	}{
		{name: "initial_namespace", uidMap: ptr(uidMapInitial), want: false},
		{name: "root_mapped", uidMap: ptr(uidMapRootOnly), want: true},
		{name: "unwritten_map", uidMap: ptr(uidMapEmpty), want: true},
		{name: "missing", wantErr: "open /proc/self/uid_map: file does not exist"},
		{name: "garbage", uidMap: ptr("zero zero all\n"), wantErr: `parse /proc/self/uid_map line 1 "zero zero all": field 1: strconv.ParseUint: parsing "zero": invalid syntax`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := afero.NewMemMapFs()
			if tt.uidMap != nil {
				writeFiles(t, fsys, map[string]string{"/proc/self/uid_map": *tt.uidMap})
			}
			got, err := InUserNamespace(fsys)
			checkErr(t, "InUserNamespace", tt.name, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("InUserNamespace(%s) = %v, want %v", tt.name, got, tt.want)
			}
			if tt.name == "missing" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("InUserNamespace(missing) error %v is not fs.ErrNotExist", err)
			}
		})
	}
}

func ptr(s string) *string { return &s }
