package doctor

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/afero"

	"github.com/envbox/envbox/xunix"
)

// Checker gathers a Report. Fs is the root filesystem (/proc and
// /sys/fs/cgroup included); Inode returns the inode number of a directory.
type Checker struct {
	Fs    afero.Fs
	Inode func(path string) (uint64, error)
	// Docker lists the running containers; nil when there is no dockerd to
	// ask (DockerNote then says why).
	Docker     Docker
	DockerHost string
	DockerNote string
	// PID is envbox's process ID in the reader's PID namespace ("1" when
	// envbox is the container's init).
	PID string
	// HostRoot, when set, is the host's path of the cgroup2 mount's root
	// (the pod's cgroup), e.g. /kubepods.slice/.../cri-containerd-<id>.scope.
	HostRoot string
}

// Run gathers the report. An error means nothing could be checked (no
// mount table, no cgroup of envbox); every other failure is an offender.
func (c *Checker) Run(ctx context.Context) (Report, error) {
	r := Report{Docker: c.DockerHost, DockerNote: c.DockerNote, Subjects: []Subject{}, Cgroups: []Cgroup{},
		Outside: []Process{}, Offenders: []string{}}
	mounts, err := xunix.ParseMountinfoFile(c.Fs, "/proc/self/mountinfo")
	if err != nil {
		return r, fmt.Errorf("read mount table: %w", err)
	}
	if r.Mode, err = xunix.CgroupModeOf(mounts); err != nil {
		return r, err
	}
	envbox, err := c.ownCgroup()
	if err != nil {
		return r, err
	}
	r.PodCgroup = podCgroup(envbox)
	m, ok := cgroup2Mount(mounts, r.PodCgroup)
	if !ok {
		r.Version = 1
		r.Offenders = append(r.Offenders, fmt.Sprintf("no cgroup2 mount shows the pod cgroup %s (mode %s): attribution needs cgroup v2", r.PodCgroup, r.Mode))
		return r, nil
	}
	r.Version, r.Mount, r.NamespaceRoot = 2, m.MountPoint, m.Root
	r.HostRoot, r.HostRootSource = m.Root, sourceMountinfo
	if c.HostRoot != "" {
		r.HostRoot, r.HostRootSource = c.HostRoot, sourceFlag
	}
	podDir, _ := xunix.CgroupV2Dir(mounts, r.PodCgroup) // resolved by cgroup2Mount
	r.Delegation = c.delegation(podDir)
	r.Limits = c.limits()
	r.Reserve = c.reserve(podDir)
	v := view{c: c, r: &r, mounts: mounts}
	r.Subjects = append(r.Subjects, v.subject(Subject{Kind: kindEnvbox, Name: "envbox", PID: atoi(c.PID)}, envbox))
	r.Subjects = append(r.Subjects, v.containers(ctx)...)
	r.Cgroups = v.cgroups(podDir)
	r.Outside = v.outside(atoi(c.PID))
	if r.Delegation.Delegated {
		r.Advice = advice
	}
	return r, nil
}

// ownCgroup is envbox's cgroup v2 path.
func (c *Checker) ownCgroup() (string, error) {
	path := "/proc/" + c.PID + "/cgroup"
	cgs, err := xunix.ParseCgroupFile(c.Fs, path)
	if err != nil {
		return "", fmt.Errorf("read envbox's cgroup: %w", err)
	}
	if p, err := cgs.V2Path(); err == nil {
		return p, nil
	}
	// v1 only: report the mode; the name=systemd or first path stands in.
	if len(cgs) == 0 {
		return "", fmt.Errorf("%s: no cgroup line", path)
	}
	return cgs[0].Path, nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
