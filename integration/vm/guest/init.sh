#!/bin/sh
# shellcheck shell=sh
# /init of the pure cgroup v2 VM (busybox ash as PID 1). Runs every scenario
# once and prints one line per scenario on the serial console:
#   RESULT <scenario> {"<key>": "<value>", ...}
# (vmhelper report turns /tmp/<scenario>/<key> files into that line), then
# DONE and powers off. The host test (package vm) asserts the values.
#
# Scenario pods are /sys/fs/cgroup/<scenario>; the delegation script
# (/delegate.sh, package embed) runs from inside the pod in a new cgroup and
# mount namespace and execs /bin/target <scenario>, which records what it sees.

/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# Kernel messages (OOM kills, pids limit) would tear RESULT lines apart.
dmesg -n 1

cg=/sys/fs/cgroup
h=/bin/vmhelper
script=$(cat /delegate.sh)
# The shell that runs the delegation script: busybox ash, then dash and
# bash (with their libraries in the initramfs) for scenarios 2 and 5a.
shell=/bin/sh
export cg h

echo "BOOTED $(cat /proc/uptime)"

# rec SCENARIO KEY VALUE: record one result.
rec() {
	mkdir -p "/tmp/$1"
	printf '%s\n' "$3" >"/tmp/$1/$2"
}

# recf SCENARIO KEY FILE: record a file's content.
recf() {
	mkdir -p "/tmp/$1"
	cat "$3" >"/tmp/$1/$2" 2>&1
}

report() {
	"$h" report "$1" "/tmp/$1"
}

# spawn POD: a background sleeper that lives in the pod's root cgroup.
spawn() {
	(echo 0 >"$cg/$1/cgroup.procs" && exec sleep 600) &
}

# settle POD N [COMM]: wait (at most 10 s) until POD's root holds at least
# N processes, all named COMM when given: under TCG a background start
# (fork, join, exec) takes a while, and a fixed sleep is a flake.
settle() {
	i=0
	while [ $i -lt 200 ]; do
		i=$((i + 1))
		n=0
		ok=yes
		while read -r p; do
			n=$((n + 1))
			[ -z "${3:-}" ] && continue
			comm=''
			read -r comm <"/proc/$p/comm"
			[ "$comm" = "$3" ] || ok=no
		done <"$cg/$1/cgroup.procs"
		[ "$n" -ge "$2" ] && [ $ok = yes ] && return 0
		sleep 0.05
	done
	echo "settle $1: $n processes, want $2 ${3:-}" >&2
}

# delegate POD [VAR=VALUE...]: from inside POD, in new cgroup and mount
# namespaces, run the delegation script exactly as envbox does
# (sh -c SCRIPT BIN ARGS), with BIN=/bin/target POD. Records rc and stderr.
delegate() {
	pod=$1
	shift
	read -r t0 _ </proc/uptime
	(
		echo 0 >"$cg/$pod/cgroup.procs" || exit 97
		read -r self </proc/self/cgroup
		# Never delegate anything but the pod: the join must have worked.
		[ "$self" = "0::/$pod" ] || exit 98
		exec env "$@" "$h" ns "$shell" -c "$script" /bin/target "$pod"
	) 2>"/tmp/$pod.err"
	rc=$?
	read -r t1 _ </proc/uptime
	rec "$pod" rc "$rc"
	# /proc/uptime has centiseconds: "12.34".
	rec "$pod" elapsed_ms "$(((${t1%.*}${t1#*.} - ${t0%.*}${t0#*.}) * 10))"
	recf "$pod" stderr "/tmp/$pod.err"
	rec "$pod" shell "$shell"
}

# hostmount: the cgroup2 line of the initial namespace's mountinfo.
hostmount() {
	grep ' - cgroup2 ' /proc/self/mountinfo
}

# The VM's root enables everything so each pod has every controller.
read -r ctls <"$cg/cgroup.controllers"
for c in $ctls; do
	echo "+$c" >"$cg/cgroup.subtree_control"
done

