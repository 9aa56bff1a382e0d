package dind

import (
	"slices"
	"testing"
)

func ptr(s string) *string { return &s }

func TestResolveEntrypoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  EntrypointEnv
		want Plan
	}{
		{
			name: "no_args_tls_unset_unix_only",
			want: Plan{Dockerd: []string{"dockerd", "--host=unix:///var/run/docker.sock"}, Socket: "unix:///var/run/docker.sock"},
		},
		{
			name: "no_args_tls_certdir_certs",
			env:  EntrypointEnv{TLSCertDir: ptr("/certs")},
			want: Plan{
				Dockerd: []string{"dockerd", "--host=unix:///var/run/docker.sock", "--host=tcp://0.0.0.0:2376", "--tlsverify",
					"--tlscacert", "/certs/server/ca.pem", "--tlscert", "/certs/server/cert.pem", "--tlskey", "/certs/server/key.pem"},
				TLSCertDir: "/certs",
				Socket:     "unix:///var/run/docker.sock",
			},
		},
		{
			name: "tls_disabled_plain_tcp",
			env:  EntrypointEnv{TLSCertDir: ptr("")},
			want: Plan{
				Dockerd: []string{"dockerd", "--host=unix:///var/run/docker.sock", "--host=tcp://0.0.0.0:2375", "--tls=false"},
				Socket:  "unix:///var/run/docker.sock",
			},
		},
		{
			name: "flags_appended_to_defaults",
			args: []string{"--storage-driver=vfs", "--mtu", "1400"},
			env:  EntrypointEnv{TLSCertDir: ptr("")},
			want: Plan{
				Dockerd: []string{"dockerd", "--host=unix:///var/run/docker.sock", "--host=tcp://0.0.0.0:2375", "--tls=false",
					"--storage-driver=vfs", "--mtu", "1400"},
				Socket: "unix:///var/run/docker.sock",
			},
		},
		{
			name: "docker_host_unix_socket_used",
			args: []string{"-D"},
			env:  EntrypointEnv{DockerHost: "unix:///run/user/docker.sock"},
			want: Plan{Dockerd: []string{"dockerd", "--host=unix:///run/user/docker.sock", "-D"}, Socket: "unix:///run/user/docker.sock"},
		},
		{
			name: "docker_host_tcp_ignored_for_listener",
			env:  EntrypointEnv{DockerHost: "tcp://docker:2376"},
			want: Plan{Dockerd: []string{"dockerd", "--host=unix:///var/run/docker.sock"}, Socket: "unix:///var/run/docker.sock"},
		},
		{
			name: "explicit_dockerd_as_given_no_certs",
			args: []string{"dockerd", "--host=tcp://127.0.0.1:2375", "--tls=false"},
			env:  EntrypointEnv{TLSCertDir: ptr("/certs")},
			want: Plan{Dockerd: []string{"dockerd", "--host=tcp://127.0.0.1:2375", "--tls=false"}, Socket: "unix:///var/run/docker.sock"},
		},
		{
			name: "explicit_dockerd_path",
			args: []string{"/usr/local/bin/dockerd"},
			want: Plan{Dockerd: []string{"/usr/local/bin/dockerd"}, Socket: "unix:///var/run/docker.sock"},
		},
		{
			name: "other_command_runs_after_default_dockerd",
			args: []string{"sh", "-c", "docker info"},
			env:  EntrypointEnv{TLSCertDir: ptr("")},
			want: Plan{
				Dockerd: []string{"dockerd", "--host=unix:///var/run/docker.sock", "--host=tcp://0.0.0.0:2375", "--tls=false"},
				Command: []string{"sh", "-c", "docker info"},
				Socket:  "unix:///var/run/docker.sock",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ResolveEntrypoint(tt.args, tt.env)
			if !slices.Equal(got.Dockerd, tt.want.Dockerd) || !slices.Equal(got.Command, tt.want.Command) ||
				got.TLSCertDir != tt.want.TLSCertDir || got.Socket != tt.want.Socket {
				t.Errorf("ResolveEntrypoint(%q, %+v) =\n%+q\nwant\n%+q", tt.args, tt.env, got, tt.want)
			}
		})
	}
}
