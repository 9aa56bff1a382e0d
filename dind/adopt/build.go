package adopt

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"

	"cdr.dev/slog"
)

// buildPath is POST /build: the classic builder runs each RUN step in a
// container placed under the cgroupparent query parameter. (BuildKit over
// /grpc and /session carries its options inside gRPC: not adopted.)
var buildPath = regexp.MustCompile(`^(/v[0-9.]+)?/build$`)

func isBuild(req *http.Request) bool {
	return strings.EqualFold(req.Method, http.MethodPost) && buildPath.MatchString(path.Clean("/"+req.URL.Path))
}

// build applies the adoption policy to a build's cgroupparent and streams
// the build context through. A refused build's context is drained first,
// so the client reads the reason rather than a broken pipe.
func (c *conn) build(ctx context.Context, head []byte, req *http.Request) (bool, error) {
	q, err := c.p.adoptBuild(ctx, c.peer, req.URL.RawQuery)
	if err != nil {
		c.p.Log.Warn(ctx, "refused build", slog.F("peer_pid", c.peer.PID), slog.Error(err))
		closing := req.Close || expectsContinue(req)
		if !expectsContinue(req) {
			if err := copyBody(io.Discard, c.cr, requestFraming(req), nil, nil); err != nil {
				return false, err
			}
		}
		return !closing, c.refuse(statusOf(err), err.Error(), closing)
	}
	head = withQuery(head, q)
	f := requestFraming(req)
	return c.forward(req, func() error { return copyBody(c.up, c.cr, f, nil, head) })
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

// rewriteBuildQuery applies the policy to the cgroupparent parameter of a
// POST /build query, read as dockerd reads it (the first value, keys
// unescaped). An empty one is replaced by want; other parameters keep
// their bytes and order.
func rewriteBuildQuery(rawQuery, want string, same func(string) bool, allowOverride bool) (string, error) {
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("parse build query %q: %w", rawQuery, err)
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
