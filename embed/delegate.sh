# shellcheck shell=sh
# envbox cgroup delegation wrapper.
#
# Invoked as: unshare --cgroup -- /bin/sh -c "$script" BIN [ARGS...]
# so "$0" is the binary to exec once the cgroup tree is delegated.
#
# Environment (set by envbox, never spliced into this text):
#   ENVBOX_DELEGATE_ATTEMPTS  bound on migrate+enable attempts, 1..999999999
#                             (default 100 when unset; set but empty is an error)
#   ENVBOX_DELEGATE_HOOK      optional: the envbox binary; "$it delegate-hook --
#                             BIN ARGS..." runs after the delegation, before BIN
#                             (the headroom reserve). Its failure is a warning.
#   ENVBOX_OOM_SCORE_ADJ      optional, -1000..1000: written to
#                             /proc/self/oom_score_adj before BIN, so BIN does
#                             not inherit envbox's own (-999). A failed write is
#                             a warning.
#
# On cgroup v2 it remounts /sys/fs/cgroup inside the new cgroup namespace, so
# the container's own cgroup becomes the root, moves every process of that root
# into the leaf /init and enables every available controller for children.
# Then it execs BIN, whose cgroups (dockerd's /docker/<id>) nest under the pod.
#
# Exit status: 2 for a bad ENVBOX_DELEGATE_ATTEMPTS or ENVBOX_OOM_SCORE_ADJ, 1 for any other failure,
# each with one line on stderr naming the step, the path and the reason.
# Runs the same under dash, busybox ash and bash: only builtins in the
# per-PID path; external tools (umount, mount, mkdir, cat, sleep, dd) run a
# bounded number of times.

cg=/sys/fs/cgroup
nl='
'

fail() {
	printf 'envbox-delegate: %s\n' "$*" >&2
	exit "${status:-1}"
}

# reason TEXT: the system error in an error message ("dd: error writing
# 'standard output': No such process" -> "No such process"), first line only.
reason() {
	r=${1%%"$nl"*}
	r=${r##*: }
	printf '%s' "${r:-failed}"
}

# write_err TEXT FILE: write TEXT in one write(2) and print why it failed.
# Shell builtins (busybox's above all) do not say why a write failed, and
# busybox printf does not even notice; dd reports the errno in every
# implementation. Used only on error paths.
write_err() {
	err=$(printf '%s\n' "$1" | dd 2>&1 >"$2") && return 1
	reason "$err"
}

# read_err FILE: why FILE cannot be read.
read_err() {
	err=$(cat -- "$1" 2>&1 >/dev/null) && { printf 'read failed'; return; }
	reason "$err"
}

# read_words FILE: the whole FILE, words joined by single spaces, into
# $words, without a fork. The file is read completely before the caller
# acts on it: reading cgroup.procs while processes leave it skips entries.
# Cheap for short files only (see the cat in the loop).
read_words() {
	words=''
	while read -r line || [ -n "$line" ]; do
		words="$words $line"
	done <"$1" || return 1
	words=${words# }
}

# start: the last step of every path. The hook and the oom_score_adj run
# here, in the namespace BIN will run in and after the processes left the
# root, so what the hook creates is where BIN looks for it.
start() {
	if [ -n "${ENVBOX_DELEGATE_HOOK-}" ]; then
		"$ENVBOX_DELEGATE_HOOK" delegate-hook -- "$0" "$@" ||
			printf 'envbox-delegate: warning: %s delegate-hook exited %s; starting %s without it\n' \
				"$ENVBOX_DELEGATE_HOOK" "$?" "$0" >&2
	fi
	if [ -n "$oom" ] && ! { echo "$oom" >/proc/self/oom_score_adj; } 2>/dev/null; then
		why=$(write_err "$oom" /proc/self/oom_score_adj) || why='write failed'
		printf 'envbox-delegate: warning: write %s to /proc/self/oom_score_adj: %s; %s keeps %s\n' \
			"$oom" "$why" "$0" "$(cat /proc/self/oom_score_adj 2>/dev/null)" >&2
	fi
	exec "$0" "$@"
}

oom=${ENVBOX_OOM_SCORE_ADJ-}
case $oom in
'') ;;
-1000 | -[1-9] | -[1-9][0-9] | -[1-9][0-9][0-9] | 0 | [1-9] | [1-9][0-9] | [1-9][0-9][0-9] | 1000) ;;
*) status=2 fail "ENVBOX_OOM_SCORE_ADJ=\"$oom\": want a whole number from -1000 to 1000" ;;
esac

