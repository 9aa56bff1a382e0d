package dind

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/afero"

	"github.com/envbox/envbox/xunix"
)

// initialCgroupNS is readlink of the machine's initial cgroup namespace
// (PROC_CGROUP_INIT_INO): the node's, never a container's.
const initialCgroupNS = "cgroup:[4026531835]"

// DelegatedNamespace returns the cgroup namespace file the delegation must
// run in instead of a new namespace, or "" when a new one is right.
//
// A process that already sits in the /init leaf of its own (not the
// machine's) cgroup namespace was put there by an earlier delegation in
// this container: envbox started again under another init, or run through
// kubectl exec, which runc places in PID 1's cgroup once the pod's root
// refuses processes. A new namespace would be rooted at /init and nest
// dockerd and every container one level deeper; the current namespace is
// still rooted at the pod, so the delegation runs there (the script finds
// it done and only re-checks). pid names the current process in the path.
func DelegatedNamespace(fsys afero.Fs, readlink func(string) (string, error), pid int) (string, error) {
	cgs, err := xunix.ParseCgroupFile(fsys, "/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	own, err := cgs.V2Path()
	if errors.Is(err, xunix.ErrNoCgroup) {
		return "", nil // cgroup v1 only
	}
	if err != nil {
		return "", err
	}
	if own != "/init" {
		return "", nil // not delegated yet
	}
	ns, err := readlink("/proc/self/ns/cgroup")
	if err != nil {
		return "", fmt.Errorf("read own cgroup namespace: %w", err)
	}
	if ns == initialCgroupNS {
		return "", nil // the node's /init, not a pod's
	}
	return "/proc/" + strconv.Itoa(pid) + "/ns/cgroup", nil
}
