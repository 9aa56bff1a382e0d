package adopt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"cdr.dev/slog"
	"github.com/spf13/afero"
)

// ErrNotUnix refuses a listen address that is not a unix socket: the
// peer's identity comes from SO_PEERCRED, which TCP does not have.
var ErrNotUnix = errors.New("only unix sockets can be listened on: the caller's cgroup comes from SO_PEERCRED")

// Proxy is the adopting Docker API front.
type Proxy struct {
	// Upstream is the path of dockerd's real unix socket.
	Upstream string
	// AllowOverride lets a create keep a CgroupParent other than its
	// creator's (permissive); by default it gets HTTP 400 (strict).
	AllowOverride bool
	// Fs reads /proc/<pid>/cgroup.
	Fs  afero.Fs
	Log slog.Logger
	// Creds identifies a connection's peer; nil means PeerCreds.
	Creds func(*net.UnixConn) (Creds, error)

	cache driverCache
	mu    sync.Mutex
	conns map[*conn]struct{}
}

// Listen opens the unix socket at addr ("/path" or "unix:///path"),
// replacing a stale socket file, with mode 0660 as dockerd's own.
func Listen(addr string) (*net.UnixListener, error) {
	path, err := SocketPath(addr)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("listen on %s: exists and is not a socket (%s)", path, fi.Mode().Type())
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod 0660 %s: %w", path, err)
	}
	return ln, nil
}

// SocketPath accepts "/path" and "unix:///path"; anything else (tcp://,
// host:port, fd://) is ErrNotUnix.
func SocketPath(addr string) (string, error) {
	p := addr
	if scheme, rest, ok := strings.Cut(addr, "://"); ok {
		if scheme != "unix" {
			return "", fmt.Errorf("listen address %q: %w", addr, ErrNotUnix)
		}
		p = rest
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("listen address %q: want an absolute socket path: %w", addr, ErrNotUnix)
	}
	return p, nil
}

// Serve accepts connections until ctx is done, then closes the listener and
// every open connection and returns nil once they are all finished.
func (p *Proxy) Serve(ctx context.Context, ln *net.UnixListener) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		p.closeAll()
	})
	defer stop()
	backoff := time.Duration(0)
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				wg.Wait()
				return nil
			}
			if backoff = nextBackoff(backoff, err); backoff == 0 {
				wg.Wait()
				return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
			}
			p.Log.Warn(ctx, "accept failed, backing off", slog.Error(err), slog.F("backoff", backoff.String()))
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.serveConn(ctx, c)
		}()
	}
}

// nextBackoff retries accept on errors the kernel means as temporary: out
// of file descriptors (EMFILE, ENFILE) or a peer that gave up (ECONNABORTED).
// 0 means give up.
func nextBackoff(prev time.Duration, err error) time.Duration {
	if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) && !errors.Is(err, syscall.ECONNABORTED) {
		return 0
	}
	if prev == 0 {
		return 5 * time.Millisecond
	}
	return min(2*prev, time.Second)
}

// track records an open connection pair for closeAll. It returns false
// once the proxy is shutting down.
func (p *Proxy) track(ctx context.Context, c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	if p.conns == nil {
		p.conns = map[*conn]struct{}{}
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.close()
	}
}
