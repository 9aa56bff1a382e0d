// Package xunix is envbox's seam to the operating system, and the parser of
// the kernel files envbox reads. Callers pass every dependency explicitly:
// an afero.Fs for files (tests use afero.NewMemMapFs); OSMounter is the real
// side of the mount seam its callers define. It keeps no package-level state
// and runs no command: envbox starts its children through package
// background.
//
// It owns, one concern per file:
//
//   - cgroup.go: /proc/<pid>/cgroup (v1, v2 and hybrid lines in any order,
//     namespace-relative paths that climb with "/.." for a process outside
//     the reader's cgroup namespace, " (deleted)").
//   - mountinfo.go: /proc/<pid>/mountinfo (optional fields, octal escapes).
//   - cgroupdir.go: a process's cgroup directory on disk: the mount point of
//     its hierarchy plus the path relative to that mount's root, ignoring
//     mounts hidden under another mount.
//   - cpu.go, memory.go, limitfile.go: CPU quota (v2 cpu.max, v1
//     cpu.cfs_quota_us/cpu.cfs_period_us) and memory limit (v2 memory.max,
//     v1 memory.limit_in_bytes) of one cgroup directory, with "unlimited"
//     explicit and the file the value came from; under v2 it falls back to
//     the remounted namespace root /sys/fs/cgroup only when the own file
//     does not exist. effective.go: the tightest limit over
//     the own cgroup and its ancestors up to the namespace root (the pod),
//     which is what applies after delegation moved envbox into init/.
//   - mode.go: v1 / hybrid / v2 from the mount table; userns.go: whether the
//     process runs in a user namespace (uid_map).
//   - mount.go: mount(2) and mount points (OSMounter); ns.go: namespace
//     files; term.go: terminal detection; notify.go: inotify's notice that
//     a file changed (cgroup v2 event files raise it).
//
// Every parser reports failures as *ParseError (file, line, content, reason).
// It never decides policy (which limit to apply, whether to delegate): that
// is the callers' job.
package xunix
