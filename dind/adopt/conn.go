package adopt

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"cdr.dev/slog"
	"golang.org/x/sys/unix"
)

// conn is one client connection and its own connection to dockerd. Requests
// are handled one after the other, as HTTP/1.1 keep-alive requires.
type conn struct {
	p      *Proxy
	peer   peer
	client *net.UnixConn
	up     *net.UnixConn
	// cio and uio read and write client and up on the hot path.
	cio, uio sockIO
	cr       *bufio.Reader // from the client
	ur       *bufio.Reader // from dockerd
	// head and rhead are the request and response head buffers, reused.
	head, rhead []byte
	// clean: the last exchange left dockerd's connection at a request
	// boundary, nothing unread; dirty: something may have changed it for
	// good (a half-close for a client gone, a hijack).
	clean, dirty bool
	// next, when not nil, delivers the end of the wait for the client's
	// next byte once the last request body is sent: nil when data is
	// there, the read error when the client is gone. It keeps cr read by
	// one goroutine at a time.
	next chan error
	// answered: dockerd's response to the current request is relayed
	// whole, so a client hang-up is no longer passed on. halfClosed: it
	// was (dockerd's connection cannot be kept).
	answered, halfClosed atomic.Bool
}

func (p *Proxy) serveConn(ctx context.Context, client *net.UnixConn) {
	defer client.Close()
	up, err := p.dialUp()
	if err != nil {
		p.Log.Error(ctx, "dial dockerd", slog.F("upstream", p.Upstream), slog.Error(err))
		refuseEarly(client, http.StatusBadGateway, fmt.Sprintf("envbox adopt-proxy: dial dockerd at %s: %v", p.Upstream, err))
		return
	}
	pr := p.peerCreds(client)
	if pr.PidFD < 0 {
		// Without a pidfd, only reading now keeps the window for pid
		// reuse as short as it can be.
		p.readCgroup(&pr, func(read func() error) error { return inDockerdNS(up, read) })
	}
	cio, uio := newSockIO(client), newSockIO(up)
	c := &conn{p: p, peer: pr, client: client, up: up, cio: cio, uio: uio, cr: getReader(&clientReaders, cio), ur: getReader(&upReaders, uio)}
	defer c.release()
	if !p.track(ctx, c) {
		return
	}
	defer p.untrack(c)
	p.Log.Debug(ctx, "accepted connection", slog.F("peer_pid", pr.PID), slog.F("peer_uid", pr.UID), slog.F("peer_error", errString(pr.err)))
	for {
		keep, err := c.exchange(ctx)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			p.Log.Debug(ctx, "connection ended", slog.F("peer_pid", pr.PID), slog.Error(err))
		}
		if !keep || err != nil {
			return
		}
	}
}

// refuseEarly answers the first request, once read, without dockerd, so
// the client sees the reason rather than a broken pipe.
func refuseEarly(c *net.UnixConn, status int, msg string) {
	_ = c.SetDeadline(time.Now().Add(time.Second))
	br := bufio.NewReader(c)
	if head, err := readHead(br, nil); err == nil {
		var h reqHead
		if parseRequest(head, &h) == nil && h.framing.kind != noBody && !h.expect100 {
			_ = copyBody(io.Discard, br, h.framing, nil, nil, nil)
		}
	}
	_ = writeError(c, status, msg, true)
}

// peerCgroups returns the peer, its cgroups read on first use.
func (c *conn) peerCgroups() peer {
	c.p.readCgroup(&c.peer, func(read func() error) error { return inDockerdNS(c.up, read) })
	return c.peer
}

func (c *conn) close() {
	c.client.Close()
	c.up.Close()
}

// release closes the pair and keeps its buffers for the next connection,
// once no goroutine of this one reads them.
func (c *conn) release() {
	c.client.Close()
	if c.dirty {
		c.up.Close() // a body goroutine may be blocked writing to it
	}
	if c.next != nil {
		<-c.next
	}
	if !c.dirty {
		if c.clean && !c.halfClosed.Load() && c.ur.Buffered() == 0 {
			c.p.keepUp(c.up)
		} else {
			c.up.Close()
		}
	}
	if !c.peer.read && c.peer.PidFD >= 0 {
		_ = unix.Close(c.peer.PidFD)
	}
	putReader(&clientReaders, c.cr)
	putReader(&upReaders, c.ur)
}

var (
	clientReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, clientBuf) }}
	upReaders     = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, upBuf) }}
)

func getReader(pool *sync.Pool, c io.Reader) *bufio.Reader {
	br := pool.Get().(*bufio.Reader)
	br.Reset(c)
	return br
}

func putReader(pool *sync.Pool, br *bufio.Reader) {
	br.Reset(nil)
	pool.Put(br)
}

