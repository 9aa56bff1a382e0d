package adopt

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// Idle connections to dockerd are kept for the next client, as any
// keep-alive client of dockerd keeps them: dialling (and dockerd's accept)
// is most of what a new client connection costs.
const (
	maxIdleUp  = 16
	idleUpLife = time.Minute
)

type idleUp struct {
	c     *net.UnixConn
	since time.Time
}

// dialUp returns an idle connection to dockerd, or a new one.
func (p *Proxy) dialUp() (*net.UnixConn, error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		e := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if time.Since(e.since) < idleUpLife && quiet(e.c) {
			p.mu.Unlock()
			return e.c, nil
		}
		e.c.Close()
	}
	p.mu.Unlock()
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: p.Upstream, Net: "unix"})
}

// keepUp offers c, at a request boundary with nothing unread, to the next
// client.
func (p *Proxy) keepUp(c *net.UnixConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing || len(p.idle) >= maxIdleUp {
		c.Close()
		return
	}
	p.idle = append(p.idle, idleUp{c: c, since: time.Now()})
}

func (p *Proxy) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closing = true
	for _, e := range p.idle {
		e.c.Close()
	}
	p.idle = nil
}

// quiet reports whether dockerd has sent nothing on an idle connection and
// not closed it: anything there (even EOF) disqualifies it.
func quiet(c *net.UnixConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var b [1]byte
	var rerr error
	if err := raw.Control(func(fd uintptr) {
		_, _, rerr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	}); err != nil {
		return false
	}
	return rerr == unix.EAGAIN // nothing to read, and not closed
}
