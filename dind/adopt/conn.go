package adopt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"cdr.dev/slog"
)

// conn is one client connection and its own connection to dockerd. Requests
// are handled one after the other, as HTTP/1.1 keep-alive requires.
type conn struct {
	p      *Proxy
	peer   peer
	client *net.UnixConn
	up     *net.UnixConn
	cr     *bufio.Reader // from the client
	ur     *bufio.Reader // from dockerd
	// next, when not nil, delivers the end of the wait for the client's
	// next byte once the last request body is sent: nil when data is
	// there, the read error when the client is gone. It keeps cr read by
	// one goroutine at a time.
	next chan error
}

func (p *Proxy) serveConn(ctx context.Context, client *net.UnixConn) {
	defer client.Close()
	up, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: p.Upstream, Net: "unix"})
	if err != nil {
		p.Log.Error(ctx, "dial dockerd", slog.F("upstream", p.Upstream), slog.Error(err))
		refuseUnreachable(client, fmt.Sprintf("envbox adopt-proxy: dial dockerd at %s: %v", p.Upstream, err))
		return
	}
	pr := p.identify(client, func(read func() error) error { return inDockerdNS(up, read) })
	c := &conn{p: p, peer: pr, client: client, up: up, cr: bufio.NewReader(client), ur: bufio.NewReader(up)}
	defer c.close()
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

// refuseUnreachable answers the first request with 502 once it has been
// read, so the client sees the reason rather than a broken pipe.
func refuseUnreachable(c *net.UnixConn, msg string) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	if head, err := readHead(br); err == nil {
		if req, err := parseRequestHead(head); err == nil {
			_ = copyBody(io.Discard, br, requestFraming(req), nil, nil)
		}
	}
	_ = writeError(c, http.StatusBadGateway, msg, true)
}

func (c *conn) close() {
	c.client.Close()
	c.up.Close()
}

// exchange relays one request and its response; keep reports whether the
// connection carries another request.
func (c *conn) exchange(ctx context.Context) (keep bool, err error) {
	if err := c.waitClient(); err != nil {
		return false, err
	}
	head, err := readHead(c.cr)
	if err != nil {
		return false, err
	}
	req, err := parseRequestHead(head)
	if err != nil {
		return false, c.refuse(http.StatusBadRequest, fmt.Sprintf("envbox adopt-proxy: parse request: %v", err), true)
	}
	switch {
	case isCreate(req):
		return c.create(ctx, head, req)
	case isBuild(req):
		return c.build(ctx, head, req)
	}
	f := requestFraming(req)
	return c.forward(req, func() error { return copyBody(c.up, c.cr, f, nil, head) })
}

func (c *conn) waitClient() error {
	if c.next == nil {
		return nil
	}
	err := <-c.next
	c.next = nil
	return err
}

// createPath is every path dockerd's router sends to the create handler;
// the version prefix is "/v{version:[0-9.]+}" there.
var createPath = regexp.MustCompile(`^(/v[0-9.]+)?/containers/create$`)

func isCreate(req *http.Request) bool {
	return strings.EqualFold(req.Method, http.MethodPost) && createPath.MatchString(path.Clean("/"+req.URL.Path))
}

// forward sends a request to dockerd (send writes it) and relays the
// response.
func (c *conn) forward(req *http.Request, send func() error) (bool, error) {
	sent := make(chan error, 1)
	next := make(chan error, 1)
	c.next = next
	go func() {
		err := send()
		sent <- err
		if err == nil {
			// A client that hung up half-closes dockerd's side, as if it
			// had spoken to dockerd directly: dockerd then ends streams
			// such as GET /events.
			if _, err = c.cr.Peek(1); err != nil {
				_ = c.up.CloseWrite()
			}
		}
		next <- err
	}()
	return c.relay(req, sent)
}

// relay copies dockerd's response to req, interim 1xx responses included,
// and switches to raw copying both ways for an upgrade (101) or a response
// that lasts until the connection closes (attach and exec without Upgrade).
func (c *conn) relay(req *http.Request, sent <-chan error) (bool, error) {
	for {
		head, err := readHead(c.ur)
		if err != nil {
			return false, fmt.Errorf("read response from dockerd: %w", noEOF(err))
		}
		resp, err := parseResponseHead(head, req)
		if err != nil {
			return false, fmt.Errorf("parse response head from dockerd %q: %w", head, err)
		}
		f := responseFraming(resp, req.Method)
		if resp.StatusCode/100 == 1 || f.kind == untilClose {
			if _, err := c.client.Write(head); err != nil {
				return false, err
			}
		}
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols, f.kind == untilClose:
			return false, c.splice(sent)
		case resp.StatusCode/100 == 1:
			continue
		}
		if err := copyBody(c.client, c.ur, f, nil, head); err != nil {
			return false, fmt.Errorf("copy response body: %w", err)
		}
		if err := <-sent; err != nil {
			return false, fmt.Errorf("send request: %w", err)
		}
		return !resp.Close && !req.Close, nil
	}
}

// splice copies both directions verbatim until each side has finished,
// passing half-closes on.
func (c *conn) splice(sent <-chan error) error {
	if err := <-sent; err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	toUp := make(chan error, 1)
	go func() {
		err := c.waitClient()
		if err == nil {
			_, err = io.Copy(c.up, c.cr)
		}
		_ = c.up.CloseWrite()
		toUp <- err
	}()
	_, down := io.Copy(c.client, c.ur)
	_ = c.client.CloseWrite()
	up := <-toUp
	if errors.Is(up, io.EOF) {
		up = nil
	}
	return errors.Join(down, up)
}

// refuse answers the client without asking dockerd.
func (c *conn) refuse(status int, msg string, closing bool) error {
	return writeError(c.client, status, msg, closing)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
