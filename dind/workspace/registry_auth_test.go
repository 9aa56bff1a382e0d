package workspace

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/registry"
	"github.com/spf13/afero"
)

// decodeAuth turns an X-Registry-Auth value back into "user:password@server".
func decodeAuth(t *testing.T, enc string) string {
	t.Helper()
	if enc == "" {
		return ""
	}
	raw, err := base64.URLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("auth %q: %v", enc, err)
	}
	var a registry.AuthConfig
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("auth %s: %v", raw, err)
	}
	return a.Username + ":" + a.Password + "@" + a.ServerAddress
}

func TestRegistryAuth(t *testing.T) {
	t.Parallel()
	fileDoc := `{"auths":{"https://ghcr.io/v1/":{"username":"file","password":"filepw"}}}`
	secret := &DockerConfig{Auths: map[string]registry.AuthConfig{"ghcr.io": {Username: "secret", Password: "secretpw"}}}
	tests := []struct {
		name     string
		secret   *DockerConfig
		file     string // "" = no file
		want     string
		wantFrom string
		wantDesc string
		wantErr  string
	}{
		{name: "pull_secret_wins", secret: secret, file: fileDoc, want: "secret:secretpw@ghcr.io", wantFrom: "CODER_IMAGE_PULL_SECRET",
			wantDesc: `with the credentials of CODER_IMAGE_PULL_SECRET auths["ghcr.io"]`},
		{name: "docker_config_file", file: fileDoc, want: "file:filepw@ghcr.io", wantFrom: "/root/.docker/config.json",
			wantDesc: `with the credentials of /root/.docker/config.json auths["https://ghcr.io/v1/"]`},
		{name: "no_key_matches", secret: &DockerConfig{Auths: map[string]registry.AuthConfig{"quay.io": {}, "a.example.com": {}}},
			wantFrom: "CODER_IMAGE_PULL_SECRET", wantDesc: "without credentials: no key of CODER_IMAGE_PULL_SECRET names it (keys: a.example.com, quay.io)"},
		{name: "empty_auths", secret: &DockerConfig{Auths: map[string]registry.AuthConfig{}},
			wantFrom: "CODER_IMAGE_PULL_SECRET", wantDesc: "without credentials: CODER_IMAGE_PULL_SECRET has no auths key"},
		{name: "nothing", want: "", wantDesc: "without credentials"},
		{name: "file_not_json", file: "{", wantErr: "parse /root/.docker/config.json: not valid JSON (syntax error at byte 1)"},
		{name: "file_cred_helper", file: `{"credHelpers":{"ghcr.io":"ghcr"}}`,
			wantErr: `/root/.docker/config.json: registry ghcr.io: its credentials are in the credential helper docker-credential-ghcr ("credHelpers"), which cannot run in the pod: put the registry's username and password (or "auth") under "auths", or use CODER_IMAGE_PULL_SECRET`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := afero.NewMemMapFs()
			if tt.file != "" {
				if err := afero.WriteFile(fs, "/root/.docker/config.json", []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg := defaults()
			cfg.Image, cfg.PullSecret = "ghcr.io/acme/dev:1", tt.secret
			s := &session{cfg: cfg, deps: SessionDeps{Fs: fs}}
			got, err := s.registryAuth()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("registryAuth() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || decodeAuth(t, got.encoded) != tt.want || got.source != tt.wantFrom || got.describe() != tt.wantDesc {
				t.Errorf("registryAuth() = %q from %q (%q), %v; want %q from %q (%q)",
					decodeAuth(t, got.encoded), got.source, got.describe(), err, tt.want, tt.wantFrom, tt.wantDesc)
			}
		})
	}
}

// TestRegistryAuthDockerConfigPipe: a docker config that is a named pipe
// (nothing writes it) is an error naming it, not a pull that hangs.
func TestRegistryAuthDockerConfigPipe(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "config.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // unblock a reader left by a failing run
		if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			_ = f.Close()
		}
	})
	cfg := defaults()
	cfg.Image, cfg.DockerConfig = "ghcr.io/acme/dev:1", fifo
	s := &session{cfg: cfg, deps: SessionDeps{Fs: afero.NewOsFs()}}
	done := make(chan error, 1)
	go func() {
		_, err := s.registryAuth()
		done <- err
	}()
	want := "read " + fifo + ": " + fifo + " is not a regular file (mode prw-------)"
	select {
	case err := <-done:
		if err == nil || err.Error() != want {
			t.Errorf("registryAuth() error = %v, want %q", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("registryAuth() blocked on the named pipe %s", fifo)
	}
}
