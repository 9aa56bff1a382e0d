package dind

import (
	"slices"
	"testing"

	"github.com/envbox/envbox/embed"
)

func TestWrap(t *testing.T) {
	t.Parallel()
	script := embed.DelegateScript
	tests := []struct {
		name    string
		w       Wrapper
		bin     string
		args    []string
		want    Command
		wantErr string
	}{
		{
			name: "defaults",
			bin:  "dockerd",
			args: []string{"--host=unix:///var/run/docker.sock"},
			want: Command{
				BinName: "dockerd",
				Path:    "unshare",
				Args:    []string{"--cgroup", "--", "/bin/sh", "-c", script, "dockerd", "--host=unix:///var/run/docker.sock"},
				Env:     []string{"ENVBOX_DELEGATE_ATTEMPTS=100"},
			},
		},
		{
			name: "isolated_absolute_paths_and_bound",
			w:    Wrapper{Unshare: "/usr/bin/unshare", Shell: "/bin/dash", Attempts: 7, Isolated: true},
			bin:  "/usr/bin/dockerd",
			args: []string{"--storage-driver=vfs", "--bridge=none"},
			want: Command{
				BinName: "dockerd",
				Path:    "/usr/bin/unshare",
				Args: []string{"--cgroup", "--mount", "--propagation", "slave", "--", "/bin/dash", "-c", script,
					"/usr/bin/dockerd", "--storage-driver=vfs", "--bridge=none"},
				Env: []string{"ENVBOX_DELEGATE_ATTEMPTS=7"},
			},
		},
		{
			name: "hook_reserve_and_oom_score",
			w: Wrapper{Hook: "/usr/local/bin/envbox", Reserve: Reserve{Memory: Amount{N: 268435456}, Pids: Amount{Percent: 10}},
				OOMScoreAdj: new(int)},
			bin:  "dockerd",
			args: []string{"--host=unix:///var/run/docker.sock"},
			want: Command{
				BinName: "dockerd",
				Path:    "unshare",
				Args:    []string{"--cgroup", "--", "/bin/sh", "-c", script, "dockerd", "--host=unix:///var/run/docker.sock"},
				Env: []string{"ENVBOX_DELEGATE_ATTEMPTS=100", "ENVBOX_DELEGATE_HOOK=/usr/local/bin/envbox",
					"ENVBOX_RESERVE_MEMORY=268435456", "ENVBOX_RESERVE_PIDS=10%", "ENVBOX_OOM_SCORE_ADJ=0"},
			},
		},
		{
			name: "default_reserve_and_kubernetes_score",
			w:    Wrapper{Hook: "/envbox", Reserve: DefaultReserve, OOMScoreAdj: func() *int { n := -997; return &n }()},
			bin:  "dockerd",
			want: Command{
				BinName: "dockerd",
				Path:    "unshare",
				Args:    []string{"--cgroup", "--", "/bin/sh", "-c", script, "dockerd"},
				Env: []string{"ENVBOX_DELEGATE_ATTEMPTS=100", "ENVBOX_DELEGATE_HOOK=/envbox",
					"ENVBOX_RESERVE_MEMORY=auto", "ENVBOX_RESERVE_PIDS=auto", "ENVBOX_OOM_SCORE_ADJ=-997"},
			},
		},
		{
			name: "no_args",
			bin:  "dockerd",
			want: Command{
				BinName: "dockerd",
				Path:    "unshare",
				Args:    []string{"--cgroup", "--", "/bin/sh", "-c", script, "dockerd"},
				Env:     []string{"ENVBOX_DELEGATE_ATTEMPTS=100"},
			},
		},
		{
			name: "rejoin_cgroup_namespace_on_restart",
			w:    Wrapper{CgroupNS: "/proc/1/fd/7"},
			bin:  "dockerd",
			args: []string{"--storage-driver=vfs"},
			want: Command{
				BinName: "dockerd",
				Path:    "nsenter",
				Args:    []string{"--cgroup=/proc/1/fd/7", "--", "/bin/sh", "-c", script, "dockerd", "--storage-driver=vfs"},
				Env:     []string{"ENVBOX_DELEGATE_ATTEMPTS=100"},
			},
		},
		{
			name: "rejoin_isolated",
			w:    Wrapper{CgroupNS: "/proc/1/fd/7", Isolated: true, Nsenter: "/usr/bin/nsenter"},
			bin:  "dockerd",
			want: Command{
				BinName: "dockerd",
				Path:    "/usr/bin/nsenter",
				Args:    []string{"--cgroup=/proc/1/fd/7", "--", "unshare", "--mount", "--propagation", "slave", "--", "/bin/sh", "-c", script, "dockerd"},
				Env:     []string{"ENVBOX_DELEGATE_ATTEMPTS=100"},
			},
		},
		{name: "empty_binary", bin: "", wantErr: "wrap: empty binary name"},
		{name: "negative_attempts", w: Wrapper{Attempts: -1}, bin: "dockerd", wantErr: "wrap dockerd: delegate attempts -1: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.w.Wrap(tt.bin, tt.args)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Wrap(%q, %q) error = %v, want %q", tt.bin, tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Wrap(%q, %q): %v", tt.bin, tt.args, err)
			}
			if got.BinName != tt.want.BinName || got.Path != tt.want.Path || !slices.Equal(got.Args, tt.want.Args) || !slices.Equal(got.Env, tt.want.Env) {
				t.Errorf("Wrap(%q, %q) =\n%q\nwant\n%q", tt.bin, tt.args, got, tt.want)
			}
		})
	}
}

func TestCommandArgv(t *testing.T) {
	t.Parallel()
	c := Command{Path: "unshare", Args: []string{"--cgroup", "--", "sh"}}
	want := []string{"unshare", "--cgroup", "--", "sh"}
	if got := c.Argv(); !slices.Equal(got, want) {
		t.Errorf("Argv() = %q, want %q", got, want)
	}
}
