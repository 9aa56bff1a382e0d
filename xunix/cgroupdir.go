package xunix

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/spf13/afero"
)

// ErrCgroupNotMounted reports a cgroup that no mount of its hierarchy shows:
// the cgroup is outside every mount's root (for example a "/.." path under a
// mount of the namespace root) or the hierarchy is not mounted. It wraps
// fs.ErrNotExist: there is no directory for it in this mount namespace.
var ErrCgroupNotMounted = fmt.Errorf("cgroup not below any mount of its hierarchy: %w", fs.ErrNotExist)

// ProcCgroup is what is needed to find a process's cgroups on disk: its
// /proc/<pid>/cgroup and the reader's own mountinfo. Both express cgroup
// paths relative to the reader's cgroup namespace, so they match.
type ProcCgroup struct {
	Cgroups Cgroups
	Mounts  []Mount
}

// ReadProcCgroup reads /proc/<pid>/cgroup (pid is a number or "self") and
// /proc/self/mountinfo.
func ReadProcCgroup(fsys afero.Fs, pid string) (ProcCgroup, error) {
	cgs, err := ParseCgroupFile(fsys, "/proc/"+pid+"/cgroup")
	if err != nil {
		return ProcCgroup{}, err
	}
	ms, err := ParseMountinfoFile(fsys, "/proc/self/mountinfo")
	if err != nil {
		return ProcCgroup{}, err
	}
	return ProcCgroup{Cgroups: cgs, Mounts: ms}, nil
}

// V2Chain is the directory of the process's cgroup v2 and of each ancestor
// up to the mount point (the namespace root after the delegation remount),
// own first.
func (p ProcCgroup) V2Chain() ([]string, error) {
	cg, err := p.Cgroups.V2Path()
	if err != nil {
		return nil, err
	}
	return cgroupChain(p.Mounts, cg, "cgroup2", isCgroup2Mount)
}

// V1Chain is V2Chain for the v1 hierarchy of controller.
func (p ProcCgroup) V1Chain(controller string) ([]string, error) {
	cg, err := p.Cgroups.V1Path(controller)
	if err != nil {
		return nil, err
	}
	return v1Chain(p.Mounts, controller, cg)
}

func v1Chain(mounts []Mount, controller, cgPath string) ([]string, error) {
	return cgroupChain(mounts, cgPath, "cgroup v1 "+controller, func(m Mount) bool { return isV1Of(m, controller) })
}

func isCgroup2Mount(m Mount) bool { return m.FSType == "cgroup2" }

// CgroupV2Dir is the directory of the v2 cgroup cgPath: the mount point of a
// cgroup2 mount plus cgPath relative to that mount's root.
func CgroupV2Dir(mounts []Mount, cgPath string) (string, error) {
	return cgroupDir(mounts, cgPath, "cgroup2", isCgroup2Mount)
}

// cgroupDir is the first entry of cgroupChain: the cgroup's own directory.
func cgroupDir(mounts []Mount, cgPath, hierarchy string, ofHierarchy func(Mount) bool) (string, error) {
	chain, err := cgroupChain(mounts, cgPath, hierarchy, ofHierarchy)
	if err != nil {
		return "", err
	}
	return chain[0], nil
}

// cgroupChain returns the directory of cgPath and of each ancestor up to the
// mount point, own first. It picks, among the visible mounts of the hierarchy
// that show cgPath, the one with the deepest root (the most specific); on a
// tie the later line.
func cgroupChain(mounts []Mount, cgPath, hierarchy string, ofHierarchy func(Mount) bool) ([]string, error) {
	best, bestRel := -1, ""
	for i, m := range mounts {
		if !ofHierarchy(m) || hidden(mounts, i) {
			continue
		}
		rel, ok := relBelow(m.Root, cgPath)
		if ok && (best < 0 || len(m.Root) >= len(mounts[best].Root)) {
			best, bestRel = i, rel
		}
	}
	if best < 0 {
		return nil, fmt.Errorf("%s path %q: %w", hierarchy, cgPath, ErrCgroupNotMounted)
	}
	top := filepath.Clean(mounts[best].MountPoint)
	chain := []string{filepath.Join(top, bestRel)}
	for d := chain[0]; d != top && d != "/"; {
		d = filepath.Dir(d)
		chain = append(chain, d)
	}
	return chain, nil
}

// relBelow returns p relative to root when p is root or below it. Paths are
// compared as the kernel prints them: ".." is a real step up (a process
// outside the namespace), so "/../x" is not below "/".
func relBelow(root, p string) (string, bool) {
	if p == root {
		return "", true
	}
	prefix := strings.TrimSuffix(root, "/") + "/"
	rel, ok := strings.CutPrefix(p, prefix)
	if !ok {
		return "", false
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == ".." || seg == "." {
			return "", false
		}
	}
	return rel, true
}

// hidden reports whether another mount covers mounts[i]: one mounted on the
// same point or on a directory above it, that i is not itself mounted on
// (through its chain of parents). Example: a cgroup2 mount on /sys/fs/cgroup
// hides the v1 hierarchies mounted below the tmpfs that was there.
func hidden(mounts []Mount, i int) bool {
	byID := make(map[int]Mount, len(mounts))
	for _, m := range mounts {
		byID[m.ID] = m
	}
	for j, over := range mounts {
		if j != i && pathCovers(over.MountPoint, mounts[i].MountPoint) && !mountedOn(byID, mounts[i], over.ID) {
			return true
		}
	}
	return false
}

// pathCovers reports whether dir is p or a directory above it.
func pathCovers(dir, p string) bool {
	return dir == p || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// mountedOn reports whether mount ancestor is in the parent chain of m. The
// walk is bounded by the table size: a corrupt table with a parent cycle ends
// it instead of looping.
func mountedOn(byID map[int]Mount, m Mount, ancestor int) bool {
	for range len(byID) + 1 {
		if m.ParentID == ancestor {
			return true
		}
		parent, ok := byID[m.ParentID]
		if !ok || parent.ID == m.ID {
			return false
		}
		m = parent
	}
	return false
}
