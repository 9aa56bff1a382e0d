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
			"/cg/default/cgroup.controllers": "memory pids\n", "/cg/default/cgroup.subtree_control": "",
			"/cg/default/memory.max": "max\n", "/cg/default/pids.max": "max\n",
		} {
			_ = afero.WriteFile(fsys, p, []byte(c), 0o644)
		}
		return fsys
	}
	dockerd := []string{"dockerd", "--host=unix:///var/run/docker.sock"}
	// envbox run: the parent comes from ENVBOX_RESERVE_PARENT; CMD's argv
	// is not read as dockerd's (its --cgroup-parent would be /elsewhere).
	containerd := []string{"containerd", "--cgroup-parent=/elsewhere"}
	runReserve := dind.DefaultReserve
	runReserve.Parent = "/default"
	tests := []struct {
		name       string
		fsys       afero.Fs
		argv       []string
		r          dind.Reserve
		wantStderr string
		wantCode   int
		wantFiles  map[string]string
	}{
		{"applied", pod("memory pids\n"), dockerd, dind.DefaultReserve,
			"envbox-reserve: headroom reserve in /docker: memory.max 335544320 (pod 536870912 - reserve 201326592); pids.max 128 (pod 256 - reserve 128)\n", 0,
			map[string]string{"/cg/docker/memory.max": "335544320", "/cg/docker/pids.max": "128", "/cg/default/memory.max": "max\n"}},
		{"run_parent", pod("memory pids\n"), containerd, runReserve,
			"envbox-reserve: headroom reserve in /default: memory.max 335544320 (pod 536870912 - reserve 201326592); pids.max 128 (pod 256 - reserve 128)\n", 0,
			map[string]string{"/cg/default/memory.max": "335544320", "/cg/default/pids.max": "128", "/cg/default/cgroup.subtree_control": "+memory +pids",
				"/cg/docker/memory.max": "max\n"}},
		{"not_delegated_is_a_warning", pod(""), dockerd, dind.DefaultReserve,
			`envbox-reserve: warning: no headroom reserve: controller memory not enabled in /cg/cgroup.subtree_control (enabled: "")` + "\n", 0, nil},
		{"write_refused", afero.NewReadOnlyFs(pod("memory pids\n")), dockerd, dind.DefaultReserve,
			"envbox-reserve: headroom reserve in /docker: memory.max 335544320 (pod 536870912 - reserve 201326592); pids.max 128 (pod 256 - reserve 128): " +
				"mkdir /cg/docker: operation not permitted\n", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			c := &cobra.Command{}
			c.SetErr(&stderr)
			err := delegateHook(c, tt.fsys, "/cg", tt.argv, tt.r)
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
			for p, want := range tt.wantFiles {
				if b, err := afero.ReadFile(tt.fsys, p); string(b) != want {
					t.Errorf("%s = %q, %v; want %q", p, b, err, want)
				}
			}
		})
	}
}
