# shellcheck shell=sh
# Sourced at the top of the pod VMs' /init (workspace-init.sh,
# headroom-init.sh, run-init.sh), which set s (the scenario), d (its
# results directory) and h (the helper) before calling what needs them.
# shellcheck disable=SC2154 # s, d and h are the sourcing script's.

# boot DIR...: the machine's start-up. runc's pivot_root refuses the
# initramfs root (rootfs): copy it to a tmpfs and switch to that first, as
# a real machine's root would be (/init runs again there). Then the
# pseudo file systems, a tmpfs /run, the DIRs made, cgroup2 at
# /sys/fs/cgroup.
boot() {
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
	# util-linux's unshare and nsenter (/usr/bin) come before busybox's
	# applets (named by path: busybox ash runs its own applet for a bare name).
	export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	mkdir -p /dev/pts /dev/shm /run "$@"
	mount -t devpts devpts /dev/pts
	mount -t tmpfs tmpfs /dev/shm
	mount -t tmpfs tmpfs /run
	ln -s /run /var/run
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
	dmesg -n 1
}

# rec KEY VALUE: record one result.
rec() {
	printf '%s\n' "$2" >"$d/$1"
}

# step: progress on the console (for a run that times out) and in the
# results (uptime and step, one per line).
step() {
	line="$(cut -d ' ' -f 1 /proc/uptime) $*"
	echo "STEP $line"
	printf '%s\n' "$line" >>"$d/steps"
	touch /tmp/progress
}

# watchdog LOG: when no step was taken for 240 s, dump what every process
# is doing and LOG's last lines on the console, record it and end the run,
# so a hang fails with its cause instead of the VM timeout.
watchdog() {
	while sleep 10; do
		[ -n "$(find /tmp/progress -mmin -4)" ] && continue
		echo "STUCK after: $(tail -n 1 "$d/steps")"
		ps -o pid,ppid,stat,comm,args | cut -c 1-200
		for q in /proc/[0-9]*; do
			printf 'STACK %s %s: %s\n' "${q#/proc/}" "$(cat "$q/comm")" "$(head -n 3 "$q/stack" 2>/dev/null | tr '\n' ' ')"
		done
		tail -n 30 "$1"
		rec stuck "$(tail -n 1 "$d/steps")"
		finish
	done
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
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.5
	done
}

# uptime_ms: the machine's uptime in milliseconds.
uptime_ms() {
	read -r up _ </proc/uptime
	echo $(((${up%.*} * 100 + ${up#*.}) * 10))
}

# load_modules: the kernel package's bridge, veth and overlay modules
# (with their dependencies) that dockerd's networking and storage need.
load_modules() {
	for m in llc stp bridge veth overlay; do
		insmod "/modules/$m.ko" || {
			rec modules "insmod $m failed"
			finish
		}
	done
	rec modules ok
}

# enable_controllers: the node enables every controller for its
# children, as the kubelet does.
enable_controllers() {
	read -r controllers </sys/fs/cgroup/cgroup.controllers
	for c in $controllers; do
		echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control
	done
}
