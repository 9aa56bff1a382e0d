#!/bin/sh
# shellcheck shell=sh
# /init of the workspace VM: a pure cgroup v2 machine that plays a
# Kubernetes node. Its container runtime (the host's docker.io dockerd,
# containerd and runc) runs the pod: a privileged container with 1.5 CPUs
# and 768 MiB whose entrypoint is the real envbox binary, `envbox docker`,
# with neither CODER_CPUS nor CODER_MEMORY, so envbox derives the
# workspace's limits from the pod. Records what the node's cgroupfs says of
# the workspace, what `docker exec` (kubectl exec) lands in, and how the pod
# stops; prints `RESULT ws {...}` and DONE, powers off.

# shellcheck source=SCRIPTDIR/lib.sh
. /lib/guest.sh
boot /share /var/lib/node /var/lib/pod
mkdir -p /run/pod
# The bootstrap script writes here as the workspace user.
chmod 1777 /share

cg=/sys/fs/cgroup
h=/bin/vmhelper
s=ws
d=/tmp/$s
image='envbox-vm/workspace:1'
token='envbox-vm-token-7e21c4'
mkdir -p "$d"

# node: the node's container runtime; pod: the dockerd envbox runs in the
# pod (its /var/run is /run/pod here).
node() {
	docker -H unix:///run/node.sock "$@"
}
pod() {
	docker -H unix:///run/pod/docker.sock "$@"
}

step booted
watchdog /tmp/node.log &
load_modules

enable_controllers

# No registry: import the workspace image into the pod's data root with a
# plain dockerd first, as a pull would have left it.
step priming the data root of the pod
dockerd --data-root=/var/lib/pod --host=unix:///run/prime.sock \
	--exec-root=/run/prime --pidfile=/run/prime.pid --bridge=none --iptables=false \
	>/tmp/prime.log 2>&1 &
prime=$!
wait_for 240 docker -H unix:///run/prime.sock version
docker -H unix:///run/prime.sock import /images/workspace.tar "$image" >/dev/null 2>/tmp/import.err
rec import_rc "$?"
kill -TERM "$prime"
wait "$prime"
rec prime_rc "$?"

step starting the node runtime
dockerd --data-root=/var/lib/node --host=unix:///run/node.sock \
	--exec-root=/run/node --pidfile=/run/node.pid --bip=172.20.0.1/24 --iptables=false \
	>/tmp/node.log 2>&1 &
wait_for 240 node version
# The pod's image: the same busybox root; envbox and docker's binaries come
# from the node, read-only.
node import /images/workspace.tar "$image" >/dev/null

step starting the pod
export CODER_INNER_IMAGE="$image" CODER_INNER_USERNAME=coder CODER_AGENT_TOKEN="$token"
# The image's `sleep infinity` (the workspace's PID 1) is this script,
# through /usr/local/bin (first in the default PATH): plain sleep, except
# once /share/oom.fifo exists it waits for a line there and then becomes
# the allocator itself, so the process the OOM killer picks is the one
# whose death ends the container (an allocator under `docker exec` would
# be a child of the shim: only it would die).
mkdir -p /share/ws-bin
printf '%s\n' '#!/bin/sh' \
	'[ -p /share/oom.fifo ] || exec /bin/sleep "$@"' \
	'read -r _ </share/oom.fifo' \
	'exec /bin/busybox tail /dev/zero' >/share/ws-bin/sleep
