#!/bin/sh
# shellcheck shell=sh
# /init of the workspace VM: a pure cgroup v2 machine where the real envbox
# binary runs `envbox docker` as a pod's container (dockerd, containerd and
# runc are the host's docker.io, with their libraries). The pod has 1.5 CPUs
# and 768 MiB; no CODER_CPUS/CODER_MEMORY, so envbox derives the workspace's
# limits from the pod. Records what the machine's cgroupfs says of the
# workspace container, prints `RESULT ws {...}` and DONE, powers off.

# runc's pivot_root refuses the initramfs root (rootfs): copy it to a tmpfs
# and switch to that first, as a real machine's root would be.
if [ ! -e /.switched ]; then
	/bin/busybox mkdir /newroot
	/bin/busybox mount -t tmpfs tmpfs /newroot
	for e in /*; do
		[ "$e" = /newroot ] || /bin/busybox cp -a "$e" /newroot/
	done
	/bin/busybox touch /newroot/.switched
	exec /bin/busybox switch_root /newroot /init
fi
/bin/busybox --install -s /bin
# util-linux's unshare and nsenter (/usr/bin) come before busybox's applets.
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run /var/lib/docker /share
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
ln -s /run /var/run
# The bootstrap script writes here as the workspace user.
chmod 1777 /share
mount -t cgroup2 cgroup2 /sys/fs/cgroup
dmesg -n 1

cg=/sys/fs/cgroup
h=/bin/vmhelper
s=ws
d=/tmp/$s
pod=$cg/pod
image='envbox-vm/workspace:1'
token='envbox-vm-token-7e21c4'
mkdir -p "$d"

# rec KEY VALUE: record one result.
rec() {
	printf '%s\n' "$2" >"$d/$1"
}

# step: progress on the console, for a run that times out.
step() {
	echo "STEP $(cut -d ' ' -f 1 /proc/uptime) $*"
}

finish() {
	"$h" report "$s" "$d"
	echo DONE
	poweroff -f
}

# wait_for TRIES CMD...: run CMD every 0.5 s until it succeeds.
wait_for() {
	n=$1
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.5
	done
}

step booted
for m in llc stp bridge veth overlay; do
	insmod "/modules/$m.ko" || {
		rec modules "insmod $m failed"
		finish
	}
done
rec modules ok

# No registry: import the image into the data root with a plain dockerd
# first, as a pull would have left it.
step priming the data root
dockerd --data-root=/var/lib/docker --host=unix:///run/prime.sock \
	--exec-root=/run/prime --pidfile=/run/prime.pid --bridge=none --iptables=false \
	>/tmp/prime.log 2>&1 &
prime=$!
wait_for 240 "$h" import /run/prime.sock /images/workspace.tar "$image" 2>/tmp/import.err
rc=$?
rec import_rc "$rc"
[ "$rc" = 0 ] || rec import_err "$(tail -n 3 /tmp/import.err)"
kill -TERM "$prime"
wait "$prime"
rec prime_rc "$?"

# The pod: every controller delegated to it, as the kubelet does.
read -r controllers <"$cg/cgroup.controllers"
for c in $controllers; do
	echo "+$c" >"$cg/cgroup.subtree_control"
done
mkdir "$pod"
echo "150000 100000" >"$pod/cpu.max"
echo 805306368 >"$pod/memory.max"

step starting envbox docker in the pod
export CODER_INNER_IMAGE="$image" CODER_INNER_USERNAME=coder CODER_AGENT_TOKEN="$token"
export CODER_MOUNTS=/share:/share
# shellcheck disable=SC2016 # expanded by the workspace's shell
export CODER_BOOTSTRAP_SCRIPT='id -un >/share/boot-user; printf "%s" "$CODER_AGENT_TOKEN" >/share/boot-token'
export ENVBOX_DOCKERD_EXTRA_ARGS="--iptables=false --userland-proxy=false"
export ENVBOX_DOCKERD_TIMEOUT=300s ENVBOX_STOP_GRACE=10s ENVBOX_LOG_FORMAT=json
# PID 1 of the pod's container: its own cgroup namespace rooted at the pod
# and mount namespace with cgroup2 mounted inside, as a container runtime
# sets them up; the subshell proves it joined the pod before exec.
(
	echo 0 >"$pod/cgroup.procs" || exit 97
	read -r self </proc/self/cgroup
	[ "$self" = "0::/pod" ] || exit 98
	exec "$h" ns /bin/sh -c 'umount /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec envbox docker'
) >/tmp/envbox.log 2>&1 &
envbox=$!

# bootstrapped: the script wrote the token, or envbox died (stop waiting).
# Every 30 s envbox's last log line goes to the console, for a run that
# times out.
polls=0
bootstrapped() {
	[ -s /share/boot-token ] && return 0
	polls=$((polls + 1))
	[ $((polls % 60)) != 0 ] || step "waiting for the bootstrap: $(tail -n 1 /tmp/envbox.log | cut -c 1-300)"
	! kill -0 "$envbox" 2>/dev/null
}
wait_for 600 bootstrapped
step workspace bootstrapped
rec boot_user "$(cat /share/boot-user)"
rec boot_token "$(cat /share/boot-token)"
id=$("$h" inspect /run/docker.sock workspace_cvm 2>&1)
rec id "$id"
rec docker_children "$(cd "$pod/docker" && ls -d -- */)"
rec cpu_max "$(cat "$pod/docker/$id/cpu.max")"
rec memory_max "$(cat "$pod/docker/$id/memory.max")"
rec pod_subtree_control "$(cat "$pod/cgroup.subtree_control")"
rec pod_procs "$(cat "$pod/cgroup.procs")"
rec envbox_cgroup "$(cat "/proc/$envbox/cgroup")"
rec dockerd_cgroup "$(cat "/proc/$(pidof dockerd)/cgroup")"
ws=$(head -n 1 "$pod/docker/$id/cgroup.procs")
rec workspace_comm "$(cat "/proc/$ws/comm")"
rec workspace_cgroup "$(cat "/proc/$ws/cgroup")"

step stopping envbox docker
rec term_uptime "$(cut -d ' ' -f 1 /proc/uptime)"
kill -TERM "$envbox"
wait "$envbox"
rec envbox_rc "$?"
rec exit_uptime "$(cut -d ' ' -f 1 /proc/uptime)"
rec procs_after "$(find "$pod" -name cgroup.procs -exec cat {} +)"
rec token_in_log "$(grep -c -F "$token" /tmp/envbox.log)"
rec create_line "$(grep -F 'creating the workspace container' /tmp/envbox.log)"
rec bootstrap_done "$(grep -c -F '"msg":"bootstrap script done"' /tmp/envbox.log)"
rec log_tail "$(tail -n 40 /tmp/envbox.log)"
finish
