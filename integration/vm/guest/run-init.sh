#!/bin/sh
# shellcheck shell=sh
# /init of the `envbox run` VM: a pure cgroup v2 machine that plays a node
# whose runtime made a pod: /pod with cpu.max and memory.max, entered with
# new cgroup, mount and PID namespaces and a cgroup2 mount of its own. The
# pod's PID 1 is the real envbox, `envbox run -- containerd`. Then `ctr run`
# of a busybox rootfs: records where the task lands as the node sees it,
# the limits that bind it, what envbox doctor says without a Docker API,
# and how SIGTERM stops the pod; prints `RESULT run {...}` and DONE.

# shellcheck source=SCRIPTDIR/lib.sh
. /lib/guest.sh
boot /var/lib/containerd

cg=/sys/fs/cgroup
p=$cg/pod
h=/bin/vmhelper
s=run
d=/tmp/$s
sock=/run/containerd/containerd.sock
mkdir -p "$d"

step booted
# A hang fails with what every process was doing, not the VM timeout.
(
	sleep 200
	echo "STUCK"
	ps -o pid,ppid,stat,comm,args | cut -c 1-200
	tail -n 40 /tmp/pod.log
	rec stuck yes
	finish
) &

# The node enables every controller for its children and limits the pod.
enable_controllers
mkdir "$p"
echo "50000 100000" >"$p/cpu.max"
echo 268435456 >"$p/memory.max"
echo 0 >"$p/memory.swap.max" 2>/dev/null || :

# The pod: new PID and mount namespaces (the forking unshare stays outside,
# in the node's root cgroup, like a runtime's shim), then its PID 1 joins
# /pod and takes a new cgroup namespace rooted there and a cgroup2 mount of
# its own, as a pod's runtime gives it; envbox is that PID 1.
step starting the pod
export ENVBOX_LOG_FORMAT=human ENVBOX_STOP_GRACE=5s
/usr/bin/unshare --mount --propagation private --pid --fork --mount-proc \
	sh -c 'echo $$ >/sys/fs/cgroup/pod/cgroup.procs && exec /usr/bin/unshare --cgroup \
	sh -c "umount /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec envbox run --cgroup-parent=/default -- containerd --address /run/containerd/containerd.sock"' \
	>/tmp/pod.log 2>&1 &
pod=$!
wait_for 120 ctr --address "$sock" version
rec ctr_version_rc "$?"
# envbox: the pod's PID 1, containerd's parent.
ctrd=$(pidof containerd)
envbox=$(awk '/^PPid:/ {print $2}' "/proc/$ctrd/status")
rec envbox_comm "$(cat "/proc/$envbox/comm")"
rec envbox_cgroup "$(cat "/proc/$envbox/cgroup")"
rec containerd_cgroup "$(cat "/proc/$ctrd/cgroup")"
rec envbox_parent "$(awk '/^PPid:/ {print $2}' "/proc/$envbox/status")"
rec pod_unshare "$pod"
rec envbox_pid "$envbox"
rec pod_procs "$(cat "$p/cgroup.procs")"
rec pod_subtree_control "$(cat "$p/cgroup.subtree_control")"

step ctr run
mkdir -p /rootfs/proc /rootfs/sys /rootfs/dev /rootfs/tmp
ln -s busybox /rootfs/bin/sleep
ln -s busybox /rootfs/bin/sh
ctr --address "$sock" run -d --rootfs /rootfs t1 /bin/sleep 600 >/tmp/ctr.out 2>&1
rec ctr_run_rc "$?"
rec ctr_run_out "$(cat /tmp/ctr.out)"
wait_for 20 grep -q . "$p/default/t1/cgroup.procs"
task=$(cat "$p/default/t1/cgroup.procs")
rec task_comm "$(cat "/proc/$task/comm")"
rec task_cgroup "$(cat "/proc/$task/cgroup")"
rec task_cgroup_id "$(stat -c %i "$p/default/t1")"
rec task_cpu_max "$(cat "$p/cpu.max")"
rec task_memory_max "$(cat "$p/memory.max")"
rec task_own_memory_max "$(cat "$p/default/t1/memory.max")"
# The headroom reserve of --cgroup-parent=/default: the pod's 256 MiB less
# auto's reserve (192 MiB, capped at half the pod); the pod sets no pids.max.
rec default_memory_max "$(cat "$p/default/memory.max")"
rec default_pids_max "$(cat "$p/default/pids.max")"
rec containerd_oom_score_adj "$(cat "/proc/$ctrd/oom_score_adj")"
rec envbox_oom_score_adj "$(cat "/proc/$envbox/oom_score_adj")"

# The pod's memory.max binds the task: 400 MiB in a 256 MiB pod is killed.
step ctr run hog
ctr --address "$sock" run --rm --rootfs /rootfs t2 /bin/vmhelper hog 400 >/tmp/hog.out 2>&1
rec hog_rc "$?"
rec hog_out "$(cat /tmp/hog.out)"
rec pod_oom_kill "$(awk '/^oom_kill / {print $2}' "$p/memory.events")"

step doctor
/usr/bin/nsenter -t "$envbox" -m -C -p -- envbox doctor --json --host-cgroup-root=/pod >/tmp/doctor.json 2>/tmp/doctor.err
rec doctor_rc "$?"
rec doctor_json "$(cat /tmp/doctor.json)"
rec doctor_err "$(cat /tmp/doctor.err)"
mkdir "$cg/outside"
echo "$task" >"$cg/outside/cgroup.procs"
/usr/bin/nsenter -t "$envbox" -m -C -p -- envbox doctor --host-cgroup-root=/pod >/tmp/doctor2.out 2>/tmp/doctor2.err
rec doctor_outside_rc "$?"
rec doctor_outside_err "$(cat /tmp/doctor2.err)"
echo "$task" >"$p/default/t1/cgroup.procs"

step stopping the pod
t0=$(uptime_ms)
kill -TERM "$envbox"
wait "$pod"
rec pod_exit "$?"
rec stop_ms "$(($(uptime_ms) - t0))"
rec procs_after "$(find "$p" -name cgroup.procs -exec cat {} + 2>/dev/null)"
rec log_tail "$(tail -n 40 /tmp/pod.log)"
finish
