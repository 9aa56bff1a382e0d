#!/bin/sh
# shellcheck shell=sh
# /init of the headroom VM: a pure cgroup v2 machine that plays a Kubernetes
# node (as guest/workspace-init.sh; both start up through guest/lib.sh). Its
# container runtime runs `envbox dind` as a privileged pod with memory.max
# 512 MiB and pids.max 256, first with the default headroom reserve, then
# with the reserve off (ENVBOX_RESERVE_*=0) as the control. In each pod an
# inner container allocates without bound, then another one forks without
# bound; what the kernel did and whether the pod's Docker API still serves
# is recorded. Prints `RESULT hr {...}` and DONE, powers off.

# shellcheck source=SCRIPTDIR/lib.sh
. /lib/guest.sh
boot /share /var/lib/node /var/lib/pod
mkdir -p /run/pod
# The bootstrap script writes here as the workspace user.
chmod 1777 /share

cg=/sys/fs/cgroup
h=/bin/vmhelper
s=hr
d=/tmp/$s
image='envbox-vm/workspace:1'
mkdir -p "$d"

# node: the node's container runtime.
node() {
	docker -H unix:///run/node.sock "$@"
}

step booted
watchdog /tmp/node.log &
load_modules

enable_controllers


step starting the node runtime
dockerd --data-root=/var/lib/node --host=unix:///run/node.sock \
	--exec-root=/run/node --pidfile=/run/node.pid --bip=172.20.0.1/24 --iptables=false \
	>/tmp/node.log 2>&1 &
wait_for 240 node version
node import /images/workspace.tar "$image" >/dev/null
rec node_import_rc "$?"

# The pod's dockerd sees AppArmor (envbox dind mounts securityfs, as
# docker:dind does) but the VM has no apparmor_parser: inner containers
# run unconfined.
prun() {
	pd run --security-opt apparmor=unconfined "$@"
}

now() {
	cut -d ' ' -f 1 /proc/uptime
}

# daemons P: "comm:pid" of every process in the pod's /init, sorted.
daemons() {
	while read -r pid; do
		printf '%s:%s\n' "$(cat "/proc/$pid/comm")" "$pid"
	done <"$1/init/cgroup.procs" | sort | tr '\n' ' '
}

# oom_scores P: "comm:oom_score_adj" of every process in /init, sorted.
oom_scores() {
	while read -r pid; do
		printf '%s:%s\n' "$(cat "/proc/$pid/comm")" "$(cat "/proc/$pid/oom_score_adj")"
	done <"$1/init/cgroup.procs" | sort -u | tr '\n' ' '
}

# field FILE KEY: the value of KEY in a flat-keyed cgroup file.
field() {
	sed -n "s/^$2 //p" "$1" 2>/dev/null
}

# timed KEY CMD...: run CMD, record KEY_rc and KEY_times ("T0 T1"
# uptimes) and the first 300 bytes of its stderr as KEY_err.
timed() {
	key=$1
	shift
	t0=$(now)
	"$@" >/dev/null 2>/tmp/timed.err
	rec "${key}_rc" "$?"
	rec "${key}_times" "$t0 $(now)"
	rec "${key}_err" "$(head -c 300 /tmp/timed.err)"
}

