package cli

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"cdr.dev/slog"
)

type entrySink struct{ entries []slog.SinkEntry }

func (s *entrySink) LogEntry(_ context.Context, e slog.SinkEntry) { s.entries = append(s.entries, e) }
func (s *entrySink) Sync()                                        {}

type tokenHolder struct{ Token string }

func TestRedactSink(t *testing.T) {
	t.Parallel()
	next := &entrySink{}
	log := slog.Make(newRedactSink(next, testToken, "pw", ""))
	log.Info(context.Background(), "token "+testToken+" and pw",
		slog.F("s", "x"+testToken),
		slog.Error(fmt.Errorf("exec: %w", errors.New("env CODER_AGENT_TOKEN="+testToken))),
		slog.F("struct", tokenHolder{Token: testToken}),
		slog.F("n", 42),
		slog.F("plain", []string{"a"}),
	)
	e := next.entries[0]
	if want := "token [REDACTED] and pw"; e.Message != want {
		t.Errorf("message = %q, want %q (secrets under 4 bytes are not redacted)", e.Message, want)
	}
	want := slog.Map{
		slog.F("s", "x[REDACTED]"),
		slog.F("error", "exec: env CODER_AGENT_TOKEN=[REDACTED]"),
		slog.F("struct", "{Token:[REDACTED]}"),
		slog.F("n", 42),
		slog.F("plain", []string{"a"}),
	}
	if !reflect.DeepEqual(e.Fields, want) {
		t.Errorf("fields = %#v\nwant %#v", e.Fields, want)
	}
}
