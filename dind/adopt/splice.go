package adopt

import (
	"errors"
	"fmt"
	"io"
	"net"

	"golang.org/x/sys/unix"
)

// pipeSize is the kernel pipe spliced bytes pass through; larger means
// fewer system calls (1 MiB is the unprivileged maximum by default).
const pipeSize = 1 << 20

// spliceConn moves n bytes (n < 0: until EOF) from src to dst with
// splice(2) through a pipe, so they never enter the proxy's memory. Go's
// io.Copy splices only when a TCP connection is involved, not between two
// unix sockets. before, when not nil, runs before each read that may wait.
// Where the kernel refuses (no pipe to spare, EINVAL), it copies instead.
func spliceConn(dst, src *net.UnixConn, n int64, before func()) (int64, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return copyConn(dst, src, n, before)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	_, _ = unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, pipeSize) // a smaller pipe works too
	rc, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	wc, err := dst.SyscallConn()
	if err != nil {
		return 0, err
	}
	var done int64
	for n < 0 || done < n {
		want := pipeSize
		if n >= 0 {
			want = int(min(n-done, pipeSize))
		}
		if before != nil {
			before()
		}
		var got int64
		var serr error
		if err := rc.Read(func(fd uintptr) bool {
			got, serr = unix.Splice(int(fd), nil, p[1], nil, want, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			return serr != unix.EAGAIN
		}); err != nil {
			return done, err
		}
		if errors.Is(serr, unix.EINVAL) && done == 0 {
			return copyConn(dst, src, n, before)
		}
		if serr != nil {
			return done, fmt.Errorf("splice from the connection: %w", serr)
		}
		if got == 0 {
			if n >= 0 {
				return done, fmt.Errorf("body cut short with %d bytes to go: %w", n-done, io.ErrUnexpectedEOF)
			}
			return done, nil
		}
		for got > 0 {
			var put int64
			if err := wc.Write(func(fd uintptr) bool {
				put, serr = unix.Splice(p[0], nil, int(fd), nil, int(got), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
				return serr != unix.EAGAIN
			}); err != nil {
				return done, err
			}
			if serr != nil {
				return done, fmt.Errorf("splice to the connection: %w", serr)
			}
			got -= put
			done += put
		}
	}
	return done, nil
}

// copyConn is spliceConn's fallback through a buffer.
func copyConn(dst, src *net.UnixConn, n int64, before func()) (int64, error) {
	var r io.Reader = src
	if before != nil {
		r = readerFunc(func(b []byte) (int, error) { before(); return src.Read(b) })
	}
	if n < 0 {
		return io.Copy(dst, r)
	}
	m, err := io.CopyN(dst, r, n)
	if err == io.EOF {
		err = fmt.Errorf("body cut short with %d bytes to go: %w", n-m, io.ErrUnexpectedEOF)
	}
	return m, err
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }
