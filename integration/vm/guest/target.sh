#!/bin/sh
# shellcheck shell=sh
# /bin/target SCENARIO: the binary the delegation script execs in the VM, in
# place of dockerd. It runs in the pod's new cgroup and mount namespaces,
# records what it sees in /tmp/SCENARIO/ns_* (tmpfs shared with /init) and
# exits 0. cg and h come from /init's environment.
s=$1
cg=${cg:-/sys/fs/cgroup}
h=${h:-/bin/vmhelper}
d=/tmp/$s
mkdir -p "$d"
read -r self </proc/self/cgroup
printf '%s\n' "$self" >"$d/ns_self_cgroup"
cat "$cg/cgroup.procs" >"$d/ns_root_procs"
cat "$cg/cgroup.controllers" >"$d/ns_controllers"
cat "$cg/cgroup.subtree_control" >"$d/ns_subtree_control"
grep ' - cgroup2 ' /proc/self/mountinfo >"$d/ns_mountinfo"

# nested CG: a docker/<id>-style cgroup, as dockerd creates after delegation.
nested() {
	mkdir -p "$cg/docker"
	echo "+memory +pids" >"$cg/docker/cgroup.subtree_control"
	mkdir "$cg/docker/$1"
}

case $s in
s3_limits)
	id=3f4c0de1a2b5
	nested $id
	(echo 0 >"$cg/docker/$id/cgroup.procs" && exec "$h" hog 100) >"$d/ns_hog_out" 2>&1
	echo $? >"$d/ns_hog_rc"
	cat "$cg/docker/$id/memory.events" >"$d/ns_nested_memory_events"
	cat "$cg/memory.events" >"$d/ns_root_memory_events"
	id=9a8b7c6d5e4f
	nested $id
	(
		echo 0 >"$cg/docker/$id/cgroup.procs" || exit 1
		i=0
		while [ $i -lt 40 ]; do
			sleep 600 &
			i=$((i + 1))
		done
	) >"$d/ns_fork_out" 2>&1
	cat "$cg/docker/$id/pids.current" >"$d/ns_nested_pids_current"
	cat "$cg/docker/$id/pids.events" >"$d/ns_nested_pids_events"
	cat "$cg/pids.max" >"$d/ns_root_pids_max"
	echo 1 >"$cg/docker/$id/cgroup.kill"
	;;
s4_cpu_quota)
	cat "$cg/cpu.max" >"$d/ns_root_cpu_max"
	cat "$cg/init/cpu.max" >"$d/ns_init_cpu_max"
	"$h" cpuquota "$cg/kubepods/not-mounted-here" >"$d/ns_quota" 2>&1
	;;
esac
exit 0
