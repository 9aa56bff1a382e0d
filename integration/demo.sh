#!/bin/sh
# shellcheck shell=sh
# `make demo`: run `envbox dind` safely on this machine and show where a
# container lands, as the host's cgroupfs sees it. Then stop and clean up.
#
# Safety: everything happens in a fresh cgroup T under the host's cgroup2
# mount, joined and PROVEN joined (/proc/self/cgroup names T) before new
# cgroup and mount namespaces are entered; inside, cgroup2 is mounted at
# /sys/fs/cgroup and proven to be T (same inode) before envbox runs. pod.sh
# then models a pod: it moves into T/pod and execs envbox. Data root, exec
# root, pid file and socket live in a throwaway directory; no bridge, no
# iptables. On exit (even on failure or Ctrl-C) every process of T is
# stopped, every cgroup removed, the directory deleted.
#
# Environment:
#   ENVBOX_BIN          envbox binary (default: bin/envbox of this checkout)
#   ENVBOX_TEST_CGROUP2_ROOT  host cgroup2 mount for the test cgroup (default:
#                       found as integration/cgtest finds it: the cgroup2
#                       mount at /sys/fs/cgroup, else the first one in
#                       /proc/self/mountinfo, e.g. /sys/fs/cgroup/unified)
#   ENVBOX_TEST_CACHE   image tarball cache, see images.sh
set -eu

here=$(cd "$(dirname "$0")" && pwd)

fail() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

# cgroup_of PID prints the cgroup2 path of PID (its "0::" line), relative
# to the reader's cgroup namespace root.
cgroup_of() {
	while read -r line; do
		case $line in 0::*) printf '%s\n' "${line#0::}" ;; esac
	done <"/proc/$1/cgroup"
}

# cgroup2_root prints the cgroup2 mount at /sys/fs/cgroup, else the first
# cgroup2 mount of /proc/self/mountinfo, else nothing.
cgroup2_root() {
	first=''
	while read -r _ _ _ _ mnt rest; do
		case " $rest" in *" - cgroup2 "*) ;; *) continue ;; esac
		if [ "$mnt" = /sys/fs/cgroup ]; then
			printf '%s\n' "$mnt"
			return
		fi
		[ -n "$first" ] || first=$mnt
	done </proc/self/mountinfo
	[ -z "$first" ] || printf '%s\n' "$first"
}

# Stage 2, run as `demo.sh __join CGROUP INODE CMD...`: join CGROUP, prove
# it, then enter new cgroup and mount namespaces rooted there.
if [ "${1:-}" = __join ]; then
	cgdir=$2
	echo "$$" >"$cgdir/cgroup.procs" || fail "join: write $$ to $cgdir/cgroup.procs failed"
	self=$(cgroup_of self)
	[ "$self" = "/${cgdir##*/}" ] || fail "join: /proc/self/cgroup reads \"$self\", want \"/${cgdir##*/}\": not joined"
	shift
	exec unshare --cgroup --mount --propagation private -- /bin/sh "$0" __guard "$@"
fi

# Stage 3, run as `demo.sh __guard CGROUP INODE CMD...` in the new
# namespaces: mount cgroup2 privately and prove its root is CGROUP.
if [ "${1:-}" = __guard ]; then
	mount --make-rprivate / || fail "guard: mount --make-rprivate / failed"
	mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "guard: mount -t cgroup2 cgroup2 /sys/fs/cgroup failed"
	ino=$(stat -c %i /sys/fs/cgroup) || fail "guard: stat /sys/fs/cgroup failed"
	[ "$ino" = "$3" ] || fail "guard: /sys/fs/cgroup root inode $ino, want $2 (inode $3)"
	self=$(cgroup_of self)
	[ "$self" = / ] || fail "guard: /proc/self/cgroup reads \"$self\", want \"/\""
	shift 3
	exec /bin/sh "$here/pod.sh" "$@"
