package cli

import (
	"reflect"
	"testing"
	"time"

	"github.com/envbox/envbox/dind"
)

// TestParseDindVars: every row of dindVars, as variable and as flag, with
// docker:dind's unset/empty distinction where it has one.
func TestParseDindVars(t *testing.T) {
	t.Parallel()
	empty, certs, legacy := "", "/certs", "1"
	defaults := func() dindConfig {
		return dindConfig{Config: dind.Config{Attempts: 100, Restarts: 3, StopGrace: 10 * time.Second, ReadyTimeout: 60 * time.Second, ExecPids: 32,
			Headroom: dind.Headroom{Reserve: dind.Reserve{Memory: dind.Amount{Auto: true}, Pids: dind.Amount{Auto: true}}}}}
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		edit    func(c *dindConfig)
		wantErr string
	}{
		{name: "defaults", edit: func(*dindConfig) {}},
		{name: "variables", env: map[string]string{"ENVBOX_ISOLATED_MOUNT": "true", "ENVBOX_STOP_GRACE": "3s", "ENVBOX_DOCKERD_TIMEOUT": "5s",
			"ENVBOX_DELEGATE_ATTEMPTS": "7", "ENVBOX_DOCKERD_RESTARTS": "0", "ENVBOX_LOG_FORMAT": "json",
			"DOCKER_TLS_CERTDIR": "/certs", "DOCKER_TLS_SAN": "DNS:dind", "DOCKER_HOST": "unix:///run/d.sock", "DOCKER_IPTABLES_LEGACY": "1"},
			edit: func(c *dindConfig) {
				c.Isolated, c.StopGrace, c.ReadyTimeout, c.Attempts, c.Restarts, c.LogFormat = true, 3*time.Second, 5*time.Second, 7, 0, "json"
				c.TLSSAN, c.IPTablesLegacy = "DNS:dind", &legacy
				c.Env = dind.EntrypointEnv{DockerHost: "unix:///run/d.sock", TLSCertDir: &certs}
			}},
		{name: "flags_win", args: []string{"--isolated-mount=false", "--stop-grace=4s", "--ready-timeout=6s", "--delegate-attempts=8",
			"--dockerd-restarts=5", "--log-format=human", "--"},
			env: map[string]string{"ENVBOX_ISOLATED_MOUNT": "true", "ENVBOX_STOP_GRACE": "3s", "ENVBOX_DOCKERD_TIMEOUT": "5s",
				"ENVBOX_DELEGATE_ATTEMPTS": "7", "ENVBOX_DOCKERD_RESTARTS": "0", "ENVBOX_LOG_FORMAT": "json"},
			edit: func(c *dindConfig) {
				c.StopGrace, c.ReadyTimeout, c.Attempts, c.Restarts, c.LogFormat = 4*time.Second, 6*time.Second, 8, 5, "human"
			}},
		{name: "reserve_variables", env: map[string]string{"ENVBOX_RESERVE_MEMORY": "256Mi", "ENVBOX_RESERVE_PIDS": "0"},
			edit: func(c *dindConfig) { c.Headroom.Reserve = dind.Reserve{Memory: dind.Amount{N: 268435456}} }},
		{name: "reserve_flags_win", args: []string{"--reserve-memory=10%", "--reserve-pids=64", "--"},
			env: map[string]string{"ENVBOX_RESERVE_MEMORY": "256Mi", "ENVBOX_RESERVE_PIDS": "0"},
			edit: func(c *dindConfig) {
				c.Headroom.Reserve = dind.Reserve{Memory: dind.Amount{Percent: 10}, Pids: dind.Amount{N: 64}}
			}},
		{name: "exec_pids_variable_off", env: map[string]string{"ENVBOX_RESERVE_EXEC_PIDS": "0"},
			edit: func(c *dindConfig) { c.ExecPids = 0 }},
		{name: "exec_pids_flag_wins", args: []string{"--reserve-exec-pids=64", "--"}, env: map[string]string{"ENVBOX_RESERVE_EXEC_PIDS": "0"},
			edit: func(c *dindConfig) { c.ExecPids = 64 }},
		{name: "bad_exec_pids", env: map[string]string{"ENVBOX_RESERVE_EXEC_PIDS": "5%"},
			wantErr: `parse ENVBOX_RESERVE_EXEC_PIDS="5%": want a whole number from 0 (off) to 4194304`},
		{name: "bad_reserve_memory", env: map[string]string{"ENVBOX_RESERVE_MEMORY": "64M"},
			wantErr: `parse ENVBOX_RESERVE_MEMORY="64M": want "auto", a percentage from 1% to 90%, 0 (off) or a whole number of bytes, optionally with Ki, Mi, Gi or Ti`},
		{name: "bad_reserve_pids_flag", args: []string{"--reserve-pids=95%", "--"},
			wantErr: `parse --reserve-pids="95%": want "auto", a percentage from 1% to 90%, 0 (off) or a whole number`},
		{name: "flags_after_separator_are_dockerds", args: []string{"--", "--stop-grace=4s"}, edit: func(*dindConfig) {}},
		{name: "flags_without_separator_are_dockerds", args: []string{"--stop-grace=4s"}, edit: func(*dindConfig) {}},
		{name: "envbox_empty_is_unset", env: map[string]string{"ENVBOX_ISOLATED_MOUNT": "", "ENVBOX_STOP_GRACE": "", "ENVBOX_DOCKERD_TIMEOUT": "",
			"ENVBOX_DELEGATE_ATTEMPTS": "", "ENVBOX_DOCKERD_RESTARTS": "", "ENVBOX_LOG_FORMAT": "", "DOCKER_TLS_SAN": "", "DOCKER_HOST": ""},
			edit: func(*dindConfig) {}},
		{name: "docker_dind_empty_is_a_value", env: map[string]string{"DOCKER_TLS_CERTDIR": "", "DOCKER_IPTABLES_LEGACY": ""},
			edit: func(c *dindConfig) { c.Env.TLSCertDir, c.IPTablesLegacy = &empty, &empty }},
		{name: "bad_isolated", env: map[string]string{"ENVBOX_ISOLATED_MOUNT": "maybe"}, wantErr: `parse ENVBOX_ISOLATED_MOUNT="maybe": want true or false`},
		{name: "bad_grace", env: map[string]string{"ENVBOX_STOP_GRACE": "10"}, wantErr: `parse ENVBOX_STOP_GRACE="10": want a positive duration such as 30s`},
		{name: "bad_ready_flag", args: []string{"--ready-timeout=-1s", "--"}, wantErr: `parse --ready-timeout="-1s": want a positive duration such as 30s`},
		{name: "bad_restarts_flag", args: []string{"--dockerd-restarts=x", "--"}, wantErr: `parse --dockerd-restarts="x": want a whole number >= 0`},
		{name: "relative_certdir", env: map[string]string{"DOCKER_TLS_CERTDIR": "certs"}, wantErr: `parse DOCKER_TLS_CERTDIR="certs": want an absolute directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseDindArgs(tt.args, lookupMap(tt.env), false)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parseDindArgs(%q, %v) error = %v, want %q", tt.args, tt.env, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseDindArgs(%q, %v): %v", tt.args, tt.env, err)
			}
			got.Plan = dind.Plan{} // TestParseDindArgs checks the plan
			want := defaults()
			tt.edit(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("parseDindArgs(%q, %v) =\n%+v\nwant\n%+v", tt.args, tt.env, got, want)
			}
		})
	}
}
