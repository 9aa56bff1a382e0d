package cli

import (
	"slices"
	"testing"
	"time"
)

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseDindArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		wantDockerd []string
		wantCommand []string
		wantTLS     string
		wantIso     bool
		wantGrace   time.Duration
		wantRestart int
		wantErr     string
	}{
		{
			name:        "no_args",
			wantDockerd: []string{"dockerd", "--host=unix:///var/run/docker.sock"},
			wantGrace:   10 * time.Second, wantRestart: 3,
		},
		{
			name:        "dind_flags_without_separator_go_to_dockerd",
			args:        []string{"--storage-driver=vfs"},
			env:         map[string]string{"DOCKER_TLS_CERTDIR": "/certs", "ENVBOX_DOCKERD_RESTARTS": "0"},
			wantDockerd: []string{"dockerd", "--host=unix:///var/run/docker.sock", "--host=tcp://0.0.0.0:2376", "--tlsverify", "--tlscacert", "/certs/server/ca.pem", "--tlscert", "/certs/server/cert.pem", "--tlskey", "/certs/server/key.pem", "--storage-driver=vfs"},
			wantTLS:     "/certs",
			wantGrace:   10 * time.Second, wantRestart: 0,
		},
		{
			name:        "envbox_flags_before_separator",
			args:        []string{"--isolated-mount", "--stop-grace=3s", "--", "--storage-driver=vfs"},
			wantDockerd: []string{"dockerd", "--host=unix:///var/run/docker.sock", "--storage-driver=vfs"},
			wantIso:     true, wantGrace: 3 * time.Second, wantRestart: 3,
		},
		{
			name:        "command_after_separator",
			args:        []string{"--", "sh", "-c", "docker info"},
			env:         map[string]string{"DOCKER_TLS_CERTDIR": ""},
			wantDockerd: []string{"dockerd", "--host=unix:///var/run/docker.sock", "--host=tcp://0.0.0.0:2375", "--tls=false"},
			wantCommand: []string{"sh", "-c", "docker info"},
			wantGrace:   10 * time.Second, wantRestart: 3,
		},
		{name: "unknown_envbox_flag", args: []string{"--bogus", "--"}, wantErr: "unknown flag: --bogus"},
		{name: "positional_before_separator", args: []string{"x", "--"}, wantErr: `unexpected arguments before --: ["x"]`},
		{name: "zero_grace", args: []string{"--stop-grace=0s", "--"}, wantErr: `parse --stop-grace="0s": want a positive duration such as 30s`},
		{name: "bad_attempts", env: map[string]string{"ENVBOX_DELEGATE_ATTEMPTS": "0"}, wantErr: `parse ENVBOX_DELEGATE_ATTEMPTS="0": want a whole number from 1 to 999999999`},
		{name: "attempts_over_script_bound", env: map[string]string{"ENVBOX_DELEGATE_ATTEMPTS": "1000000000"}, wantErr: `parse ENVBOX_DELEGATE_ATTEMPTS="1000000000": want a whole number from 1 to 999999999`},
		{name: "spaced_attempts", env: map[string]string{"ENVBOX_DELEGATE_ATTEMPTS": " 5"}, wantErr: `parse ENVBOX_DELEGATE_ATTEMPTS=" 5": want a whole number from 1 to 999999999`},
		{name: "bad_restarts", env: map[string]string{"ENVBOX_DOCKERD_RESTARTS": "-1"}, wantErr: `parse ENVBOX_DOCKERD_RESTARTS="-1": want a whole number >= 0`},
		{name: "bad_docker_host", env: map[string]string{"DOCKER_HOST": "/var/run/docker.sock"}, wantErr: `parse DOCKER_HOST="/var/run/docker.sock": want unix:///PATH or tcp://HOST:PORT`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseDindArgs(tt.args, lookupMap(tt.env), false)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parseDindArgs(%q) error = %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseDindArgs(%q): %v", tt.args, err)
			}
			if !slices.Equal(cfg.Plan.Dockerd, tt.wantDockerd) || !slices.Equal(cfg.Plan.Command, tt.wantCommand) ||
				cfg.Plan.TLSCertDir != tt.wantTLS || cfg.Isolated != tt.wantIso || cfg.StopGrace != tt.wantGrace ||
				cfg.Restarts != tt.wantRestart {
				t.Errorf("parseDindArgs(%q) = %+v", tt.args, cfg)
			}
		})
	}
}
