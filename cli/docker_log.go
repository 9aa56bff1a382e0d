package cli

import (
	"context"
	"fmt"
	"strings"

	"cdr.dev/slog"
)

// redacted replaces every secret in what envbox logs.
const redacted = "[REDACTED]"

// redactSink rewrites each entry's message and fields before the real sink
// sees it, so no code path (ours, dockerd's output, the bootstrap script's)
// can print a secret.
type redactSink struct {
	next    slog.Sink
	secrets []string
}

func newRedactSink(next slog.Sink, secrets ...string) slog.Sink {
	var keep []string
	for _, s := range secrets {
		// Very short values would redact ordinary words; the token and the
		// pull secret are never that short.
		if len(s) >= 4 {
			keep = append(keep, s)
		}
	}
	return &redactSink{next: next, secrets: keep}
}

func (r *redactSink) LogEntry(ctx context.Context, e slog.SinkEntry) {
	e.Message = r.redact(e.Message)
	fields := make(slog.Map, len(e.Fields))
	for i, f := range e.Fields {
		fields[i] = slog.F(f.Name, r.value(f.Value))
	}
	e.Fields = fields
	r.next.LogEntry(ctx, e)
}

func (r *redactSink) Sync() { r.next.Sync() }

func (r *redactSink) redact(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}

// value keeps a field's type unless its printed form holds a secret.
func (r *redactSink) value(v any) any {
	switch v := v.(type) {
	case string:
		return r.redact(v)
	case nil, bool, int, int64, uint64, float64:
		return v
	}
	s := fmt.Sprintf("%+v", v)
	if red := r.redact(s); red != s {
		return red
	}
	if err, ok := v.(error); ok {
		// slog prints errors with their chain; check that form too.
		if red := r.redact(err.Error()); red != err.Error() {
			return red
		}
	}
	return v
}
