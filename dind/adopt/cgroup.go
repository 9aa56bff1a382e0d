package adopt

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/envbox/envbox/xunix"
)

// ErrOutsideNamespace reports a peer whose cgroup is not below the proxy's
// cgroup namespace root ("/.." paths): dockerd cannot name it either.
var ErrOutsideNamespace = errors.New("cgroup is outside this cgroup namespace")

// Driver is how dockerd places containers, from GET /info.
type Driver struct {
	// Name is CgroupDriver: "cgroupfs" or "systemd".
	Name string
	// Version is CgroupVersion: "1" or "2".
	Version string
}

// peerPath picks the peer's cgroup path in the hierarchy dockerd uses: the
// v2 "0::" line on cgroup v2, a v1 line otherwise (hybrid hosts list both,
// and dockerd runs on v1 there). The path stays as the kernel rendered it for
// this process' cgroup namespace: full from our root, whatever namespaces
// the peer itself is in.
func peerPath(cgs xunix.Cgroups, d Driver) (string, error) {
	p, err := hierarchyPath(cgs, d)
	if err != nil {
		return "", err
	}
	if p == "/.." || strings.HasPrefix(p, "/../") {
		return "", fmt.Errorf("peer cgroup %q: %w", p, ErrOutsideNamespace)
	}
	return p, nil
}

func hierarchyPath(cgs xunix.Cgroups, d Driver) (string, error) {
	if d.Version == "2" {
		e, err := cgs.V2()
		if err != nil {
			return "", err
		}
		if e.Deleted {
			return "", fmt.Errorf("peer cgroup %q was removed", e.Path)
		}
		return e.Path, nil
	}
	// systemd places by its own named hierarchy; cgroupfs by the
	// controllers, of which cpu is the one every v1 host mounts.
	first, second := "cpu", "name=systemd"
	if d.Name == "systemd" {
		first, second = second, first
	}
	p, err := cgs.V1Path(first)
	if errors.Is(err, xunix.ErrNoCgroup) {
		p, err = cgs.V1Path(second)
	}
	return p, err
}

// parentFor expresses a cgroup path as HostConfig.CgroupParent for driver d.
func parentFor(cgPath string, d Driver) (string, error) {
	switch d.Name {
	case "cgroupfs":
		return cgPath, nil
	case "systemd":
		return sliceOf(cgPath)
	}
	return "", fmt.Errorf("dockerd cgroup driver %q cannot place containers in a cgroup", d.Name)
}

// sliceOf names the systemd slice holding cgPath. systemd nests units only
// under slices, so a peer in a scope or service gets its enclosing slice:
// "/user.slice/user-1000.slice/session-2.scope" → "user-1000.slice".
func sliceOf(cgPath string) (string, error) {
	parts := strings.Split(strings.Trim(cgPath, "/"), "/")
	if parts[0] == "" {
		return "-.slice", nil
	}
	if last := parts[len(parts)-1]; strings.HasSuffix(last, ".scope") || strings.HasSuffix(last, ".service") {
		parts = parts[:len(parts)-1]
	}
	prefix := ""
	for _, p := range parts {
		name, ok := strings.CutSuffix(p, ".slice")
		if !ok || name == "" || (prefix != "" && !strings.HasPrefix(name, prefix+"-")) {
			return "", fmt.Errorf("peer cgroup %q is not inside a systemd slice chain (at %q)", cgPath, p)
		}
		prefix = name
	}
	if len(parts) == 0 {
		return "-.slice", nil
	}
	return parts[len(parts)-1], nil
}

// sameParent reports whether a client's CgroupParent names want: for
// cgroupfs, "/a/b/" and "/a/b" are one cgroup; a relative path is resolved
// by runc against its own cgroup, so it never equals an absolute one.
func sameParent(asked, want string, d Driver) bool {
	if asked == want {
		return true
	}
	return d.Name == "cgroupfs" && path.IsAbs(asked) && path.Clean(asked) == want
}
