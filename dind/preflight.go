package dind

import (
	"fmt"
	"slices"
	"strings"

	"github.com/envbox/envbox/xunix"
)

// WantedControllers are the controllers inner containers need for their
// limits to hold.
var WantedControllers = []string{"cpu", "memory", "pids", "io", "cpuset"}

// Facts is what preflight reads from the system before dockerd starts.
type Facts struct {
	Mode xunix.CgroupMode
	// OwnCgroup is the v2 path of envbox in its cgroup namespace: "/" in a
	// private namespace, the pod's full path in the host's.
	OwnCgroup string
	// UserNS is true in a user namespace (hostUsers: false, sysbox).
	UserNS bool
	// CapSysAdmin is CAP_SYS_ADMIN in the effective set.
	CapSysAdmin bool
	// Controllers lists cgroup.controllers of /sys/fs/cgroup (v2 only).
	Controllers []string
	// ReadOnly is set when /sys/fs/cgroup is mounted read-only.
	ReadOnly bool
	// RealtimePIDs are processes with a realtime policy (SCHED_FIFO/RR):
	// on kernels with CONFIG_RT_GROUP_SCHED they make "+cpu" fail (EINVAL).
	RealtimePIDs []int
}

// Finding is one preflight conclusion: Fatal ones stop envbox before dockerd
// starts, with a message naming the cause and the fix.
type Finding struct {
	Fatal   bool
	Message string
}

// Check turns facts into findings, most severe first.
func Check(f Facts) []Finding {
	var out []Finding
	if !f.CapSysAdmin {
		out = append(out, Finding{Fatal: true, Message: "CAP_SYS_ADMIN is missing, so the cgroup namespace and the cgroup2 mount will be refused: run the container privileged (Kubernetes: securityContext.privileged: true; docker run --privileged)"})
	}
	if f.Mode != xunix.CgroupV2 {
		out = append(out, Finding{Message: fmt.Sprintf("cgroup mode %s: no cgroup2 at /sys/fs/cgroup, delegation is skipped and dockerd manages v1 cgroups itself", f.Mode)})
		return out
	}
	if f.ReadOnly {
		// Not fatal: the delegation script unmounts it and mounts a fresh,
		// writable cgroup2 (as in a container run with --cap-add ALL but
		// not --privileged). If that mount is refused, the script says so.
		msg := "/sys/fs/cgroup is mounted read-only: the delegation script remounts it read-write; if that fails, run the container privileged"
		if f.UserNS {
			msg += ", or (in a user namespace) let the runtime delegate the cgroup to it (sysbox)"
		}
		out = append(out, Finding{Message: msg})
	}
	if missing := missingControllers(f.Controllers); len(missing) > 0 {
		out = append(out, Finding{Message: fmt.Sprintf("the pod does not delegate controllers %s (it offers %q): limits of those kinds do not hold for inner containers; enable them in the parent cgroup's cgroup.subtree_control", strings.Join(missing, ", "), strings.Join(f.Controllers, " "))})
	}
	if len(f.RealtimePIDs) > 0 && slices.Contains(f.Controllers, "cpu") {
		out = append(out, Finding{Message: fmt.Sprintf("realtime processes %v: on kernels with CONFIG_RT_GROUP_SCHED enabling the cpu controller fails (EINVAL) while they run; stop them or give them SCHED_OTHER before envbox starts", f.RealtimePIDs)})
	}
	return out
}

func missingControllers(have []string) []string {
	var missing []string
	for _, c := range WantedControllers {
		if !slices.Contains(have, c) {
			missing = append(missing, c)
		}
	}
	return missing
}

// Summary is the one-line description of the facts envbox logs at start.
func (f Facts) Summary() string {
	ns := "private"
	if f.OwnCgroup != "/" {
		ns = "host's (own cgroup " + f.OwnCgroup + "; envbox roots a new one there)"
	}
	if f.Mode != xunix.CgroupV2 {
		ns = "n/a"
	}
	w := "writable"
	if f.ReadOnly {
		w = "read-only"
	}
	return fmt.Sprintf("cgroup mode %s, cgroup namespace %s, user namespace %t, controllers %q, /sys/fs/cgroup %s",
		f.Mode, ns, f.UserNS, strings.Join(f.Controllers, " "), w)
}