chmod 755 /share/ws-bin/sleep
export CODER_MOUNTS=/share:/share,/share/ws-bin:/usr/local/bin:ro
# shellcheck disable=SC2016 # expanded by the workspace's shell
export CODER_BOOTSTRAP_SCRIPT='id -un >/share/boot-user; printf "%s" "$CODER_AGENT_TOKEN" >/share/boot-token'
export ENVBOX_DOCKERD_EXTRA_ARGS="--iptables=false --userland-proxy=false"
export ENVBOX_DOCKERD_TIMEOUT=300s ENVBOX_STOP_GRACE=10s ENVBOX_LOG_FORMAT=json
node run -d --name pod --privileged --cpus 1.5 --memory 768m \
	-v /usr:/usr:ro -v /lib:/lib:ro -v /lib64:/lib64:ro \
	-v /var/lib/pod:/var/lib/docker -v /run/pod:/var/run -v /share:/share \
	-e CODER_INNER_IMAGE -e CODER_INNER_USERNAME -e CODER_AGENT_TOKEN -e CODER_MOUNTS \
	-e CODER_BOOTSTRAP_SCRIPT -e ENVBOX_DOCKERD_EXTRA_ARGS -e ENVBOX_DOCKERD_TIMEOUT \
	-e ENVBOX_STOP_GRACE -e ENVBOX_LOG_FORMAT \
	--entrypoint /usr/local/bin/envbox "$image" docker >/tmp/pod.id 2>/tmp/pod.err
rec pod_run_rc "$?"
rec pod_run_err "$(cat /tmp/pod.err)"

# bootstrapped: the script wrote the token, or the pod ended (stop
# waiting). Every 30 s the pod's last log line goes to the console.
polls=0
bootstrapped() {
	[ -s /share/boot-token ] && return 0
	polls=$((polls + 1))
	[ $((polls % 60)) != 0 ] || step "waiting for the bootstrap: $(node logs --tail 1 pod 2>&1 | cut -c 1-300)"
	[ "$(node inspect -f '{{.State.Running}}' pod)" != true ]
}
wait_for 1200 bootstrapped
step workspace bootstrapped
rec boot_user "$(cat /share/boot-user)"
rec boot_token "$(cat /share/boot-token)"
podid=$(node inspect -f '{{.Id}}' pod)
pod1=$(node inspect -f '{{.State.Pid}}' pod)
id=$(pod inspect -f '{{.Id}}' workspace_cvm 2>&1)
rec pod_id "$podid"
rec id "$id"
p=$cg/docker/$podid
rec pod_cpu_max "$(cat "$p/cpu.max")"
rec pod_memory_max "$(cat "$p/memory.max")"
rec docker_children "$(cd "$p/docker" && ls -d -- */)"
rec cpu_max "$(cat "$p/docker/$id/cpu.max")"
rec memory_max "$(cat "$p/docker/$id/memory.max")"
rec pod_subtree_control "$(cat "$p/cgroup.subtree_control")"
rec pod_procs "$(cat "$p/cgroup.procs")"
rec envbox_cgroup "$(cat "/proc/$pod1/cgroup")"
rec init_comms "$(while read -r pid; do cat "/proc/$pid/comm"; done <"$p/init/cgroup.procs" | sort -u | tr '\n' ' ')"
ws=$(head -n 1 "$p/docker/$id/cgroup.procs")
rec workspace_comm "$(cat "/proc/$ws/comm")"
rec workspace_cgroup "$(cat "/proc/$ws/cgroup")"
# kubectl exec is runc exec into the pod: its root now refuses processes
# (EBUSY), so runc joins the cgroup of the pod's PID 1, envbox's /init.
rec exec_cgroup "$(node exec pod cat /proc/self/cgroup 2>&1)"

# envbox started again in the delegated pod (here through docker exec, as
# kubectl exec would, which lands in /init): it must delegate in the pod's
# own cgroup namespace, not a new one rooted at /init that would move the
# running envbox, dockerd and containerd one level down.
step starting a second envbox in the pod
node exec pod envbox dind -- dockerd --host=unix:///var/run/second.sock --data-root=/share/second \
	--exec-root=/var/run/second --pidfile=/var/run/second.pid --bridge=none --iptables=false \
	>/tmp/second.log 2>&1 &
second_client=$!
wait_for 240 docker -H unix:///run/pod/second.sock version
rec second_up "$?"
# Its pid file holds the pid in the pod's pid namespace: find it here by
# its command line.
second=''
for q in $(pidof dockerd); do
	grep -q second.sock "/proc/$q/cmdline" && second=$q