# 1. Without delegation: a non-leaf cgroup with processes refuses +memory.
s=s1_no_delegation
mkdir "$cg/$s" "$cg/$s/leaf"
spawn "$s"
settle "$s" 1 sleep
rec "$s" controllers "$(cat "$cg/$s/cgroup.controllers")"
rec "$s" procs_count "$(wc -l <"$cg/$s/cgroup.procs")"
rec "$s" write_with_procs "$("$h" write "$cg/$s/cgroup.subtree_control" +memory)"
while read -r p; do echo "$p" >"$cg/$s/leaf/cgroup.procs"; done <"$cg/$s/cgroup.procs"
rec "$s" write_after_move "$("$h" write "$cg/$s/cgroup.subtree_control" +memory)"
rec "$s" subtree_control "$(cat "$cg/$s/cgroup.subtree_control")"
echo 1 >"$cg/$s/leaf/cgroup.kill"
report "$s"

# 2. Delegation from inside a pod with processes.
s2() {
	s=$1
	mkdir "$cg/$s"
	spawn "$s"
	spawn "$s"
	spawn "$s"
	settle "$s" 3 sleep
	rec "$s" procs_before "$(wc -l <"$cg/$s/cgroup.procs")"
	delegate "$s"
	rec "$s" host_procs "$(cat "$cg/$s/cgroup.procs")"
	rec "$s" host_init_procs_count "$(wc -l <"$cg/$s/init/cgroup.procs")"
	rec "$s" host_subtree_control "$(cat "$cg/$s/cgroup.subtree_control")"
	p=$(head -n 1 "$cg/$s/init/cgroup.procs")
	rec "$s" host_sleeper_cgroup "$(cat "/proc/$p/cgroup")"
	echo 1 >"$cg/$s/init/cgroup.kill"
	report "$s"
}
s2 s2_delegate

# 3. Pod limits hold for workloads nested after delegation.
s=s3_limits
mkdir "$cg/$s"
echo 32M >"$cg/$s/memory.max"
echo 24 >"$cg/$s/pids.max"
spawn "$s"
settle "$s" 1 sleep
delegate "$s"
rec "$s" host_nested "$(cd "$cg/$s/docker" && echo */)"
rec "$s" host_memory_events "$(cat "$cg/$s/memory.events")"
rec "$s" host_pids_events "$(cat "$cg/$s/pids.events")"
echo 1 >"$cg/$s/cgroup.kill"
report "$s"

# 4. CPU quota read with envbox's reader inside the namespace.
s=s4_cpu_quota
mkdir "$cg/$s"
echo "50000 100000" >"$cg/$s/cpu.max"
rec "$s" host_cpu_max "$(cat "$cg/$s/cpu.max")"
spawn "$s"
settle "$s" 1 sleep
delegate "$s"
echo 1 >"$cg/$s/cgroup.kill"
report "$s"

# 4b. envbox's default mode end to end: a stand-in for envbox (PID 1 of the
# pod's container, own cgroup and mount namespaces, cgroup2 mounted by the
# "runtime") reads its limits, starts the wrapper in a new cgroup namespace
# only (the remount is shared with it), and reads them again, as
# `envbox docker` does after dockerd is up.
s=s4b_envbox_default_mode
mkdir "$cg/$s"
echo "50000 100000" >"$cg/$s/cpu.max"
echo 64M >"$cg/$s/memory.max"
spawn "$s"
settle "$s" 1 sleep
(
	echo 0 >"$cg/$s/cgroup.procs" || exit 97
	read -r self </proc/self/cgroup
	[ "$self" = "0::/$s" ] || exit 98
	export s script
	exec "$h" ns /bin/sh /bin/envbox-sim
) 2>"/tmp/$s.err"
rec "$s" sim_rc "$?"
recf "$s" sim_stderr "/tmp/$s.err"
echo 1 >"$cg/$s/cgroup.kill"
report "$s"

# 5a. A controller that can never be enabled: the pod holds a threaded
# subtree, so domain controllers (io, memory, hugetlb, rdma, misc) are
# refused with EOPNOTSUPP on every attempt.
s5() {
	s=$1
	mkdir "$cg/$s" "$cg/$s/threads"
	echo threaded >"$cg/$s/threads/cgroup.type"
	rec "$s" host_type "$(cat "$cg/$s/cgroup.type")"
	spawn "$s"
	settle "$s" 1 sleep
	rec "$s" probe_memory "$("$h" write "$cg/$s/cgroup.subtree_control" +memory)"
	delegate "$s" ENVBOX_DELEGATE_ATTEMPTS=3
	rec "$s" host_subtree_control "$(cat "$cg/$s/cgroup.subtree_control")"
	echo 1 >"$cg/$s/cgroup.kill"
	report "$s"
}
s5 s5_threaded

