# shellcheck shell=sh
# envbox cgroup delegation wrapper.
#
# Invoked as: unshare --cgroup -- /bin/sh -c "$script" BIN [ARGS...]
# so "$0" is the binary to exec once the cgroup tree is delegated.
#
# Environment (set by envbox, never spliced into this text):
#   ENVBOX_DELEGATE_ATTEMPTS  bound on migrate+enable attempts (default 100)
#
# On cgroup v2 it remounts /sys/fs/cgroup inside the new cgroup namespace, so
# the container's own cgroup becomes the root, moves every process of that root
# into the leaf /init and enables every available controller for children.
# Then it execs BIN, whose cgroups (dockerd's /docker/<id>) nest under the pod.

cg=/sys/fs/cgroup
attempts=${ENVBOX_DELEGATE_ATTEMPTS:-100}

fail() {
	printf 'envbox-delegate: %s\n' "$*" >&2
	exit 1
}

case $attempts in
'' | *[!0-9]*) fail "ENVBOX_DELEGATE_ATTEMPTS=\"$attempts\": not a positive integer" ;;
esac
[ "$attempts" -gt 0 ] || fail "ENVBOX_DELEGATE_ATTEMPTS=\"$attempts\": not a positive integer"

# cgroup v1, or hybrid without cgroup2 at /sys/fs/cgroup: nothing to delegate.
if [ ! -e "$cg/cgroup.controllers" ]; then
	exec "$0" "$@"
fi

# A bare mount on top fails with "already mounted" inside a container:
# unmount first, then mount so the namespace root is the new root.
err=$(umount "$cg" 2>&1) || fail "remount: umount $cg: ${err:-failed}"
err=$(mount -t cgroup2 cgroup2 "$cg" 2>&1) || fail "remount: mount -t cgroup2 cgroup2 $cg: ${err:-failed}"
err=$(mkdir -p "$cg/init" 2>&1) || fail "mkdir $cg/init: ${err:-failed}"

# Read a whole file of whitespace-separated words into $words without a fork.
read_words() {
	words=''
	while read -r line || [ -n "$line" ]; do
		words="$words $line"
	done <"$1" || return 1
	words=${words# }
}

read_words "$cg/cgroup.controllers" || fail "read $cg/cgroup.controllers failed"
enable=''
for c in $words; do
	enable="$enable +$c"
done
enable=${enable# }

n=0
last_err=''
while [ "$n" -lt "$attempts" ]; do
	n=$((n + 1))
	# Read the whole list before moving anyone: reading cgroup.procs while
	# processes leave it can skip entries.
	read_words "$cg/cgroup.procs" || fail "read $cg/cgroup.procs failed"
	for pid in $words; do
		# A PID that exited meanwhile (ESRCH) is not an error: the re-read
		# below decides whether the root is empty.
		echo "$pid" 2>/dev/null >"$cg/init/cgroup.procs"
	done
	enabled=yes
	if [ -n "$enable" ]; then
		# Domain controllers (memory, io) refuse with EBUSY while the root
		# still holds processes; threaded ones (cpu, pids) do not, so the
		# write alone proves nothing.
		if ! err=$({ echo "$enable" >"$cg/cgroup.subtree_control"; } 2>&1); then
			enabled=no
			last_err="write \"$enable\" to $cg/cgroup.subtree_control: ${err:-write failed}"
		fi
	fi
	read_words "$cg/cgroup.procs" || fail "read $cg/cgroup.procs failed"
	if [ "$enabled" = yes ] && [ -z "$words" ]; then
		exec "$0" "$@"
	fi
	[ -n "$words" ] && last_err="${last_err:+$last_err; }processes still in $cg: $words"
	[ "$n" -lt "$attempts" ] && { sleep 0.01 2>/dev/null || sleep 1; }
	[ "$n" -lt "$attempts" ] && last_err=''
done

# Name the controllers that refuse on their own (e.g. cpu while a realtime
# task exists: EINVAL), so the operator knows which one, not only that one did.
bad=''
for c in $enable; do
	{ echo "$c" >"$cg/cgroup.subtree_control"; } 2>/dev/null || bad="$bad ${c#+}"
done
read_words "$cg/cgroup.procs" || words='?'
fail "gave up after $attempts attempts: ${last_err:-unknown error}${bad:+; controllers that cannot be enabled:$bad}; pids still in $cg: ${words:-none}"