done
rec second_cgroup "$(cat "/proc/$second/cgroup")"
if [ "$(readlink "/proc/$second/ns/cgroup")" = "$(readlink "/proc/$pod1/ns/cgroup")" ]; then
	rec second_cgroupns same_as_pod
else
	rec second_cgroupns new
fi
rec envbox_cgroup_after_second "$(cat "/proc/$pod1/cgroup")"
rec init_children "$(cd "$p/init" && ls -d -- */ 2>/dev/null)"
rec second_log_line "$(grep -F 'already in /init' /tmp/second.log | cut -c 1-200)"
for q in $(pidof envbox); do
	grep -q second.sock "/proc/$q/cmdline" && kill -TERM "$q"
done
wait "$second_client"
rec second_rc "$?"

step stopping the pod
rec term_uptime "$(cut -d ' ' -f 1 /proc/uptime)"
node stop -t 60 pod >/dev/null
rec stop_uptime "$(cut -d ' ' -f 1 /proc/uptime)"
rec pod_exit "$(node inspect -f '{{.State.ExitCode}}' pod)"
rec procs_after "$(find "$p" -name cgroup.procs -exec cat {} + 2>/dev/null)"
node logs pod >/tmp/envbox.log 2>&1
rec token_in_log "$(grep -c -F "$token" /tmp/envbox.log)"
rec create_line "$(grep -F 'creating the workspace container' /tmp/envbox.log)"
rec bootstrap_done "$(grep -c -F '"msg":"bootstrap script done"' /tmp/envbox.log)"
rec log_tail "$(tail -n 40 /tmp/envbox.log)"

# The same pod once more (a new workspace container, same data root),
# this time to have the workspace OOM-killed: its memory.max is the pod's,
# so <pod>/docker's (the pod's less the headroom reserve) is the one the
# allocator hits. The pod must end with envbox's exit 1.
step restarting the pod for the OOM kill
rm -f /share/boot-token
mkfifo /share/oom.fifo
node start pod >/dev/null 2>/tmp/start.err
rec oom_start_rc "$?"
wait_for 1200 bootstrapped
step workspace bootstrapped again
oid=$(pod inspect -f '{{.Id}}' workspace_cvm 2>&1)
w=$p/docker/$oid
rec oom_id "$oid"
rec oom_docker_memory_max "$(cat "$p/docker/memory.max")"
rec oom_ws_memory_max "$(cat "$w/memory.max")"
rec oom_ws_procs "$(while read -r pid; do tr '\0' ' ' <"/proc/$pid/cmdline"; echo; done <"$w/cgroup.procs")"
step OOM-killing the workspace
echo go >/share/oom.fifo
rec oom_wait "$(node wait pod 2>&1)"
step the pod ended
rec oom_mark "$("$h" mark)"
rec oom_kernel "$(dmesg | grep -E 'oom-kill:|Killed process|envbox-vm mark' | cut -c 1-400)"
rec oom_pod_state "$(node inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.FinishedAt}}' pod)"
rec oom_ws_state "$(grep -o -E '"(ExitCode|OOMKilled|FinishedAt)":[^,]*' "/var/lib/pod/containers/$oid/config.v2.json" | tr '\n' ' ')"
rec oom_procs_after "$(find "$p" -name cgroup.procs -exec cat {} + 2>/dev/null)"
node logs pod >/tmp/envbox-oom.log 2>&1
rec oom_counted_line "$(grep -F 'cgroup counted a kill' /tmp/envbox-oom.log)"
rec oom_gone_line "$(grep -F 'processes are gone; waiting briefly' /tmp/envbox-oom.log)"
rec oom_stopped_line "$(grep -E 'the workspace container stopped|processes are gone; stopping dockerd' /tmp/envbox-oom.log)"
rec oom_last_line "$(tail -n 1 /tmp/envbox-oom.log)"
rec oom_log_tail "$(tail -n 30 /tmp/envbox-oom.log)"
rm -f /share/oom.fifo
finish
