package adopt

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockIO reads and writes a connection's non-blocking socket with raw
// system calls, waiting in Go's poller (deadlines included) only when the
// kernel says EAGAIN. A plain Read or Write tells the scheduler it enters
// a system call that may block; when the call is slow to return (a
// context switch on a busy or virtualised machine), the scheduler hands
// the processor to another thread, waking it: the handoffs were most of
// the relay's own cost. A read or write of a non-blocking socket never
// blocks, so the bookkeeping buys nothing here.
type sockIO struct {
	rc syscall.RawConn
}

func newSockIO(c *net.UnixConn) sockIO {
	rc, _ := c.SyscallConn() // fails only for a nil connection
	return sockIO{rc: rc}
}

func (s sockIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n uintptr
	var errno syscall.Errno
	if err := s.rc.Read(func(fd uintptr) bool {
		n, _, errno = unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		return errno != unix.EAGAIN
	}); err != nil {
		return 0, err
	}
	switch {
	case errno != 0:
		return 0, os.NewSyscallError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return int(n), nil
}

func (s sockIO) Write(p []byte) (int, error) {
	return s.writev(p, nil)
}

// writev writes a and then b, in one system call while the socket takes
// them whole.
func (s sockIO) writev(a, b []byte) (int, error) {
	total := 0
	for len(a)+len(b) > 0 {
		var iov [2]unix.Iovec
		k := 0
		for _, p := range [][]byte{a, b} {
			if len(p) > 0 {
				iov[k].Base = &p[0]
				iov[k].SetLen(len(p))
				k++
			}
		}
		var n uintptr
		var errno syscall.Errno
		if err := s.rc.Write(func(fd uintptr) bool {
			n, _, errno = unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(k))
			return errno != unix.EAGAIN
		}); err != nil {
			return total, err
		}
		switch {
		case errno != 0:
			return total, os.NewSyscallError("writev", errno)
		case n == 0:
			return total, io.ErrShortWrite
		}
		total += int(n)
		if m := min(int(n), len(a)); m > 0 {
			a, n = a[m:], n-uintptr(m)
		}
		if n > 0 {
			b = b[n:]
		}
	}
	return total, nil
}
