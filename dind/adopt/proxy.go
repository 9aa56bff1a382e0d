package adopt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
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
	// MaxConns bounds the client connections served at once (each holds
	// two descriptors); one more is answered 503 and closed. 0 means
	// DefaultMaxConns.
	MaxConns int
	// IdleTimeout bounds the wait for a request on an open connection,
	// HeaderTimeout the reading of its head once it began, BodyTimeout each
	// wait for more of a request body. 0 means the Default.
	IdleTimeout, HeaderTimeout, BodyTimeout time.Duration

	cache driverCache
	mu    sync.Mutex
	conns map[*conn]struct{}
	idle  []idleUp // connections to dockerd kept for the next client
	// closing: Serve is ending; no connection is kept.
	closing bool
	open    atomic.Int64 // connections being served
	busy    atomic.Int64 // connections being refused for the bound
}

// Defaults of the Proxy's bounds. dockerd itself waits 5 minutes for a
// head once it began and never times out an idle connection or a body.
const (
	DefaultMaxConns      = 1024
	DefaultIdleTimeout   = 5 * time.Minute
	DefaultHeaderTimeout = 30 * time.Second
	DefaultBodyTimeout   = 2 * time.Minute
	// maxBusy bounds the goroutines answering 503; past it a connection
	// is closed at once.
	maxBusy = 64
)

func (p *Proxy) idleTimeout() time.Duration { return orDefault(p.IdleTimeout, DefaultIdleTimeout) }
func (p *Proxy) headerTimeout() time.Duration {
	return orDefault(p.HeaderTimeout, DefaultHeaderTimeout)
}
func (p *Proxy) bodyTimeout() time.Duration { return orDefault(p.BodyTimeout, DefaultBodyTimeout) }

func (p *Proxy) maxConns() int64 {
	if p.MaxConns > 0 {
		return int64(p.MaxConns)
	}
	return DefaultMaxConns
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
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
		p.closeIdle()
	})
	defer stop()
	p.Log.Info(ctx, "accepting connections", slog.F("kernel", kernelRelease()), slog.F("max_connections", p.maxConns()),
		slog.F("idle_timeout", p.idleTimeout().String()), slog.F("header_timeout", p.headerTimeout().String()),
		slog.F("body_timeout", p.bodyTimeout().String()))
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
		if p.open.Add(1) > p.maxConns() {
			p.open.Add(-1)
			p.refuseBusy(ctx, c, &wg)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.open.Add(-1)
			p.serveConn(ctx, c)
		}()
	}
}

// refuseBusy answers a connection past the bound with 503, from a
// goroutine of its own while fewer than maxBusy do so, else by closing it.
func (p *Proxy) refuseBusy(ctx context.Context, c *net.UnixConn, wg *sync.WaitGroup) {
	if p.busy.Add(1) > maxBusy {
		p.busy.Add(-1)
		c.Close()
		return
	}
	p.Log.Warn(ctx, "connection refused: too many open", slog.F("max_connections", p.maxConns()))
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer p.busy.Add(-1)
		defer c.Close()
		refuseEarly(c, http.StatusServiceUnavailable, fmt.Sprintf("envbox adopt-proxy: %d connections open, the limit: try again later", p.maxConns()))
	}()
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
