// Package cgtest gives tests a throwaway cgroup2 directory under the host's
// controller-less cgroup2 mount (/sys/fs/cgroup/unified on hybrid hosts) and
// a safe way to run a child inside it.
//
// It owns, for one test:
//
//   - New: a fresh /sys/fs/cgroup/unified/envbox-test-<random> cgroup. The
//     test is skipped, with the reason, when not root or when that path is
//     not a cgroup2 mount. t.Cleanup kills every process left anywhere in
//     the subtree (cgroup.kill, else SIGKILL of each PID in cgroup.procs),
//     waits until it is empty and removes every directory depth-first.
//   - Cgroup.Command: an *exec.Cmd whose process is created INSIDE the
//     cgroup (clone3 with CLONE_INTO_CGROUP, so a refused join fails Start
//     instead of running elsewhere) with new mount and cgroup namespaces.
//     A guard shell first makes every mount private, mounts cgroup2 at
//     /sys/fs/cgroup, proves that mount's root is the test cgroup (same
//     inode = cgroup ID) and that /proc/self/cgroup reads "0::/", and only
//     then execs the payload. A guard failure exits 125 with a line starting
//     "cgtest guard:" on stderr. Inside, /sys/fs/cgroup is the test cgroup,
//     so a delegation script run there can only touch the test's subtree.
//   - Cgroup.Procs, Cgroup.ReadFile: the host-side view of the subtree.
//
// It never writes to a cgroup it did not create, never touches the v1
// hierarchies and never changes the caller's own cgroup or namespaces.
//
// The host's PID 1 may not reap orphans: payloads should wait for their own
// children so killed processes do not linger as zombies (zombies do not keep
// a cgroup populated, so cleanup still succeeds).
package cgtest
