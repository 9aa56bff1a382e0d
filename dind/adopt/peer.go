package adopt

import (
	"errors"
	"fmt"
	"io/fs"
	"net"

	"golang.org/x/sys/unix"

	"github.com/envbox/envbox/xunix"
)

// Creds is what the kernel recorded about the process that connected.
type Creds struct {
	PID, UID, GID int32
	// PidFD refers to that very process (SO_PEERPIDFD, Linux >= 6.5), or
	// is -1 when the kernel cannot give one. The proxy closes it.
	PidFD int
}

// peer is a connection's creator as seen at accept time.
type peer struct {
	Creds
	cgroups xunix.Cgroups
	// err says why containers cannot be adopted for this peer.
	err error
	// read: cgroups (or err) are final.
	read bool
}

// PeerCreds reads SO_PEERCRED and, where the kernel has it, SO_PEERPIDFD
// from a unix connection.
func PeerCreds(c *net.UnixConn) (Creds, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Creds{}, err
	}
	var cred *unix.Ucred
	pidfd, pfdErr := -1, error(nil)
	cerr := raw.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err == nil {
			pidfd, pfdErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PEERPIDFD)
		}
	})
	if cerr != nil {
		return Creds{}, cerr
	}
	if err != nil {
		return Creds{}, fmt.Errorf("getsockopt SO_PEERCRED: %w", err)
	}
	return credsOf(cred, pidfd, pfdErr, kernelRelease)
}

// credsOf decides what a SO_PEERPIDFD answer means. Only ENOPROTOOPT says
// the kernel lacks the option (before 6.5): the pid alone is used then,
// with the window docs/adopt-proxy.md describes. Every other error fails closed:
// EINVAL in particular is what kernels 6.5 to about 6.15 return for a peer
// already reaped, so taking it for an old kernel would reopen the pid-reuse
// window. The error names the kernel release, since what it means depends
// on it.
func credsOf(cred *unix.Ucred, pidfd int, pfdErr error, kernel func() string) (Creds, error) {
	switch {
	case pfdErr == nil:
	case errors.Is(pfdErr, unix.ENOPROTOOPT):
		pidfd = -1
	default:
		return Creds{}, fmt.Errorf("getsockopt SO_PEERPIDFD for pid %d on kernel %s: %w: "+
			"the calling process cannot be told from one reusing its pid", cred.Pid, kernel(), pfdErr)
	}
	return Creds{PID: cred.Pid, UID: int32(cred.Uid), GID: int32(cred.Gid), PidFD: pidfd}, nil
}

// kernelRelease is uname -r, for messages.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// identify reads the peer's credentials and cgroups, with within running
// the read where dockerd's names hold (inDockerdNS). A failure is kept in
// peer.err: it refuses creates and builds on this connection, nothing else.
func (p *Proxy) identify(c *net.UnixConn, within func(read func() error) error) peer {
	pr := p.peerCreds(c)
	p.readCgroup(&pr, within)
	return pr
}

// peerCreds reads who connected, at accept time: the kernel recorded it at
// connect(2). The pidfd, when there is one, stays open in the peer until
// readCgroup, so the cgroup can be read later (at the first create or
// build: most connections make neither) and still be known to be this
// process's.
func (p *Proxy) peerCreds(c *net.UnixConn) peer {
	cr, err := p.creds()(c)
	if err != nil {
		return peer{err: fmt.Errorf("identify the calling process: %w", err), Creds: Creds{PidFD: -1}}
	}
	pr := peer{Creds: cr}
	if cr.PID <= 0 {
		pr.err = fmt.Errorf("calling process has pid %d: it is outside the proxy's pid namespace", cr.PID)
	}
	return pr
}

// readCgroup reads the peer's /proc/<pid>/cgroup once, and closes its
// pidfd.
func (p *Proxy) readCgroup(pr *peer, within func(read func() error) error) {
	if pr.read {
		return
	}
	pr.read = true
	if pr.PidFD >= 0 {
		defer func() { unix.Close(pr.PidFD); pr.PidFD = -1 }()
	}
	if pr.err != nil {
		return
	}
	path := fmt.Sprintf("/proc/%d/cgroup", pr.PID)
	var rerr error
	err := within(func() error {
		pr.cgroups, rerr = xunix.ParseCgroupFile(p.Fs, path)
		return nil
	})
	switch {
	case err != nil:
		pr.err = fmt.Errorf("read cgroup of calling process pid %d in dockerd's cgroup namespace: %w", pr.PID, err)
	case errors.Is(rerr, fs.ErrNotExist):
		pr.err = fmt.Errorf("calling process pid %d has exited (%s is gone)", pr.PID, path)
	case rerr != nil:
		pr.err = fmt.Errorf("read cgroup of calling process pid %d: %w", pr.PID, rerr)
	case pr.PidFD >= 0 && !alive(pr.PidFD):
		// The pid may have been reused while we read: the file is not
		// proof of anything.
		pr.err = fmt.Errorf("calling process pid %d exited while its cgroup was read", pr.PID)
	}
}

func (p *Proxy) creds() func(*net.UnixConn) (Creds, error) {
	if p.Creds != nil {
		return p.Creds
	}
	return PeerCreds
}

// alive reports whether the process behind pidfd still exists (a zombie
// counts: it still holds its pid).
func alive(pidfd int) bool {
	return unix.PidfdSendSignal(pidfd, 0, nil, 0) == nil
}
