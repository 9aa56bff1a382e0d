#!/bin/sh
# shellcheck shell=sh
# Turns a test cgroup into a model of a Kubernetes pod whose container sees
# the node's cgroup tree (host cgroup namespace), then execs the payload.
#
# Usage: pod.sh CMD [ARGS...]
#
# Precondition (proven by the caller, e.g. cgtest's guard or demo.sh): this
# shell is the only process of a fresh test cgroup T, in its own mount and
# cgroup namespaces whose root is T, with /sys/fs/cgroup a private cgroup2
# mount of T. It then:
#   1. re-checks that: /proc/self/cgroup reads "0::/" and the root's
#      cgroup.procs holds exactly this shell (a machine's real root never does);
#   2. creates T/pod and moves itself there, and checks "0::/pod";
#   3. mounts a tmpfs on /run, as a container has its own: dockerd and
#      containerd put fixed paths there (/run/docker/plugins, /run/containerd/s)
#      whatever their flags say, which would otherwise stay on the host;
#   4. mounts a tmpfs on /etc/docker when the host has one, for the same
#      reason: dockerd 20.10 writes /etc/docker/key.json at every start.
# The payload runs in T/pod but sees T as the cgroup root, as a pod container
# with the host's cgroup namespace sees the node's root. A dockerd started
# directly there creates /docker/<id> = T/docker/<id>: outside the pod. Under
# `envbox dind`, the wrapper's new cgroup namespace makes T/pod the root, and
# containers land at T/pod/docker/<id>. Either way nothing leaves T.
set -eu
cg=/sys/fs/cgroup

fail() {
	printf 'pod.sh: %s\n' "$*" >&2
	exit 1
}

# own_cgroup prints the cgroup2 path of this shell (the "0::" line).
own_cgroup() {
	while read -r line; do
		case $line in 0::*) printf '%s\n' "${line#0::}" ;; esac
	done </proc/self/cgroup
}

[ "$#" -gt 0 ] || fail "usage: pod.sh CMD [ARGS...]"
[ -e "$cg/cgroup.controllers" ] || fail "$cg is not a cgroup2 mount"
self=$(own_cgroup)
[ "$self" = / ] || fail "/proc/self/cgroup v2 path \"$self\", want \"/\""
procs=''
while read -r pid; do
	procs="$procs $pid"
done <"$cg/cgroup.procs"
[ "$procs" = " $$" ] || fail "$cg/cgroup.procs holds \"${procs# }\", want only this shell ($$): not a fresh test cgroup"

mkdir "$cg/pod" || fail "mkdir $cg/pod failed"
echo "$$" >"$cg/pod/cgroup.procs" || fail "write $$ to $cg/pod/cgroup.procs failed"
self=$(own_cgroup)
[ "$self" = /pod ] || fail "/proc/self/cgroup v2 path \"$self\" after joining $cg/pod, want \"/pod\""
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || fail "in the host's mount namespace: not mounting /run"
mount -t tmpfs -o mode=755 tmpfs /run || fail "mount a tmpfs on /run failed"
if [ -d /etc/docker ]; then
	mount -t tmpfs -o mode=755 tmpfs /etc/docker || fail "mount a tmpfs on /etc/docker failed"
fi
exec "$@"