# 2 and 5a again under the other shells envbox images use as /bin/sh.
for b in dash bash; do
	[ -x /bin/$b ] || continue
	shell=/bin/$b
	s2 s2_delegate_$b
	s5 s5_threaded_$b
done
shell=/bin/sh

# 5b. A realtime task in the pod: without CONFIG_RT_GROUP_SCHED +cpu is
# still accepted, so this kernel cannot show the EINVAL case.
s=s5_realtime
mkdir "$cg/$s"
(echo 0 >"$cg/$s/cgroup.procs" && exec "$h" rt /bin/sleep 600) &
settle "$s" 1 sleep
rec "$s" sched "$("$h" policy "$(cat "$cg/$s/cgroup.procs")" 2>&1)"
delegate "$s" ENVBOX_DELEGATE_ATTEMPTS=3
rec "$s" host_subtree_control "$(cat "$cg/$s/cgroup.subtree_control")"
echo 1 >"$cg/$s/cgroup.kill"
report "$s"

# 6a. Churn inside the pod: processes fork continuously in the pod root.
s=s6_churn
mkdir "$cg/$s"
for _ in 1 2 3; do
	(echo 0 >"$cg/$s/cgroup.procs" && while :; do (:); done) &
done
settle "$s" 3
rec "$s" procs_before "$(wc -l <"$cg/$s/cgroup.procs")"
delegate "$s" ENVBOX_DELEGATE_ATTEMPTS=10
rec "$s" host_procs_after "$(cat "$cg/$s/cgroup.procs")"
echo 1 >"$cg/$s/cgroup.kill"
report "$s"

# 6b. Churn from outside: new processes keep entering the pod root (as
# `kubectl exec` does) while the script runs; it must converge or fail
# loudly, never succeed with processes left behind.
s=s6_injected
mkdir "$cg/$s"
spawn "$s"
(
	while :; do
		sleep 600 &
		r=$("$h" write "$cg/$s/cgroup.procs" $!)
		echo "$r" >>/tmp/$s.injected
		[ "$r" = ok ] || kill $!
		sleep 0.02
	done
) &
injector=$!
settle "$s" 3 sleep
delegate "$s" ENVBOX_DELEGATE_ATTEMPTS=5
# Let the injector meet the delegated root at least once.
i=0
while [ $i -lt 100 ] && ! grep -qv '^ok$' /tmp/$s.injected; do
	i=$((i + 1))
	sleep 0.05
done
kill "$injector"
rec "$s" injected_ok "$(grep -c '^ok$' /tmp/$s.injected)"
rec "$s" injected_refused "$(grep -vc '^ok$' /tmp/$s.injected)"
rec "$s" injected_errnos "$(grep -v '^ok$' /tmp/$s.injected | sort -u)"
echo 1 >"$cg/$s/cgroup.kill"
report "$s"

# 7. Mount options of the host's cgroup2 (issue 12): the script's remount in
# its own cgroup namespace must leave them as the host set them.
s=s7_mount_options
rec "$s" host_before_remount "$(hostmount)"
opts=nsdelegate,memory_recursiveprot,memory_localevents
rec "$s" remount_rc "$(mount -o remount,$opts $cg 2>&1; echo $?)"
rec "$s" host_before "$(hostmount)"
mkdir "$cg/$s"
spawn "$s"
settle "$s" 1 sleep
delegate "$s"
rec "$s" host_after "$(hostmount)"
echo 1 >"$cg/$s/cgroup.kill"
# Control: the same umount+mount WITHOUT a new cgroup namespace (private
# mount namespace only) resets the options, so the check above can fail.
unshare -m sh -c "mount --make-rprivate / && umount $cg && mount -t cgroup2 cgroup2 $cg"
rec "$s" control_rc "$?"
rec "$s" host_after_control "$(hostmount)"
report "$s"

echo DONE
poweroff -f
