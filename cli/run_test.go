package cli

import (
	"reflect"
	"testing"
	"time"

	"github.com/envbox/envbox/dind"
)

func TestParseRunArgs(t *testing.T) {
	t.Parallel()
	defaults := func(argv ...string) runConfig {
		return runConfig{DaemonConfig: dind.DaemonConfig{Argv: argv, Attempts: 100, StopGrace: 10 * time.Second,
			IdentifyTimeout: 30 * time.Second, Headroom: dind.Headroom{Reserve: dind.DefaultReserve}}}
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    runConfig
		wantErr string
	}{
		{name: "defaults", args: []string{"--", "containerd"}, want: defaults("containerd")},
		{name: "cmd_keeps_its_dashdash", args: []string{"--", "k3s", "server", "--", "--x"},
			want: defaults("k3s", "server", "--", "--x")},
		{name: "flags", args: []string{"--name=k3s", "--restarts=2", "--cgroup-parent=/kubepods", "--reserve-memory=512Mi",
			"--reserve-pids=0", "--stop-grace=3s", "--identify-timeout=2s", "--isolated-mount", "--", "/bin/entry.sh", "server"},
			want: runConfig{DaemonConfig: dind.DaemonConfig{Argv: []string{"/bin/entry.sh", "server"}, Name: "k3s", Restarts: 2,
				CgroupParent: "/kubepods", StopGrace: 3 * time.Second, IdentifyTimeout: 2 * time.Second, Isolated: true, Attempts: 100,
				Headroom: dind.Headroom{Reserve: dind.Reserve{Memory: dind.Amount{N: 536870912}}}}}},
		{name: "env", args: []string{"--", "containerd"},
			env: map[string]string{"ENVBOX_RESTARTS": "2", "ENVBOX_CGROUP_PARENT": "/default", "ENVBOX_LOG_FORMAT": "human",
				"ENVBOX_RESERVE_MEMORY": "20%", "ENVBOX_RESERVE_PIDS": "64"},
			want: func() runConfig {
				c := defaults("containerd")
				c.Restarts, c.CgroupParent, c.LogFormat = 2, "/default", "human"
				c.Headroom.Reserve = dind.Reserve{Memory: dind.Amount{Percent: 20}, Pids: dind.Amount{N: 64}}
				return c
			}()},
		{name: "flag_wins", args: []string{"--restarts=0", "--", "containerd"}, env: map[string]string{"ENVBOX_RESTARTS": "5"},
			want: defaults("containerd")},
		{name: "no_dashdash", args: []string{"containerd"}, wantErr: `no "--" before CMD: want envbox run [flags] -- CMD [ARGS...]`},
		{name: "empty_cmd", args: []string{"--restarts=1", "--"}, wantErr: `empty CMD after "--": want envbox run [flags] -- CMD [ARGS...]`},
		{name: "blank_cmd", args: []string{"--", ""}, wantErr: `CMD after "--" is "": want a binary name or path`},
		{name: "bad_restarts", args: []string{"--", "containerd"}, env: map[string]string{"ENVBOX_RESTARTS": "-1"},
			wantErr: `parse ENVBOX_RESTARTS="-1": want a whole number from 0 to 999999999`},
		{name: "bad_parent", args: []string{"--cgroup-parent=kubepods", "--", "kubelet"},
			wantErr: `parse --cgroup-parent="kubepods": want a clean absolute cgroup path below the root such as /kubepods`},
		{name: "init_parent", args: []string{"--cgroup-parent=/init/kubepods", "--", "kubelet"},
			wantErr: `parse --cgroup-parent="/init/kubepods": /init is envbox's own cgroup (the delegated processes', a leaf): want another such as /kubepods`},
		{name: "bad_reserve", args: []string{"--reserve-memory=1G", "--cgroup-parent=/default", "--", "containerd"},
			wantErr: `parse --reserve-memory="1G": want "auto", a percentage from 1% to 90%, 0 (off) or a whole number of bytes, optionally with Ki, Mi, Gi or Ti`},
		{name: "bad_name", args: []string{"--name=a/b", "--", "kubelet"},
			wantErr: `parse --name="a/b": want a name matching ^[A-Za-z0-9_][A-Za-z0-9_.+-]*$`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			got, err := parseRunArgs(tc.args, lookup)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("parseRunArgs(%q) error = %v, want %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseRunArgs(%q): %v", tc.args, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseRunArgs(%q) = %+v, want %+v", tc.args, got, tc.want)
			}
		})
	}
}