# scenario K RESERVE_MEMORY RESERVE_PIDS: one pod, both workloads. Every
# record is prefixed with K; every docker call in the pod has a timeout, as
# the control pod's API may stop answering.
scenario() {
	k=$1
	mkdir -p "/var/lib/$k" "/run/$k"
	step "starting pod $k"
	node run -d --name "$k" --privileged --memory 512m --memory-swap 512m --pids-limit 256 \
		-v /usr:/usr:ro -v /lib:/lib:ro -v /lib64:/lib64:ro \
		-v "/var/lib/$k:/var/lib/docker" -v "/run/$k:/var/run" \
		-e ENVBOX_RESERVE_MEMORY="$2" -e ENVBOX_RESERVE_PIDS="$3" -e ENVBOX_LOG_FORMAT=json \
		--entrypoint /usr/local/bin/envbox "$image" dind -- --iptables=false --bridge=none \
		>/dev/null 2>/tmp/pod.err
	rec "${k}_run_rc" "$?"
	pd() {
		timeout "$t" docker -H "unix:///run/$k/docker.sock" "$@"
	}
	t=10
	wait_for 240 pd version
	rec "${k}_up" "$?"
	podid=$(node inspect -f '{{.Id}}' "$k")
	p=$cg/docker/$podid
	t=120
	pd import /images/workspace.tar "$image" >/dev/null
	rec "${k}_import_rc" "$?"
	rec "${k}_pod_memory_max" "$(cat "$p/memory.max")"
	rec "${k}_pod_pids_max" "$(cat "$p/pids.max")"
	# The idle baseline of this VM, nothing running: under TCG absolute
	# times say little, their ratio to these says what the load costs.
	t=60
	for i in 1 2 3; do
		timed "${k}_base_run_$i" prun --rm "$image" true
	done
	t=10
	for i in 1 2 3; do
		timed "${k}_base_ps_$i" pd ps -q
	done
	t=60
	prun -d --name "idle-$k" "$image" sleep 100000 >/dev/null
	rec "${k}_idle_rc" "$?"
	t=30
	for i in 1 2 3; do
		timed "${k}_base_exec_$i" pd exec "idle-$k" true
	done
	# /docker: made by the hook (on) or by runc for the first container (off).
	rec "${k}_docker_memory_max" "$(cat "$p/docker/memory.max" 2>&1)"
	rec "${k}_docker_pids_max" "$(cat "$p/docker/pids.max" 2>&1)"
	rec "${k}_oom_scores" "$(oom_scores "$p")"
	idle=$(pd inspect -f '{{.Id}}' "idle-$k")
	rec "${k}_idle_pids_max" "$(cat "$p/docker/$idle/pids.max")"
	rec "${k}_idle_oom_score_adj" "$(cat "/proc/$(head -n 1 "$p/docker/$idle/cgroup.procs")/oom_score_adj")"
	# What /init needs: envbox, dockerd, containerd and one shim, idle.
	rec "${k}_init_memory_current" "$(cat "$p/init/memory.current")"
	rec "${k}_init_memory_peak" "$(cat "$p/init/memory.peak" 2>/dev/null)"
	rec "${k}_init_memory_stat" "$(grep -E '^(anon|file|kernel|kernel_stack|pagetables|sock|shmem|slab) ' "$p/init/memory.stat" | tr '\n' ' ')"
	rec "${k}_init_pids_current" "$(cat "$p/init/pids.current")"
	before=$(daemons "$p")
	rec "${k}_daemons_before" "$before"

	step "pod $k: a container allocates without bound"
	dmesg -c >/dev/null
	t0=$(now)
	prun -d --name "hog-$k" "$image" /bin/busybox tail /dev/zero >/dev/null
	rec "${k}_hog_rc" "$?"
	n=0
	while [ "$(field "$p/memory.events" oom_kill)" = 0 ] && [ "$n" -lt 240 ]; do
		sleep 0.5
		n=$((n + 1))
	done
	t1=$(now)
	rec "${k}_oom_times" "$t0 $t1"
	prun --rm "$image" true >/dev/null 2>/tmp/run.err
	rec "${k}_run_after_oom_rc" "$?"
	t2=$(now)
	rec "${k}_run_after_oom_times" "$t1 $t2"
	rec "${k}_run_after_oom_err" "$(head -c 300 /tmp/run.err)"
	t=10
	s0=$(now)
	pd ps -q >/dev/null
	rec "${k}_ps_after_oom_rc" "$?"
	rec "${k}_ps_after_oom_times" "$s0 $(now)"
	rec "${k}_hog_state" "$(pd inspect -f '{{.State.Status}} {{.State.ExitCode}} oomkilled={{.State.OOMKilled}}' "hog-$k" 2>&1)"
	rec "${k}_pod_events_local" "$(cat "$p/memory.events.local")"
	rec "${k}_pod_events" "$(cat "$p/memory.events")"
	rec "${k}_docker_events" "$(cat "$p/docker/memory.events" 2>/dev/null)"
	rec "${k}_docker_events_local" "$(cat "$p/docker/memory.events.local" 2>/dev/null)"
	rec "${k}_init_events" "$(cat "$p/init/memory.events")"
	rec "${k}_oom_kills" "$(dmesg | grep -E 'oom-kill:|Killed process' | sed 's/^\[[^]]*\] //' | cut -c 1-400)"
	rec "${k}_daemons_after_oom" "$(daemons "$p")"
	rec "${k}_pod_alive_after_oom" "$(node inspect -f '{{.State.Status}}' "$k")"
	t=60
	pd rm -f "hog-$k" >/dev/null 2>&1

	step "pod $k: a container forks without bound"
	# The inner shell forks until a fork fails, which ends it; the outer
	# one then becomes a sleep without forking (exec), so the container and
	# every sleep it left keep holding their PIDs.
	prun -d --name "bomb-$k" "$image" sh -c 'sh -c "while :; do sleep 1000 & done"; exec sleep 100000' >/dev/null
	rec "${k}_bomb_rc" "$?"
	bomb=$(pd inspect -f '{{.Id}}' "bomb-$k")
	# pids.events counts in the cgroup of the task whose fork failed (6.1),
	# not in the one whose limit was hit: look at every cgroup of the pod.
	n=0
	while ! grep -qs '^max [1-9]' "$p/pids.events" "$p/init/pids.events" "$p"/docker/*/pids.events &&
		[ "$n" -lt 240 ]; do
		sleep 0.5
		n=$((n + 1))
	done
	# Let it press against the limit a moment.
	sleep 2
	rec "${k}_pids_pod_events" "$(cat "$p/pids.events")"
	rec "${k}_pids_docker_events" "$(cat "$p/docker/pids.events" 2>/dev/null)"
	rec "${k}_pids_bomb_events" "$(for f in "$p"/docker/*/pids.events; do grep -H '^max [1-9]' "$f"; done | sed "s|$p/||" | tr '\n' ' ')"
	rec "${k}_pids_init_events" "$(cat "$p/init/pids.events")"
	rec "${k}_pids_docker_current" "$(cat "$p/docker/pids.current" 2>/dev/null)"
	rec "${k}_pids_pod_current" "$(cat "$p/pids.current")"
	rec "${k}_pids_init_current" "$(cat "$p/init/pids.current")"
	# The per-container cap (ENVBOX_RESERVE_EXEC_PIDS): the bomb stops at
	# its own pids.max; the other container is untouched.
	rec "${k}_bomb_pids_max" "$(cat "$p/docker/$bomb/pids.max" 2>&1)"
	rec "${k}_bomb_pids_current" "$(cat "$p/docker/$bomb/pids.current" 2>&1)"
	rec "${k}_bomb_pids_events" "$(cat "$p/docker/$bomb/pids.events" 2>&1)"
	rec "${k}_idle_pids_max_under_bomb" "$(cat "$p/docker/$idle/pids.max" 2>&1)"
	rec "${k}_idle_pids_events_under_bomb" "$(cat "$p/docker/$idle/pids.events" 2>&1)"
	rec "${k}_doctor_reserve" "$(timeout 60 docker -H unix:///run/node.sock exec "$k" envbox doctor 2>&1 | grep -E '^reserve:')"
	t=10
	s0=$(now)
	pd ps -q >/dev/null 2>/tmp/ps.err
	rec "${k}_ps_under_bomb_rc" "$?"
	rec "${k}_ps_under_bomb_times" "$s0 $(now)"
	rec "${k}_ps_under_bomb_err" "$(head -c 300 /tmp/ps.err)"
	t=30
	s0=$(now)
	pd exec "idle-$k" cat /proc/self/cgroup >/tmp/exec.out 2>&1
	rec "${k}_exec_under_bomb_rc" "$?"
	rec "${k}_exec_under_bomb_times" "$s0 $(now)"
	rec "${k}_exec_under_bomb_out" "$(head -c 300 /tmp/exec.out)"
	t=60
	timed "${k}_run_under_bomb" prun --rm "$image" true
	rec "${k}_pids_docker_current_end" "$(cat "$p/docker/pids.current" 2>/dev/null)"
	rec "${k}_daemons_after_bomb" "$(daemons "$p")"
	t=120
	pd rm -f "bomb-$k" >/dev/null 2>&1
	rec "${k}_bomb_rm_rc" "$?"
	t=30
	pd exec "idle-$k" true >/tmp/exec.out 2>&1
	rec "${k}_exec_after_bomb_rc" "$?"
	rec "${k}_exec_after_bomb_out" "$(head -c 300 /tmp/exec.out)"
	rec "${k}_daemons_end" "$(daemons "$p")"
	node logs "$k" >"/tmp/$k.log" 2>&1
	rec "${k}_reserve_line" "$(grep -F 'envbox-reserve' "/tmp/$k.log" | cut -c 1-400)"
	rec "${k}_headroom_line" "$(grep -F 'headroom for the daemons' "/tmp/$k.log" | cut -c 1-400)"
	rec "${k}_cap_lines" "$(grep -F 'per-container PID cap' "/tmp/$k.log" | head -n 3 | cut -c 1-400)"
	rec "${k}_capped_count" "$(grep -cF 'capped a new container' "/tmp/$k.log")"
	rec "${k}_capped_by_inotify" "$(grep -F 'capped a new container' "/tmp/$k.log" | grep -cF '"seen_by":"inotify"')"
	step "stopping pod $k"
	node stop -t 30 "$k" >/dev/null
	rec "${k}_exit" "$(node inspect -f '{{.State.ExitCode}}' "$k")"
	rec "${k}_log_tail" "$(tail -n 15 "/tmp/$k.log" | cut -c 1-300)"
	node rm "$k" >/dev/null
}

scenario on auto auto
scenario off 0 0
finish
