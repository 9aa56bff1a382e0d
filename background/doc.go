// Package background supervises long-running child processes (dockerd,
// sysbox) on behalf of envbox, and does envbox's PID-1 duties.
//
// A Process has an explicit binary name: dockerd is launched as
// `unshare … /bin/sh -c <script> dockerd …` and only becomes dockerd when the
// delegation script execs it. After each start the Process watches
// /proc/<pid>/exe and comm until the child runs that binary (WaitIdentified),
// for at most IdentifyTimeout; a child that is still the wrapper then is
// reported with an *IdentityError naming its pid, what it is and its last
// output — it is not treated as exited.
//
// Exit detection comes from the kernel: the child's own wait status, which
// Go obtains through a pidfd. Nothing polls /proc to decide that a process
// died. Restart and Stop return only once the old child is reaped, so a new
// dockerd never starts while the old one's pid file names a live process.
//
// Output (stdout and stderr, merged) is logged line by line on a logger
// named after the binary, offered to an optional per-line callback, and its
// last 4 KiB are kept for the *ExitError that reports a death. Lines are
// bounded (64 KiB pieces); nothing is buffered without limit.
//
// Zombies: StartReaper reaps orphaned descendants (as PID 1, or as a child
// subreaper otherwise) without stealing the exit status of the children this
// package waits for. Every child is started under a lock shared with the
// reaper and recorded as owned before the lock is released; the reaper peeks
// with waitid(P_ALL, WNOHANG|WNOWAIT) and reaps only unowned pids. Only a
// Process is protected so: once the reaper runs, a child started any other
// way (exec.Cmd.Run) may lose its exit status to it, so a binary runs such
// commands before StartReaper or as a Process.
//
// The package never parses what a child prints: callers get the lines and
// decide.
package background