fi

[ "$(id -u)" = 0 ] || fail "needs root (creates a cgroup and mounts in private namespaces)"
for bin in dockerd docker unshare mount stat; do
	command -v "$bin" >/dev/null || fail "$bin not installed (run integration/deps.sh)"
done
envbox=${ENVBOX_BIN:-$here/../bin/envbox}
[ -x "$envbox" ] || fail "$envbox: not built (run make build)"
envbox=$(cd "$(dirname "$envbox")" && pwd)/$(basename "$envbox")
root=${ENVBOX_TEST_CGROUP2_ROOT:-$(cgroup2_root)}
[ -n "$root" ] || fail "no cgroup2 mount in /proc/self/mountinfo (set ENVBOX_TEST_CGROUP2_ROOT to one)"
[ "$(stat -f -c %T "$root" 2>/dev/null)" = cgroup2fs ] || fail "$root is not a cgroup2 mount"
tarball=$("$here/images.sh" base)

rand=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
cg="$root/envbox-test-demo-$rand"
dir=$(mktemp -d /tmp/ebx-demo.XXXXXX)
sock="$dir/docker.sock"
pid=''

cleanup() {
	if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
		echo "demo: stopping envbox (pid $pid)"
		n=0
		while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 300 ]; do
			sleep 0.1
			n=$((n + 1))
		done
	fi
	if [ -d "$cg" ]; then
		echo 1 >"$cg/cgroup.kill" 2>/dev/null || true
		n=0
		while ! grep -qx 'populated 0' "$cg/cgroup.events" && [ "$n" -lt 100 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		find "$cg" -depth -type d -exec rmdir {} + || echo "demo: could not remove every cgroup under $cg" >&2
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir "$cg" || fail "mkdir $cg"
ino=$(stat -c %i "$cg")
echo '{}' >"$dir/daemon.json"
echo "demo: test cgroup $cg (cgroup ID $ino), pod cgroup $cg/pod, data in $dir"
/bin/sh "$0" __join "$cg" "$ino" "$envbox" dind -- dockerd \
	"--host=unix://$sock" "--data-root=$dir/data" "--exec-root=$dir/x" \
	"--pidfile=$dir/docker.pid" "--config-file=$dir/daemon.json" \
	--storage-driver=overlay2 --bridge=none --iptables=false --ip6tables=false \
	>"$dir/envbox.log" 2>&1 &
pid=$!

docker() { command docker -H "unix://$sock" "$@"; }
n=0
until docker version >/dev/null 2>&1; do
	kill -0 "$pid" 2>/dev/null || { cat "$dir/envbox.log" >&2; fail "envbox exited before dockerd answered"; }
	[ "$n" -lt 900 ] || { tail -n 30 "$dir/envbox.log" >&2; fail "dockerd did not answer on $sock in 90 s"; }
	sleep 0.1
	n=$((n + 1))
done

echo "demo: docker info"
docker info 2>/dev/null | grep -E 'Server Version|Storage Driver|Cgroup (Driver|Version)' || true
dockerd_pid=$(cat "$dir/docker.pid")
echo "demo: dockerd pid $dockerd_pid runs in host cgroup $(cgroup_of "$dockerd_pid")"

docker import "$tarball" envbox-demo/base >/dev/null
id=$(docker run -d --network none --stop-timeout 2 envbox-demo/base sleep 3600)
cpid=$(docker inspect -f '{{.State.Pid}}' "$id")
path=$(cgroup_of "$cpid")
echo "demo: container $(printf '%.12s' "$id") (host pid $cpid) runs in host cgroup $path"
echo "demo:   $root$path, cgroup ID $(stat -c %i "$root$path")"
case $path in
"/${cg##*/}/pod/docker/$id") echo "demo: OK: the container is inside the pod's cgroup" ;;
*) fail "container cgroup $path is not /${cg##*/}/pod/docker/$id" ;;
esac
