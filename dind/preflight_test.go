package dind

import (
	"github.com/envbox/envbox/xunix"
	"slices"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	all := []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}
	tests := []struct {
		name  string
		facts Facts
		want  []Finding
	}{
		{
			name:  "privileged_pod_all_controllers",
			facts: Facts{Mode: xunix.CgroupV2, OwnCgroup: "/", CapSysAdmin: true, Controllers: all},
		},
		{
			name:  "not_privileged",
			facts: Facts{Mode: xunix.CgroupV2, OwnCgroup: "/", Controllers: all},
			want:  []Finding{{Fatal: true, Message: "CAP_SYS_ADMIN is missing, so the cgroup namespace and the cgroup2 mount will be refused: run the container privileged (Kubernetes: securityContext.privileged: true; docker run --privileged)"}},
		},
		{
			name:  "read_only_cgroupfs",
			facts: Facts{Mode: xunix.CgroupV2, OwnCgroup: "/", CapSysAdmin: true, Controllers: all, ReadOnly: true},
			want:  []Finding{{Message: "/sys/fs/cgroup is mounted read-only: the delegation script remounts it read-write; if that fails, run the container privileged"}},
		},
		{
			name:  "read_only_in_user_namespace",
			facts: Facts{Mode: xunix.CgroupV2, OwnCgroup: "/", CapSysAdmin: true, UserNS: true, Controllers: all, ReadOnly: true},
			want:  []Finding{{Message: "/sys/fs/cgroup is mounted read-only: the delegation script remounts it read-write; if that fails, run the container privileged, or (in a user namespace) let the runtime delegate the cgroup to it (sysbox)"}},
		},
		{
			name:  "missing_controllers",
			facts: Facts{Mode: xunix.CgroupV2, OwnCgroup: "/", CapSysAdmin: true, Controllers: []string{"cpu", "pids"}},
			want:  []Finding{{Message: `the pod does not delegate controllers memory, io, cpuset (it offers "cpu pids"): limits of those kinds do not hold for inner containers; enable them in the parent cgroup's cgroup.subtree_control`}},
		},
		{
			name:  "realtime_task_blocks_cpu",
			facts: Facts{Mode: xunix.CgroupV2, OwnCgroup: "/", CapSysAdmin: true, Controllers: all, RealtimePIDs: []int{42, 77}},
			want:  []Finding{{Message: "realtime processes [42 77]: on kernels with CONFIG_RT_GROUP_SCHED enabling the cpu controller fails (EINVAL) while they run; stop them or give them SCHED_OTHER before envbox starts"}},
		},
		{
			name:  "hybrid_host",
			facts: Facts{Mode: xunix.CgroupHybrid, OwnCgroup: "/", CapSysAdmin: true},
			want:  []Finding{{Message: "cgroup mode hybrid: no cgroup2 at /sys/fs/cgroup, delegation is skipped and dockerd manages v1 cgroups itself"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Check(tt.facts); !slices.Equal(got, tt.want) {
				t.Errorf("Check(%+v) =\n%+v\nwant\n%+v", tt.facts, got, tt.want)
			}
		})
	}
}

func TestFactsSummary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		facts Facts
		want  string
	}{
		{
			facts: Facts{Mode: xunix.CgroupV2, OwnCgroup: "/", Controllers: []string{"cpu", "memory"}},
			want:  `cgroup mode v2, cgroup namespace private, user namespace false, controllers "cpu memory", /sys/fs/cgroup writable`,
		},
		{
			facts: Facts{Mode: xunix.CgroupV2, OwnCgroup: "/kubepods/burstable/pod1/ctr", UserNS: true, ReadOnly: true},
			want:  `cgroup mode v2, cgroup namespace host's (own cgroup /kubepods/burstable/pod1/ctr; envbox roots a new one there), user namespace true, controllers "", /sys/fs/cgroup read-only`,
		},
		{
			facts: Facts{Mode: xunix.CgroupV1, OwnCgroup: "/"},
			want:  `cgroup mode v1, cgroup namespace n/a, user namespace false, controllers "", /sys/fs/cgroup writable`,
		},
	}
	for _, tt := range tests {
		if got := tt.facts.Summary(); got != tt.want {
			t.Errorf("Summary(%+v) =\n%s\nwant\n%s", tt.facts, got, tt.want)
		}
	}
}
