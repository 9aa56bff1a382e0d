package workspace

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"cdr.dev/slog"
	"github.com/moby/moby/api/types/registry"
	"github.com/spf13/afero"

	"github.com/envbox/envbox/dind"
)

// TestRunDockerPullAlways: ENVBOX_PULL=always pulls an image dockerd has.
func TestRunDockerPullAlways(t *testing.T) {
	t.Parallel()
	cfg := flowConfig()
	cfg.Pull = PullAlways
	w, done := startFlow(t, cfg, nil)
	waitScript(t, w)
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatal(err)
	}
	wantEvents := []string{
		"start dockerd", "pull codercom/enterprise-base:ubuntu auth=false", "remove workspace_cvm", "create workspace_cvm", "start id1",
		"exec in id1 as coder", "stop container id1 timeout=25", "stop dockerd", "close client",
	}
	if got := w.rec.list(); !reflect.DeepEqual(got, wantEvents) {
		t.Errorf("events =\n%q\nwant\n%q", got, wantEvents)
	}
}

// TestRunDockerTrustsRegistryCA: the extra CA certificates are in
// certs.d/<registry>/ca.crt before dockerd starts, logged once.
func TestRunDockerTrustsRegistryCA(t *testing.T) {
	t.Parallel()
	cfg := flowConfig()
	cfg.Image, cfg.ExtraCertsPath = "192.0.2.1:5000/ws:1", "/certs"
	cfg.RegistryCAs = []byte(testCert(t, "reg"))
	var atStart string
	w, done := startFlow(t, cfg, func(_ *fakeWorld, d *SessionDeps) {
		fs, start := d.Fs, d.Start
		d.Start = func(ctx context.Context, log slog.Logger, cmd dind.Command, opts dind.StartOptions) (dind.Proc, error) {
			b, _ := afero.ReadFile(fs, "/etc/docker/certs.d/192.0.2.1:5000/ca.crt")
			atStart = string(b)
			return start(ctx, log, cmd, opts)
		}
	})
	waitScript(t, w)
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatal(err)
	}
	if atStart != string(cfg.RegistryCAs) {
		t.Errorf("/etc/docker/certs.d/192.0.2.1:5000/ca.crt when dockerd started = %q, want the certificates", atStart)
	}
	logs := w.logs.String()
	want := `"msg":"dockerd trusts the extra CA certificates for the registry"`
	if n := strings.Count(logs, want); n != 1 {
		t.Errorf("%d log lines %s, want 1:\n%s", n, want, logs)
	}
	for _, f := range []string{`"registry":"192.0.2.1:5000"`, `"path":"/etc/docker/certs.d/192.0.2.1:5000/ca.crt"`, `"from":"/certs"`} {
		if !strings.Contains(logs, f) {
			t.Errorf("logs lack %s:\n%s", f, logs)
		}
	}
}

// TestRunDockerPullErrors: a refused or untrusted pull ends the session
// with one error naming the image, the registry and the credentials'
// source, never a credential.
func TestRunDockerPullErrors(t *testing.T) {
	t.Parallel()
	secret := &DockerConfig{Auths: map[string]registry.AuthConfig{"https://192.0.2.1:5000/v1/": {Username: "bot", Password: "hunter2-pw"}}}
	tests := []struct {
		name    string
		secret  *DockerConfig
		cas     bool
		pullErr string
		want    string
	}{
		{name: "refused", secret: secret,
			pullErr: `Head "https://192.0.2.1:5000/v2/ws/manifests/1": unauthorized: authentication required`,
			want:    `pull 192.0.2.1:5000/ws:1 from registry 192.0.2.1:5000 with the credentials of CODER_IMAGE_PULL_SECRET auths["https://192.0.2.1:5000/v1/"]: Head "https://192.0.2.1:5000/v2/ws/manifests/1": unauthorized: authentication required`},
		{name: "no_key_matches", secret: &DockerConfig{Auths: map[string]registry.AuthConfig{"ghcr.io": {Username: "bot", Password: "hunter2-pw"}}},
			pullErr: `Head "https://192.0.2.1:5000/v2/ws/manifests/1": no basic auth credentials`,
			want:    `pull 192.0.2.1:5000/ws:1 from registry 192.0.2.1:5000 without credentials: no key of CODER_IMAGE_PULL_SECRET names it (keys: ghcr.io): Head "https://192.0.2.1:5000/v2/ws/manifests/1": no basic auth credentials`},
		{name: "untrusted_ca",
			pullErr: `Get "https://192.0.2.1:5000/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority`,
			want:    `pull 192.0.2.1:5000/ws:1 from registry 192.0.2.1:5000 without credentials: Get "https://192.0.2.1:5000/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority (set CODER_EXTRA_CERTS_PATH to the registry's CA certificate)`},
		{name: "untrusted_despite_ca", cas: true,
			pullErr: `Get "https://192.0.2.1:5000/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority`,
			want:    `pull 192.0.2.1:5000/ws:1 from registry 192.0.2.1:5000 without credentials: Get "https://192.0.2.1:5000/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := flowConfig()
			cfg.Image, cfg.PullSecret = "192.0.2.1:5000/ws:1", tt.secret
			if tt.cas {
				cfg.RegistryCAs = []byte(testCert(t, "reg"))
			}
			w, done := startFlow(t, cfg, func(w *fakeWorld, _ *SessionDeps) {
				w.api.haveImage = false
				w.api.pullErrs = []error{errors.New(tt.pullErr)}
			})
			err := waitFor(t, done)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Run error =\n%v\nwant\n%s", err, tt.want)
			}
			if strings.Contains(w.logs.String(), "hunter2") {
				t.Errorf("logs hold the password:\n%s", w.logs.String())
			}
			wantEvents := []string{"start dockerd", "pull 192.0.2.1:5000/ws:1 auth=" + map[bool]string{true: "true", false: "false"}[tt.name == "refused"], "stop dockerd", "close client"}
			if got := w.rec.list(); !reflect.DeepEqual(got, wantEvents) {
				t.Errorf("events =\n%q\nwant\n%q", got, wantEvents)
			}
		})
	}
}

// TestRunDockerPresentImageNeedsNoCredentials: with the image in the data
// root (ENVBOX_PULL=missing) the docker config is not even read: a
// credHelpers file that would fail a pull does not stop the workspace.
func TestRunDockerPresentImageNeedsNoCredentials(t *testing.T) {
	t.Parallel()
	w, done := startFlow(t, flowConfig(), func(_ *fakeWorld, d *SessionDeps) {
		_ = afero.WriteFile(d.Fs, "/root/.docker/config.json", []byte(`{"credsStore":"desktop"}`), 0o600)
	})
	waitScript(t, w)
	w.signals <- syscall.SIGTERM
	if err := waitFor(t, done); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if logs := w.logs.String(); !strings.Contains(logs, `"msg":"image present, not pulling"`) || strings.Contains(logs, "credential helper") {
		t.Errorf("logs: want \"image present, not pulling\" and no credential helper:\n%s", logs)
	}
}
