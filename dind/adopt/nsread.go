package adopt

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// inDockerdNS runs read in the cgroup namespace of the dockerd serving up,
// so that /proc/<pid>/cgroup, which the kernel renders relative to the
// reader's namespace root, names cgroups as dockerd resolves CgroupParent.
// envbox's delegation starts dockerd in a namespace of its own, whose root
// can differ from the proxy's (a pod sharing the node's namespace; a
// dockerd restarted from /init). dockerd is identified by SO_PEERCRED on
// the connection made for this client, so a restarted dockerd is followed.
func inDockerdNS(up *net.UnixConn, read func() error) error {
	cr, err := PeerCreds(up)
	if err != nil {
		return fmt.Errorf("identify dockerd: %w", err)
	}
	if cr.PidFD >= 0 {
		defer unix.Close(cr.PidFD)
	}
	if cr.PID <= 0 {
		return errors.New("dockerd is outside the proxy's pid namespace: its cgroup namespace cannot be entered")
	}
	ns := fmt.Sprintf("/proc/%d/ns/cgroup", cr.PID)
	own, err := os.Readlink("/proc/thread-self/ns/cgroup")
	if err != nil {
		return err
	}
	theirs, err := os.Readlink(ns)
	if err != nil {
		return fmt.Errorf("read dockerd's cgroup namespace: %w", err)
	}
	if own == theirs {
		return read()
	}
	return withCgroupNS(ns, func() error {
		if cr.PidFD >= 0 && !alive(cr.PidFD) {
			return fmt.Errorf("dockerd pid %d exited while its cgroup namespace was entered", cr.PID)
		}
		return read()
	})
}

// withCgroupNS runs fn on a thread moved into the cgroup namespace ns
// (setns is per thread for cgroup namespaces). A thread that cannot be
// moved back stays locked, and Go discards it when the goroutine ends.
func withCgroupNS(ns string, fn func() error) error {
	runtime.LockOSThread()
	own, err := os.Open("/proc/thread-self/ns/cgroup")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer own.Close()
	target, err := os.Open(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open %s: %w", ns, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWCGROUP); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWCGROUP); err != nil {
		return errors.Join(ferr, fmt.Errorf("setns back from %s: %w", ns, err))
	}
	runtime.UnlockOSThread()
	return ferr
}
