// Package cgtest gives tests a throwaway cgroup2 directory under the host's
// cgroup2 mount and a safe way to run a child inside it, and decides what a
// test does on a machine that cannot host one.
//
// It owns, for one test:
//
//   - Root: the cgroup2 mount point test cgroups are created under, found
//     once per test binary: $ENVBOX_TEST_CGROUP2_ROOT (RootEnv) when set,
//     else from /proc/self/mountinfo the cgroup2 mount at /sys/fs/cgroup (a
//     pure v2 host), else the first cgroup2 mount (a hybrid host:
//     /sys/fs/cgroup/unified). CheckRoot proves it is a cgroup2 mount point
//     by filesystem magic before anything is created there.
//   - Unavailable: a test the machine cannot run (not root, no cgroup2, a
//     tool missing) is skipped with the reason, except under CI=true, where
//     it fails: CI provides everything, so no test passes there by skipping.
//   - New: a fresh Root/envbox-test-<random> cgroup. It skips under -short
//     (make unit creates no cgroup) and is Unavailable when not root or when
//     Root is not a cgroup2 mount point. t.Cleanup kills every process left
//     anywhere in the subtree (cgroup.kill, else SIGKILL of each PID in
//     cgroup.procs), waits until it is empty and removes every directory
//     depth-first.
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
