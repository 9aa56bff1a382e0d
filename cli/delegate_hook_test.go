package cli

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spf13/afero"
	"github.com/spf13/cobra"

	"github.com/envbox/envbox/dind"
)

func TestDelegateHook(t *testing.T) {
	t.Parallel()
	pod := func(subtree string) afero.Fs {
		fsys := afero.NewMemMapFs()
		for p, c := range map[string]string{
			"/cg/cgroup.controllers": "memory pids\n", "/cg/cgroup.subtree_control": subtree,
			"/cg/memory.max": "536870912\n", "/cg/pids.max": "256\n",
			"/cg/docker/cgroup.controllers": "memory pids\n", "/cg/docker/cgroup.subtree_control": "",
			"/cg/docker/memory.max": "max\n", "/cg/docker/pids.max": "max\n",
		} {
			_ = afero.WriteFile(fsys, p, []byte(c), 0o644)
		}
		return fsys
	}
	tests := []struct {
		name       string
		fsys       afero.Fs
		wantStderr string
		wantCode   int
	}{
		{"applied", pod("memory pids\n"),
			"envbox-reserve: headroom reserve in /docker: memory.max 335544320 (pod 536870912 - reserve 201326592); pids.max 128 (pod 256 - reserve 128)\n", 0},
		{"not_delegated_is_a_warning", pod(""),
			`envbox-reserve: warning: no headroom reserve: controller memory not enabled in /cg/cgroup.subtree_control (enabled: "")` + "\n", 0},
		{"write_refused", afero.NewReadOnlyFs(pod("memory pids\n")),
			"envbox-reserve: headroom reserve in /docker: memory.max 335544320 (pod 536870912 - reserve 201326592); pids.max 128 (pod 256 - reserve 128): " +
				"mkdir /cg/docker: operation not permitted\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			c := &cobra.Command{}
			c.SetErr(&stderr)
			err := delegateHook(c, tt.fsys, "/cg", []string{"dockerd", "--host=unix:///var/run/docker.sock"}, dind.DefaultReserve)
			code := 0
			var exit *ExitError
			if errors.As(err, &exit) {
				code = exit.Code
			} else if err != nil {
				code = -1
			}
			if stderr.String() != tt.wantStderr || code != tt.wantCode {
				t.Errorf("delegateHook: exit %d, stderr %q; want %d, %q", code, stderr.String(), tt.wantCode, tt.wantStderr)
			}
		})
	}
}
