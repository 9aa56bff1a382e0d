package adopt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"cdr.dev/slog"
)

// maxCreateBody bounds the one body the proxy buffers; dockerd's create
// bodies are a few KiB.
const maxCreateBody = 16 << 20

// create buffers a POST /containers/create body, applies the adoption
// policy and forwards the result, or refuses it.
func (c *conn) create(ctx context.Context, head []byte, h *reqHead) (bool, error) {
	body, err := c.readBody(h, maxCreateBody)
	if err != nil {
		return false, c.refuse(http.StatusBadRequest, fmt.Sprintf("envbox adopt-proxy: read container create body: %v", err), true)
	}
	out, parent, err := c.p.adopt(ctx, c.peerCgroups(), body)
	if err != nil {
		c.p.Log.Warn(ctx, "refused container create", slog.F("peer_pid", c.peer.PID), slog.Error(err))
		return !h.close, c.refuse(statusOf(err), err.Error(), h.close)
	}
	c.p.Log.Info(ctx, "container create adopted", slog.F("peer_pid", c.peer.PID), slog.F("cgroup_parent", parent))
	return c.sendWhole(h, append(withLength(head, len(out)), out...))
}

// refusal is a create the proxy will not forward, with its HTTP status.
type refusal struct {
	status int
	err    error
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

func statusOf(err error) int {
	var r *refusal
	if errors.As(err, &r) {
		return r.status
	}
	return http.StatusInternalServerError
}

// adopt returns the create body to forward and the CgroupParent it
// carries.
func (p *Proxy) adopt(ctx context.Context, pr peer, body []byte) ([]byte, string, error) {
	want, same, err := p.policy(ctx, pr, "container create")
	if err != nil {
		return nil, "", err
	}
	out, err := rewriteCreate(body, want, same, p.AllowOverride)
	if err != nil {
		return nil, "", deny(pr, "container create", http.StatusBadRequest, err)
	}
	return out, want, nil
}

// policy returns the cgroup parent for pr's containers and how to tell a
// client's value names the same cgroup, or a *refusal for what.
func (p *Proxy) policy(ctx context.Context, pr peer, what string) (string, func(string) bool, error) {
	if pr.err != nil {
		return "", nil, deny(pr, what, http.StatusForbidden, pr.err)
	}
	d, err := p.driver(ctx)
	if err != nil {
		return "", nil, deny(pr, what, http.StatusBadGateway, err)
	}
	cg, err := peerPath(pr.cgroups, d)
	if err != nil {
		return "", nil, deny(pr, what, http.StatusForbidden, fmt.Errorf("calling process pid %d: %w", pr.PID, err))
	}
	want, err := parentFor(cg, d)
	if err != nil {
		return "", nil, deny(pr, what, http.StatusForbidden, err)
	}
	return want, func(asked string) bool { return sameParent(asked, want, d) }, nil
}

func deny(pr peer, what string, status int, err error) error {
	return &refusal{status: status, err: fmt.Errorf("envbox adopt-proxy: %s from pid %d refused: %w", what, pr.PID, err)}
}

// capped is a buffer refusing to grow past max.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(b []byte) (int, error) {
	if c.Len()+len(b) > c.max {
		return 0, fmt.Errorf("body larger than %d bytes", c.max)
	}
	return c.Buffer.Write(b)
}
