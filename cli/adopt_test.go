package cli

import (
	"strings"
	"testing"
)

func TestAdoptConfigValidate(t *testing.T) {
	t.Parallel()
	long := "/" + strings.Repeat("s", 107)
	tests := []struct {
		name, listen, upstream, wantErr string
		maxConns                        int
	}{
		{name: "defaults", listen: "/var/run/docker.sock", upstream: "/var/run/docker-real.sock"},
		{name: "unix_url", listen: "unix:///var/run/docker.sock", upstream: "/var/run/docker-real.sock"},
		{name: "tcp_refused", listen: "tcp://0.0.0.0:2375", upstream: "/var/run/docker-real.sock",
			wantErr: `--listen: listen address "tcp://0.0.0.0:2375": only unix sockets can be listened on: the caller's cgroup comes from SO_PEERCRED`},
		{name: "listen_too_long", listen: long, upstream: "/var/run/docker-real.sock",
			wantErr: `--listen "` + long + `": longer than the 107 bytes of a unix socket path`},
		{name: "upstream_empty", listen: "/var/run/docker.sock",
			wantErr: `--upstream: empty socket path`},
		{name: "upstream_tcp", listen: "/var/run/docker.sock", upstream: "tcp://127.0.0.1:2375",
			wantErr: `--upstream "tcp://127.0.0.1:2375": want an absolute socket path (dockerd's unix socket)`},
		{name: "same_socket", listen: "unix:///run/d.sock", upstream: "/run/d.sock",
			wantErr: `--upstream "/run/d.sock" and --listen "unix:///run/d.sock" name the same socket`},
		{name: "no_connections", listen: "/var/run/docker.sock", upstream: "/var/run/docker-real.sock", maxConns: -1,
			wantErr: `--max-connections -1: want at least 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := adoptConfig{Listen: tt.listen, Upstream: tt.upstream, MaxConns: tt.maxConns}
			if c.MaxConns == 0 {
				c.MaxConns = 1024
			}
			err := c.validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("validate(--listen %q --upstream %q) = %q, want %q", tt.listen, tt.upstream, got, tt.wantErr)
			}
		})
	}
}
