package workspace

import (
	"encoding/base64"
	"encoding/json"
	"testing"

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
	fileDoc := `{"auths":{"ghcr.io":{"username":"file","password":"filepw"}}}`
	secret := &DockerConfig{Auths: map[string]registry.AuthConfig{"ghcr.io": {Username: "secret", Password: "secretpw"}}}
	tests := []struct {
		name    string
		secret  *DockerConfig
		file    string // "" = no file
		want    string
		wantErr string
	}{
		{name: "pull_secret_wins", secret: secret, file: fileDoc, want: "secret:secretpw@ghcr.io"},
		{name: "docker_config_file", file: fileDoc, want: "file:filepw@ghcr.io"},
		{name: "nothing", want: ""},
		{name: "file_not_json", file: "{", wantErr: "parse /root/.docker/config.json: not valid JSON (syntax error at byte 1)"},
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
			if err != nil || decodeAuth(t, got) != tt.want {
				t.Errorf("registryAuth() = %q, %v; want %q", decodeAuth(t, got), err, tt.want)
			}
		})
	}
}
