#!/bin/sh
# shellcheck shell=sh
# /bin/envbox-sim: stands in for envbox in scenario s4b. It runs in the pod's
# root cgroup with its own cgroup namespace (rooted at the pod) and mount
# namespace, like PID 1 of a Kubernetes container. $s (scenario), $script
# (delegate.sh), $cg and $h come from /init.
s=${s:?set by /init} script=${script:?set by /init}
cg=${cg:?set by /init} h=${h:?set by /init}
d=/tmp/$s
mkdir -p "$d"
# The container runtime mounts cgroup2 inside the container's namespaces.
umount "$cg" && mount -t cgroup2 cgroup2 "$cg" || exit 96
read -r self </proc/self/cgroup
printf '%s\n' "$self" >"$d/envbox_cgroup_before"
"$h" limits >"$d/envbox_limits_before" 2>&1
# The wrapper as `envbox dind`/`envbox docker` start it by default: a new
# cgroup namespace, the container's mount namespace.
"$h" cgns /bin/sh -c "$script" /bin/target "$s" 2>"$d/wrapper_stderr"
echo $? >"$d/wrapper_rc"
read -r self </proc/self/cgroup
printf '%s\n' "$self" >"$d/envbox_cgroup_after"
cat "$cg/cgroup.procs" >"$d/envbox_root_procs_after"
"$h" limits >"$d/envbox_limits_after" 2>&1
