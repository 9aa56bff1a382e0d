package xunix

import (
	"reflect"
	"testing"

	"github.com/spf13/afero"
)

func TestChains(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cgroup     string
		mountinfo  string
		controller string // "" = v2
		want       []string
		wantErr    string
	}{
		{name: "namespace_init", cgroup: nsCgroup, mountinfo: nsMountinfo, want: []string{"/sys/fs/cgroup/init", "/sys/fs/cgroup"}},
		{name: "v2_nested", cgroup: v2Cgroup, mountinfo: v2Mountinfo, want: []string{"/sys/fs/cgroup/kubepods/pod1/ctr", "/sys/fs/cgroup/kubepods/pod1", "/sys/fs/cgroup/kubepods", "/sys/fs/cgroup"}},
		{name: "hybrid_v2_root", cgroup: hybridCgroup, mountinfo: hybridMountinfo, want: []string{"/sys/fs/cgroup/unified"}},
		{
			name: "hybrid_v1_memory", cgroup: hybridCgroup, mountinfo: hybridMountinfo, controller: "memory",
			want: []string{"/sys/fs/cgroup/memory/process_api/81cedb9f105fa229595f3f11417ccf13", "/sys/fs/cgroup/memory/process_api", "/sys/fs/cgroup/memory"},
		},
		{name: "outside_namespace", cgroup: nsOutsideCgroup, mountinfo: nsMountinfo, wantErr: `cgroup2 path "/..": cgroup not below any mount of its hierarchy: file does not exist`},
		{name: "v1_missing_entry", cgroup: v2Cgroup, mountinfo: v2Mountinfo, controller: "cpu", wantErr: `cgroup v1 controller "cpu" among 1 entries: no such cgroup hierarchy`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := afero.NewMemMapFs()
			writeFiles(t, fsys, map[string]string{"/proc/self/cgroup": tt.cgroup, "/proc/self/mountinfo": tt.mountinfo})
			p, err := ReadProcCgroup(fsys, "self")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if tt.controller == "" {
				got, err = p.V2Chain()
			} else {
				got, err = p.V1Chain(tt.controller)
			}
			checkErr(t, "Chain", tt.name, err, tt.wantErr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s chain = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestReadEffectiveCPUQuota(t *testing.T) {
	t.Parallel()
	ns := map[string]string{"/proc/self/cgroup": nsCgroup, "/proc/self/mountinfo": nsMountinfo}
	v2 := map[string]string{"/proc/self/cgroup": v2Cgroup, "/proc/self/mountinfo": v2Mountinfo}
	tests := []struct {
		name    string
		base    map[string]string
		files   map[string]string
		want    CPUQuota
		wantErr string
	}{
		{
			// After delegation envbox is in init/ ("max"); the pod's quota is
			// on the namespace root. ReadCPUQuota would say unlimited.
			name:  "delegated_init_sees_pod_quota",
			base:  ns,
			files: map[string]string{"/sys/fs/cgroup/init/cpu.max": v2CPUMaxDefault, "/sys/fs/cgroup/cpu.max": v2CPUMaxHalf},
			want:  CPUQuota{Quota: 50000, Period: 100000, Source: "/sys/fs/cgroup/cpu.max"},
		},
		{
			name: "tightest_ancestor_wins_real_root_skipped",
			base: v2,
			files: map[string]string{
				"/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max": v2CPUMaxHalf,
				"/sys/fs/cgroup/kubepods/pod1/cpu.max":     "25000 100000\n",
				"/sys/fs/cgroup/kubepods/cpu.max":          v2CPUMaxDefault,
			},
			want: CPUQuota{Quota: 25000, Period: 100000, Source: "/sys/fs/cgroup/kubepods/pod1/cpu.max"},
		},
		{
			name: "own_is_tightest",
			base: v2,
			files: map[string]string{
				"/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max": "10000 100000\n",
				"/sys/fs/cgroup/kubepods/pod1/cpu.max":     "100000 50000\n",
			},
			want: CPUQuota{Quota: 10000, Period: 100000, Source: "/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max"},
		},
		{
			name:  "all_unlimited",
			base:  ns,
			files: map[string]string{"/sys/fs/cgroup/init/cpu.max": v2CPUMaxDefault, "/sys/fs/cgroup/cpu.max": v2CPUMaxDefault},
			want:  CPUQuota{Quota: -1, Period: 100000, Unlimited: true, Source: "/sys/fs/cgroup/init/cpu.max"},
		},
		{
			name:    "ancestor_garbage_is_an_error",
			base:    ns,
			files:   map[string]string{"/sys/fs/cgroup/init/cpu.max": v2CPUMaxDefault, "/sys/fs/cgroup/cpu.max": "half\n"},
			wantErr: `parse /sys/fs/cgroup/cpu.max line 1 "half": want "$MAX $PERIOD"`,
		},
		{
			name:    "no_file_anywhere",
			base:    ns,
			files:   map[string]string{},
			wantErr: "no cpu.max in /sys/fs/cgroup/init or its 1 ancestors: file does not exist",
		},
		{
			name:  "unresolvable_falls_back_to_root",
			base:  map[string]string{"/proc/self/cgroup": "0::/../pod\n", "/proc/self/mountinfo": v2Mountinfo},
			files: map[string]string{"/sys/fs/cgroup/cpu.max": v2CPUMaxHalf},
			want:  CPUQuota{Quota: 50000, Period: 100000, Source: "/sys/fs/cgroup/cpu.max"},
		},
		{
			name: "hybrid_v1_walks_cpu_hierarchy",
			base: map[string]string{"/proc/self/cgroup": "1:cpu:/docker/abc\n0::/\n", "/proc/self/mountinfo": hybridMountinfo},
			files: map[string]string{
				"/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_quota_us": "-1\n", "/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_period_us": "100000\n",
				"/sys/fs/cgroup/cpu/docker/cpu.cfs_quota_us": "150000\n", "/sys/fs/cgroup/cpu/docker/cpu.cfs_period_us": "100000\n",
			},
			want: CPUQuota{Quota: 150000, Period: 100000, Source: "/sys/fs/cgroup/cpu/docker/cpu.cfs_quota_us"},
		},
		{
			name:    "v1_only_without_v2",
			base:    map[string]string{"/proc/self/cgroup": "1:memory:/\n", "/proc/self/mountinfo": hybridMountinfo},
			wantErr: "cgroup v2 (0::) among 1 entries: no such cgroup hierarchy",
		},
		{
			name:    "no_proc",
			base:    map[string]string{},
			wantErr: "open /proc/self/cgroup: file does not exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := afero.NewMemMapFs()
			writeFiles(t, fsys, tt.base)
			writeFiles(t, fsys, tt.files)
			got, err := ReadEffectiveCPUQuota(fsys, "self")
			checkErr(t, "ReadEffectiveCPUQuota", tt.name, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("ReadEffectiveCPUQuota(%s) = %+v, want %+v", tt.name, got, tt.want)
			}
		})
	}
}

func TestReadEffectiveMemoryLimit(t *testing.T) {
	t.Parallel()
	const v1Own = "/sys/fs/cgroup/memory/process_api/81cedb9f105fa229595f3f11417ccf13"
	tests := []struct {
		name    string
		files   map[string]string
		want    MemoryLimit
		wantErr string
	}{
		{
			name: "delegated_init_sees_pod_limit",
			files: map[string]string{
				"/proc/self/cgroup": nsCgroup, "/proc/self/mountinfo": nsMountinfo,
				"/sys/fs/cgroup/init/memory.max": v2MemoryMaxDefault, "/sys/fs/cgroup/memory.max": v2MemoryMax32M,
			},
			want: MemoryLimit{Bytes: 33554432, Source: "/sys/fs/cgroup/memory.max"},
		},
		{
			name: "hybrid_v1_parent_limit",
			files: map[string]string{
				"/proc/self/cgroup": hybridCgroup, "/proc/self/mountinfo": hybridMountinfo,
				v1Own + "/memory.limit_in_bytes":                          v1MemoryUnlimited,
				"/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes": "1073741824\n",
				"/sys/fs/cgroup/memory/memory.limit_in_bytes":             v1MemoryUnlimited,
			},
			want: MemoryLimit{Bytes: 1073741824, Source: "/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes"},
		},
		{
			name: "v2_garbage_own",
			files: map[string]string{
				"/proc/self/cgroup": v2Cgroup, "/proc/self/mountinfo": v2Mountinfo,
				"/sys/fs/cgroup/kubepods/pod1/ctr/memory.max": "32M\n",
			},
			wantErr: `parse /sys/fs/cgroup/kubepods/pod1/ctr/memory.max line 1 "32M": memory limit (bytes or "max"): strconv.ParseUint: parsing "32M": invalid syntax`,
		},
		{
			name:    "hybrid_v1_file_missing_everywhere",
			files:   map[string]string{"/proc/self/cgroup": hybridCgroup, "/proc/self/mountinfo": hybridMountinfo},
			wantErr: "no memory.limit_in_bytes in " + v1Own + " or its 2 ancestors: file does not exist",
		},
		{
			name: "hybrid_v1_garbage_ancestor",
			files: map[string]string{
				"/proc/self/cgroup": hybridCgroup, "/proc/self/mountinfo": hybridMountinfo,
				v1Own + "/memory.limit_in_bytes":                          v1MemoryUnlimited,
				"/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes": "\n",
			},
			wantErr: `parse /sys/fs/cgroup/memory/process_api/memory.limit_in_bytes line 1 "\n": empty`,
		},
		{
			name:    "no_proc",
			files:   map[string]string{},
			wantErr: "open /proc/self/cgroup: file does not exist",
		},
		{
			name:    "unresolvable_and_no_root_file",
			files:   map[string]string{"/proc/self/cgroup": nsOutsideCgroup, "/proc/self/mountinfo": nsMountinfo},
			wantErr: `read memory.max: own cgroup: cgroup2 path "/..": cgroup not below any mount of its hierarchy: file does not exist; namespace root: open /sys/fs/cgroup/memory.max: file does not exist`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := afero.NewMemMapFs()
			writeFiles(t, fsys, tt.files)
			got, err := ReadEffectiveMemoryLimit(fsys, "self")
			checkErr(t, "ReadEffectiveMemoryLimit", tt.name, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("ReadEffectiveMemoryLimit(%s) = %+v, want %+v", tt.name, got, tt.want)
			}
		})
	}
}
