package xunix

import (
	"errors"
	"fmt"
)

// CgroupMode is how a system mounts its cgroup hierarchies.
type CgroupMode string

const (
	// CgroupV1 (legacy): only v1 hierarchies are mounted.
	CgroupV1 CgroupMode = "v1"
	// CgroupHybrid: v1 hierarchies hold the controllers and a cgroup2
	// hierarchy is mounted beside them (systemd: /sys/fs/cgroup/unified).
	CgroupHybrid CgroupMode = "hybrid"
	// CgroupV2 (unified): cgroup2 is mounted at /sys/fs/cgroup.
	CgroupV2 CgroupMode = "v2"
)

// ErrNoCgroupMount reports a mount table without any cgroup filesystem.
var ErrNoCgroupMount = errors.New("no cgroup or cgroup2 mount")

// CgroupModeOf classifies a mount table: cgroup2 at /sys/fs/cgroup is v2
// whatever else is mounted; cgroup2 elsewhere beside v1 hierarchies is hybrid;
// v1 alone is v1; cgroup2 alone elsewhere is v2.
func CgroupModeOf(mounts []Mount) (CgroupMode, error) {
	var v1, v2, v2AtRoot bool
	for _, m := range mounts {
		switch m.FSType {
		case "cgroup":
			v1 = true
		case "cgroup2":
			v2 = true
			v2AtRoot = v2AtRoot || m.MountPoint == CgroupRoot
		}
	}
	switch {
	case v2AtRoot:
		return CgroupV2, nil
	case v1 && v2:
		return CgroupHybrid, nil
	case v1:
		return CgroupV1, nil
	case v2:
		return CgroupV2, nil
	}
	return "", fmt.Errorf("classify %d mounts: %w", len(mounts), ErrNoCgroupMount)
}
