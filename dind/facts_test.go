package dind

import (
	"github.com/envbox/envbox/xunix"
	"slices"
	"testing"

	"github.com/spf13/afero"
)

// Verbatim /proc files. statRT is a real `chrt -f 1 sleep 30` on this
// project's CI machine (field 41 = 1, SCHED_FIFO); statOther is its PID 1.
const (
	statusPrivileged = "Name:\tenvbox\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n"
	// Docker's default capability set (no CAP_SYS_ADMIN).
	statusDefaultCaps = "Name:\tenvbox\nCapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n"
	uidMapInitial     = "         0          0 4294967295\n"
	uidMapUserNS      = "         0     100000      65536\n"
	statRT            = "23472 (sleep) S 23470 23470 1044 0 -1 4194560 221 0 1 0 0 0 0 0 -2 0 1 0 60458 2990080 388 18446744073709551615 94107192512512 94107192530441 140735477279232 0 0 0 0 6 0 1 0 0 17 1 1 1 0 0 0 94107192544528 94107192545792 94107450994688 140735477287626 140735477287635 140735477287635 140735477288937 0\n"
	statOther         = "1 (process_api) S 0 0 0 0 -1 4194560 16874 8950750 0 994 29 64 16899 6695 10 -10 11 0 14 40423424 3077 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	// A containerd pod on a cgroup v2 node with a private cgroup namespace.
	mountinfoV2RW = "1250 1249 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate,memory_recursiveprot\n"
	mountinfoV2RO = "1250 1249 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate,memory_recursiveprot\n"
	// This project's CI machine: v1 controllers, cgroup2 at unified.
	mountinfoHybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
		"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" +
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
)

func writeFiles(t *testing.T, files map[string]string) afero.Fs {
	t.Helper()
	fsys := afero.NewMemMapFs()
	for p, c := range files {
		if err := afero.WriteFile(fsys, p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fsys
}

func TestReadFacts(t *testing.T) {
	t.Parallel()
	v2 := map[string]string{
		"/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
		"/proc/self/status":                 statusPrivileged,
		"/proc/self/uid_map":                uidMapInitial,
		"/proc/self/cgroup":                 "0::/\n",
		"/proc/self/mountinfo":              mountinfoV2RW,
		"/proc/1/stat":                      statOther,
	}
	with := func(over map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range v2 {
			m[k] = v
		}
		for k, v := range over {
			m[k] = v
		}
		return m
	}
	allCtrl := []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}
	tests := []struct {
		name    string
		files   map[string]string
		want    Facts
		wantErr string
	}{
		{
			name:  "v2_private_privileged",
			files: v2,
			want:  Facts{Mode: xunix.CgroupV2, OwnCgroup: "/", CapSysAdmin: true, Controllers: allCtrl},
		},
		{
			name: "v2_host_namespace_userns_ro_realtime",
			files: with(map[string]string{
				"/proc/self/cgroup":    "0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-1f2e.scope\n",
				"/proc/self/uid_map":   uidMapUserNS,
				"/proc/self/mountinfo": mountinfoV2RO,
				"/proc/23472/stat":     statRT,
			}),
			want: Facts{Mode: xunix.CgroupV2, OwnCgroup: "/kubepods.slice/kubepods-burstable.slice/cri-containerd-1f2e.scope",
				UserNS: true, CapSysAdmin: true, Controllers: allCtrl, ReadOnly: true, RealtimePIDs: []int{23472}},
		},
		{
			name: "hybrid_default_caps",
			files: map[string]string{
				"/proc/self/mountinfo": mountinfoHybrid,
				"/proc/self/status":    statusDefaultCaps,
				"/proc/self/uid_map":   uidMapInitial,
			},
			want: Facts{Mode: xunix.CgroupHybrid, OwnCgroup: "/"},
		},
		{
			name:    "garbage_capeff",
			files:   with(map[string]string{"/proc/self/status": "CapEff:\tzz\n"}),
			wantErr: `parse /proc/self/status line "CapEff:\tzz": strconv.ParseUint: parsing "zz": invalid syntax`,
		},
		{
			name:    "truncated_stat",
			files:   with(map[string]string{"/proc/7/stat": "7 (a b) S 1 2\n"}),
			wantErr: `parse /proc/7/stat "7 (a b) S 1 2\n": 3 fields after the command name, want > 38`,
		},
		{
			name: "missing_status",
			files: map[string]string{
				"/proc/self/mountinfo": mountinfoV2RW,
			},
			wantErr: "read capabilities: open /proc/self/status: file does not exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReadFacts(writeFiles(t, tt.files))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ReadFacts error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadFacts: %v", err)
			}
			if got.Mode != tt.want.Mode || got.OwnCgroup != tt.want.OwnCgroup || got.UserNS != tt.want.UserNS ||
				got.CapSysAdmin != tt.want.CapSysAdmin || !slices.Equal(got.Controllers, tt.want.Controllers) ||
				got.ReadOnly != tt.want.ReadOnly || !slices.Equal(got.RealtimePIDs, tt.want.RealtimePIDs) {
				t.Errorf("ReadFacts =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func FuzzParseStatPolicy(f *testing.F) {
	for _, s := range []string{statRT, statOther, "7 (a b) S 1 2\n", "1 (x)) S", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stat string) {
		_, _ = parseStatPolicy(stat)
	})
}