attempts=${ENVBOX_DELEGATE_ATTEMPTS-100}
case $attempts in
'' | *[!0-9]* | 0* | ??????????*)
	status=2 fail "ENVBOX_DELEGATE_ATTEMPTS=\"$attempts\": want a whole number from 1 to 999999999"
	;;
esac

# cgroup v1, or hybrid without cgroup2 at /sys/fs/cgroup: nothing to delegate.
[ -e "$cg/cgroup.controllers" ] || start "$@"

# A bare mount on top fails with "already mounted" inside a container:
# unmount first, then mount so the namespace root is the new root. Lazily:
# a process of the container may hold a file of the mount open, and envbox
# itself does (Go 1.25+ keeps cpu.max open for its GOMAXPROCS when the pod
# has a CPU limit), which makes a plain umount fail with EBUSY. The holders
# keep reading the pod's own files through the detached mount.
err=$(umount -l "$cg" 2>&1) || fail "remount: umount -l $cg: $(reason "$err")"
err=$(mount -t cgroup2 cgroup2 "$cg" 2>&1) || fail "remount: mount -t cgroup2 cgroup2 $cg: $(reason "$err")"
err=$(mkdir -p "$cg/init" 2>&1) || fail "mkdir -p $cg/init: $(reason "$err")"

# One open for every move: half the time of one open per PID, and a PID
# that vanished (ESRCH) fails only its own write(2) in dash, busybox and bash.
if ! { command exec 3>"$cg/init/cgroup.procs"; } 2>/dev/null; then
	err=$({ exec 3>"$cg/init/cgroup.procs"; } 2>&1)
	fail "open $cg/init/cgroup.procs: $(reason "$err")"
fi

read_words "$cg/cgroup.controllers" 2>/dev/null ||
	fail "read $cg/cgroup.controllers: $(read_err "$cg/cgroup.controllers")"
enable=''
for c in $words; do
	enable="$enable +$c"
done
enable=${enable# }

n=0
while :; do
	n=$((n + 1))
	# One cat per attempt, not per PID: the builtin read of bash lseeks back
	# after every line, and cgroup.procs regenerates from the start on each
	# seek, which costs bash about a second for 1000 PIDs.
	words=$(cat -- "$cg/cgroup.procs" 2>/dev/null) || fail "read $cg/cgroup.procs: $(read_err "$cg/cgroup.procs")"
	for pid in $words; do
		echo "$pid"
	done >&3 2>/dev/null
	# Domain controllers (memory, io) refuse with EBUSY while the root still
	# holds processes; threaded ones (cpu, pids) do not, so success needs
	# both the write and an empty root.
	enabled=yes
	if [ -n "$enable" ]; then
		{ echo "$enable" >"$cg/cgroup.subtree_control"; } 2>/dev/null || enabled=no
	fi
	# Usually empty now: the builtin read is cheap and needs no fork.
	read_words "$cg/cgroup.procs" 2>/dev/null || fail "read $cg/cgroup.procs: $(read_err "$cg/cgroup.procs")"
	if [ -z "$words" ] && [ "$enabled" = yes ]; then
		exec 3>&-
		start "$@"
	fi
	[ "$n" -lt "$attempts" ] || break
	# Forks in the root and exiting children settle within milliseconds.
	sleep 0.01 2>/dev/null || sleep 1
done
exec 3>&-

# Exhausted: find the last error with a tool that reports the errno.
if [ -n "$words" ]; then
	pid=${words%% *}
	if why=$(write_err "$pid" "$cg/init/cgroup.procs"); then
		last="move $pid to $cg/init/cgroup.procs: $why"
	else
		last="processes keep entering $cg"
	fi
else
	why=$(write_err "$enable" "$cg/cgroup.subtree_control") || why='refused until the last attempt'
	last="write \"$enable\" to $cg/cgroup.subtree_control: $why"
fi
# Name each controller that refuses on its own (e.g. cpu while a realtime
# task exists: EINVAL), so the operator knows which one, not only that one
# did. The probe leaves the controllers that accept enabled; nothing is
# exec'd after it.
refusing=''
for c in $enable; do
	why=$(write_err "$c" "$cg/cgroup.subtree_control") && refusing="$refusing, ${c#+} ($why)"
done
refusing=${refusing#, }
fail "gave up after $n attempts: $last; pids still in $cg: ${words:-none}; controllers refusing: ${refusing:-none}"
