package adopt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// build applies the adoption policy to a build's cgroupparent and streams
// the build context through. dockerd reads build options with
// r.FormValue, which takes a form body (application/x-www-form-urlencoded,
// then multipart/form-data) before the query: a build with such a body is
// refused, so the query the proxy checked is the only place they come from.
func (c *conn) build(ctx context.Context, head []byte, h *reqHead) (bool, error) {
	if err := checkBuildBody(h); err != nil {
		return c.refuseRequest(ctx, h, http.StatusBadRequest, fmt.Sprintf("envbox adopt-proxy: build from pid %d refused: %v", c.peer.PID, err))
	}
	_, rawQuery, _ := bytes.Cut(h.target, []byte("?"))
	q, err := c.p.adoptBuild(ctx, c.peerCgroups(), string(rawQuery))
	if err != nil {
		return c.refuseRequest(ctx, h, statusOf(err), err.Error())
	}
	return c.forward(h, withQuery(head, q))
}

// checkBuildBody refuses a build whose body dockerd would parse as a form.
// The media type is taken with mime.ParseMediaType, as net/http's
// ParseForm takes it: lower-cased, trimmed of Unicode white space (U+00A0
// too), and kept even when the parameters are malformed.
func checkBuildBody(h *reqHead) error {
	if h.contentTypes > 1 {
		return fmt.Errorf("%d Content-Type headers", h.contentTypes)
	}
	mt, _, _ := mime.ParseMediaType(string(h.contentType))
	if h.framing.kind != noBody && (mt == "application/x-www-form-urlencoded" || strings.HasPrefix(mt, "multipart/")) {
		return fmt.Errorf("a body of type %s: dockerd would read build options, cgroupparent included, from it before the query; "+
			"send them in the query and the context as application/x-tar", mt)
	}
	return nil
}

func (p *Proxy) adoptBuild(ctx context.Context, pr peer, rawQuery string) (string, error) {
	want, same, err := p.policy(ctx, pr, "build")
	if err != nil {
		return "", err
	}
	q, err := rewriteBuildQuery(rawQuery, want, same, p.AllowOverride)
	if err != nil {
		return "", deny(pr, "build", http.StatusBadRequest, err)
	}
	return q, nil
}

// errBuildKit refuses a build dockerd would run with BuildKit: its
// builder-next passes no cgroup parent to RUN steps.
var errBuildKit = errors.New("version=2 selects BuildKit, which ignores cgroupparent and runs RUN steps in dockerd's own cgroup; " +
	"use the classic builder (omit version, or version=1)")

// rewriteBuildQuery applies the policy to the cgroupparent parameter of a
// POST /build query, read as dockerd reads it (the first value, keys
// unescaped). An empty one is replaced by want; other parameters keep
// their bytes and order. version=2 (BuildKit) is refused: errBuildKit.
func rewriteBuildQuery(rawQuery, want string, same func(string) bool, allowOverride bool) (string, error) {
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("parse build query %q: %w", rawQuery, err)
	}
	if vals.Get("version") == "2" {
		return "", errBuildKit
	}
	if asked := vals.Get("cgroupparent"); asked != "" {
		if same(asked) || allowOverride {
			return rawQuery, nil
		}
		return "", &ConflictError{Asked: asked, Want: want, Field: "cgroupparent"}
	}
	var kept []string
	for _, pair := range strings.Split(rawQuery, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if key, _ := url.QueryUnescape(k); pair == "" || key == "cgroupparent" {
			continue
		}
		kept = append(kept, pair)
	}
	return strings.Join(append(kept, "cgroupparent="+url.QueryEscape(want)), "&"), nil
}

// withQuery replaces the query of the request-target in a request head;
// every other byte stays.
func withQuery(head []byte, rawQuery string) []byte {
	line, rest, _ := bytes.Cut(head, []byte("\n"))
	parts := bytes.SplitN(line, []byte(" "), 3)
	if len(parts) != 3 {
		return head // parseRequestHead accepted it, so this does not happen
	}
	target, _, _ := bytes.Cut(parts[1], []byte("?"))
	out := make([]byte, 0, len(head)+len(rawQuery))
	out = append(out, parts[0]...)
	out = append(out, ' ')
	out = append(out, target...)
	out = append(out, '?')
	out = append(out, rawQuery...)
	out = append(out, ' ')
	out = append(out, parts[2]...)
	out = append(out, '\n')
	return append(out, rest...)
}