// exchange relays one request and its response; keep reports whether the
// connection carries another request.
func (c *conn) exchange(ctx context.Context) (keep bool, err error) {
	if err := c.awaitRequest(); err != nil {
		return false, err
	}
	c.clean = false
	c.answered.Store(false)
	_ = c.client.SetReadDeadline(time.Now().Add(c.p.headerTimeout()))
	head, err := readHead(c.cr, c.head)
	if err != nil {
		return false, err
	}
	c.head = head[:0]
	var h reqHead
	if err := parseRequest(head, &h); err != nil {
		return false, c.refuse(http.StatusBadRequest, "envbox adopt-proxy: parse request: "+err.Error(), true)
	}
	rt, err := classify(h.method, h.target)
	if err != nil {
		return c.refuseRequest(ctx, &h, http.StatusBadRequest, "envbox adopt-proxy: refused "+err.Error())
	}
	switch rt.treat {
	case adoptCreate:
		return c.create(ctx, head, &h)
	case adoptBuild:
		return c.build(ctx, head, &h)
	case emptyStart:
		return c.start(ctx, head, &h)
	case checkUpdate:
		return c.update(ctx, head, &h)
	}
	return c.forward(&h, head)
}

// awaitRequest waits, at most the idle timeout, for the client's next
// request to begin.
func (c *conn) awaitRequest() error {
	_ = c.client.SetReadDeadline(time.Now().Add(c.p.idleTimeout()))
	if c.next != nil {
		err := <-c.next
		c.next = nil
		return err
	}
	_, err := c.cr.Peek(1)
	return err
}

// bodyDeadline is called before each read of a request body that may
// wait: the client must keep sending.
func (c *conn) bodyDeadline() {
	_ = c.client.SetReadDeadline(time.Now().Add(c.p.bodyTimeout()))
}

// forward sends a request to dockerd as it came and relays the response.
// A request body streams from a goroutine, so that dockerd can answer (or
// stream, or upgrade) before it ends.
func (c *conn) forward(h *reqHead, head []byte) (bool, error) {
	if h.framing.kind == noBody {
		return c.sendWhole(h, head)
	}
	sent := make(chan error, 1)
	next := make(chan error, 1)
	c.next = next
	c.dirty = true // the goroutine may half-close dockerd's side
	go func() {
		err := c.sendBody(h.framing, head)
		if err != nil {
			// A body cut short or malformed: dockerd waits for the rest
			// and the relay for dockerd. Neither side can carry on.
			c.close()
			sent <- fmt.Errorf("send request body: %w", err)
			next <- err
			return
		}
		_ = c.client.SetReadDeadline(time.Time{})
		sent <- nil
		next <- c.watch()
	}()
	return c.relay(h, sent)
}

// spliceMin is the body size from which a fixed-length body bypasses the
// proxy's memory.
const spliceMin = 256 << 10

// sendBody sends head and the request body framed by f.
func (c *conn) sendBody(f framing, head []byte) error {
	k := c.cr.Buffered()
	if f.kind != fixedBody || f.n-int64(k) < spliceMin {
		return copyBody(c.uio, c.cr, f, nil, head, c.bodyDeadline)
	}
	b, _ := c.cr.Peek(k) // all body: k < f.n
	if err := writeAll(c.uio, head, b); err != nil {
		return err
	}
	_, _ = c.cr.Discard(k)
	_, err := spliceConn(c.up, c.client, f.n-int64(k), c.bodyDeadline)
	return err
}

// sendWhole writes a request without a body, or with one already in msg.
func (c *conn) sendWhole(h *reqHead, msg []byte) (bool, error) {
	if _, err := c.uio.Write(msg); err != nil {
		return false, fmt.Errorf("send request to dockerd: %w", err)
	}
	return c.relay(h, nil)
}

// watch waits for the client's next byte. A client that hung up before
// the response was relayed whole half-closes dockerd's side, as if it had
// spoken to dockerd directly: dockerd then cancels the request (a
// stop?t=-1, a stream such as GET /events).
func (c *conn) watch() error {
	_, err := c.cr.Peek(1)
	if err != nil && !c.answered.Load() {
		c.halfClosed.Store(true)
		_ = c.up.CloseWrite()
	}
	return err
}

// watchGrace is how long dockerd may take to begin its answer before the
// client is watched for a hang-up. Most answers (ping, inspect, list)
// come sooner, and then no second goroutine takes part in the exchange:
// handing the client's next request from one goroutine to another costs
// thread wake-ups, which are most of a relay's cost.
const watchGrace = 20 * time.Millisecond

// answerWithin waits at most d for dockerd's answer to begin; false means
// it has not (or the wait failed: readHead then meets the error again).
func (c *conn) answerWithin(d time.Duration) bool {
	if c.ur.Buffered() > 0 {
		return true
	}
	_ = c.up.SetReadDeadline(time.Now().Add(d))
	_, err := c.ur.Peek(1)
	_ = c.up.SetReadDeadline(time.Time{})
	return err == nil
}

