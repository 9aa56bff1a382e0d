package dind

import (
	"errors"
	"testing"

	"github.com/spf13/afero"
)

func TestDelegatedNamespace(t *testing.T) {
	t.Parallel()
	const containerNS = "cgroup:[4026532456]"
	tests := []struct {
		name, cgroup, ns, want, wantErr string
		nsErr                           error
	}{
		// envbox started again, or kubectl exec'd, in a delegated pod.
		{name: "init_of_container_namespace", cgroup: "0::/init\n", ns: containerNS, want: "/proc/42/ns/cgroup"},
		// The first start: PID 1 in the pod's root.
		{name: "pod_root", cgroup: "0::/\n", ns: containerNS},
		// A pod sharing the node's namespace sees its full path.
		{name: "host_namespace_pod", cgroup: "0::/kubepods/pod1/ctr/init\n", ns: "cgroup:[4026531835]"},
		// The machine's own /init cgroup is never taken for a pod's.
		{name: "node_init", cgroup: "0::/init\n", ns: "cgroup:[4026531835]"},
		{name: "v1_only", cgroup: "4:memory:/\n1:name=systemd:/\n", ns: containerNS},
		{name: "nested_init", cgroup: "0::/init/init\n", ns: containerNS},
		{name: "namespace_unreadable", cgroup: "0::/init\n", nsErr: errors.New("permission denied"),
			wantErr: "read own cgroup namespace: permission denied"},
		{name: "no_cgroup_file", wantErr: "open /proc/self/cgroup: file does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := afero.NewMemMapFs()
			if tt.cgroup != "" {
				if err := afero.WriteFile(fsys, "/proc/self/cgroup", []byte(tt.cgroup), 0o444); err != nil {
					t.Fatal(err)
				}
			}
			readlink := func(p string) (string, error) {
				if p != "/proc/self/ns/cgroup" {
					t.Errorf("readlink(%q), want /proc/self/ns/cgroup", p)
				}
				return tt.ns, tt.nsErr
			}
			got, err := DelegatedNamespace(fsys, readlink, 42)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("DelegatedNamespace() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("DelegatedNamespace() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
