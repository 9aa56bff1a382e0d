package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

// TestDockerLoggerRedactsDecodedPassword: a pull secret that holds only
// "auth" (what `kubectl create secret docker-registry` writes) has its
// password in no field; the decoded password and the base64
// user:password of an entry with separate fields are redacted too.
func TestDockerLoggerRedactsDecodedPassword(t *testing.T) {
	t.Parallel()
	authOnly := base64.StdEncoding.EncodeToString([]byte("robot:pw-auth-only-7e1d"))
	secret := `{"auths":{"reg.example.com":{"auth":"` + authOnly + `"},` +
		`"other.example.com":{"username":"bot","password":"pw-fields-2c4b"}}}`
	c := defaults()
	if err := setPullSecret(&c, secret); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	log, err := newDockerLogger(&out, c)
	if err != nil {
		t.Fatal(err)
	}
	fields := base64.StdEncoding.EncodeToString([]byte("bot:pw-fields-2c4b"))
	log.Info(context.Background(), "registry said: bad password pw-auth-only-7e1d; Authorization: Basic "+fields)
	got := out.String()
	if !strings.Contains(got, "registry said: bad password [REDACTED]; Authorization: Basic [REDACTED]") {
		t.Errorf("log = %q, want the decoded password and the base64 user:password redacted", got)
	}
}

// TestDockerLoggerRedactsDockerConfigFile: without a pull secret the
// credentials come from the CODER_DOCKER_CONFIG file; they are redacted
// as the pull secret's are.
func TestDockerLoggerRedactsDockerConfigFile(t *testing.T) {
	t.Parallel()
	auth := base64.StdEncoding.EncodeToString([]byte("robot:pw-config-file-9a3f"))
	c := defaults()
	c.DockerConfig = filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(c.DockerConfig, []byte(`{"auths":{"reg.example.com":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	log, err := newDockerLogger(&out, c)
	if err != nil {
		t.Fatal(err)
	}
	log.Info(context.Background(), "registry said: bad password pw-config-file-9a3f, auth "+auth)
	if got := out.String(); !strings.Contains(got, "registry said: bad password [REDACTED], auth [REDACTED]") {
		t.Errorf("log = %q, want the docker config file's password and auth redacted", got)
	}
}