// watchClient watches the client for a hang-up (watch) from now until its
// next request begins, unless something already does. It runs before every
// wait for more of a response or of its head (the final one after a 1xx
// too), so a slow answer or stream (stop?t=-1, GET /events) passes a
// hang-up on at once.
func (c *conn) watchClient() {
	if c.next != nil {
		return
	}
	next := make(chan error, 1)
	c.next = next
	go func() { next <- c.watch() }()
}

// headBuffered reports whether br holds a whole message head (up to its
// empty line), so that readHead returns without waiting.
func headBuffered(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	return bytes.Contains(b, []byte("\n\r\n")) || bytes.Contains(b, []byte("\n\n"))
}

// relay copies dockerd's response to the request h, interim 1xx responses
// included, and switches to raw copying both ways for an upgrade (101) or
// a response that lasts until the connection closes (attach and exec
// without Upgrade). sent, when not nil, ends with the request body.
func (c *conn) relay(h *reqHead, sent <-chan error) (bool, error) {
	if c.next == nil {
		_ = c.client.SetReadDeadline(time.Time{})
		if !c.answerWithin(watchGrace) {
			c.watchClient()
		}
	}
	for {
		if !headBuffered(c.ur) {
			c.watchClient() // the rest of the head may be long in coming
		}
		head, err := readHead(c.ur, c.rhead)
		if err != nil {
			return false, fmt.Errorf("read response from dockerd: %w", noEOF(err))
		}
		c.rhead = head[:0]
		var rh respHead
		if err := parseResponse(head, &rh); err != nil {
			return false, fmt.Errorf("parse response head from dockerd %q: %w", clip(head), err)
		}
		f := responseFraming(&rh, h.method)
		if rh.status == http.StatusSwitchingProtocols || f.kind == untilClose {
			c.dirty = true
			if _, err := c.client.Write(head); err != nil {
				return false, err
			}
			return false, c.splice(sent)
		}
		if rh.status/100 == 1 {
			if _, err := c.client.Write(head); err != nil {
				return false, err
			}
			continue
		}
		if err := copyBody(c.cio, c.ur, f, nil, head, c.watchClient); err != nil {
			return false, fmt.Errorf("copy response body: %w", err)
		}
		if sent != nil {
			if err := <-sent; err != nil {
				return false, err
			}
		}
		c.answered.Store(true)
		keep := !rh.close && !h.close
		c.clean = keep
		return keep, nil
	}
}

// splice copies both directions verbatim until each side has finished,
// passing half-closes on. Hijacked streams have no timeout: an attached
// terminal may be quiet for hours.
func (c *conn) splice(sent <-chan error) error {
	if sent != nil {
		if err := <-sent; err != nil {
			return err
		}
	}
	_ = c.client.SetReadDeadline(time.Time{})
	toUp := make(chan error, 1)
	go func() {
		err := c.waitClient()
		if err == nil {
			err = relayStream(c.up, c.client, c.cr)
		}
		_ = c.up.CloseWrite()
		toUp <- err
	}()
	down := relayStream(c.client, c.up, c.ur)
	_ = c.client.CloseWrite()
	up := <-toUp
	if errors.Is(up, io.EOF) {
		up = nil
	}
	return errors.Join(down, up)
}

func (c *conn) waitClient() error {
	if c.next == nil {
		return nil
	}
	err := <-c.next
	c.next = nil
	return err
}

// refuse answers the client without asking dockerd.
func (c *conn) refuse(status int, msg string, closing bool) error {
	return writeError(c.client, status, msg, closing)
}

// refuseRequest refuses a request dockerd never sees. Its body is read
// first, so the client reads the reason rather than a broken pipe, unless
// the client waits for 100 Continue: then the connection closes.
func (c *conn) refuseRequest(ctx context.Context, h *reqHead, status int, msg string) (bool, error) {
	c.p.Log.Warn(ctx, "refused request", slog.F("peer_pid", c.peer.PID), slog.F("reason", msg))
	closing := h.close || h.expect100 && h.framing.kind != noBody
	if !closing && h.framing.kind != noBody {
		if err := copyBody(io.Discard, c.cr, h.framing, nil, nil, c.bodyDeadline); err != nil {
			return false, err
		}
	}
	return !closing, c.refuse(status, msg, closing)
}

// refuseRead refuses a request whose body was read, with 400.
func (c *conn) refuseRead(ctx context.Context, h *reqHead, msg string) (bool, error) {
	c.p.Log.Warn(ctx, "refused request", slog.F("peer_pid", c.peer.PID), slog.F("reason", msg))
	return !h.close, c.refuse(http.StatusBadRequest, msg, h.close)
}

// readBody reads a request body the proxy inspects, at most max bytes,
// answering Expect: 100-continue itself.
func (c *conn) readBody(h *reqHead, max int) ([]byte, error) {
	if h.expect100 && h.framing.kind != noBody {
		if _, err := c.client.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
			return nil, err
		}
	}
	body := &capped{max: max}
	if err := copyBody(io.Discard, c.cr, h.framing, body, nil, c.bodyDeadline); err != nil {
		return nil, err
	}
	return body.Bytes(), nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
