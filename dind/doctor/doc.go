// Package doctor checks attribution: that envbox and every running container
// of its dockerd live in cgroups below the pod's cgroup, so that the node and
// tools keyed on cgroup IDs (Tetragon, Falco) charge them to the pod.
//
// It owns the facts and their rendering: the cgroup mode and version, the
// cgroup2 mount and its root (the cgroup namespace root), whether the
// delegation happened (an "init" leaf, subtree_control against
// cgroup.controllers), each subject's cgroup as seen inside and as the host
// sees it, its cgroup ID (the inode of the cgroup directory), the pod's
// effective CPU and memory limits with the file they came from, every cgroup
// at or below the pod's with its processes, host path and cgroup ID (no
// Docker API needed: any nested runtime), the descendants of envbox outside
// the pod, and the list of offenders.
//
// It never writes to a cgroup, never starts or stops anything, and reads the
// machine only through its seams: the filesystem is an afero.Fs, inode
// numbers come from an injected function (OSInode in production) and dockerd
// from a small client interface.
package doctor
