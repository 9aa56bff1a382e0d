package doctor

import (
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/envbox/envbox/xunix"
)

// podCgroup is envbox's own cgroup root: the parent of the "init" leaf the
// delegation script moved it into, else its own cgroup.
func podCgroup(envbox string) string {
	if path.Base(envbox) == initLeaf {
		return path.Dir(envbox)
	}
	return envbox
}

// cgroup2Mount is the cgroup2 mount through which xunix.CgroupV2Dir reaches
// the cgroup p (a visible mount whose root covers p; the deepest such root),
// so that its Root and MountPoint describe the directory doctor reads.
func cgroup2Mount(mounts []xunix.Mount, p string) (xunix.Mount, bool) {
	dir, err := xunix.CgroupV2Dir(mounts, p)
	if err != nil {
		return xunix.Mount{}, false
	}
	var best xunix.Mount
	found := false
	for _, m := range mounts {
		rel, ok := below(m.Root, p)
		if m.FSType != "cgroup2" || !ok || filepath.Join(m.MountPoint, rel) != dir {
			continue
		}
		if !found || len(m.Root) >= len(best.Root) {
			best, found = m, true
		}
	}
	return best, found
}

// below returns p relative to root ("" for root itself) when p is root or a
// cgroup below it. ".." and "." steps never count as below: the kernel
// writes "/.." for a cgroup outside the reader's namespace.
func below(root, p string) (string, bool) {
	if p == root {
		return "", true
	}
	rel, ok := strings.CutPrefix(p, strings.TrimSuffix(root, "/")+"/")
	if !ok || rel == "" {
		return "", false
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == ".." || seg == "." || seg == "" {
			return "", false
		}
	}
	return rel, true
}

// hostPath is the host's path of the cgroup p, which lies below the mount
// root nsRoot whose host path is hostRoot.
func hostPath(hostRoot, nsRoot, p string) (string, bool) {
	rel, ok := below(nsRoot, p)
	if !ok {
		return "", false
	}
	return path.Join(hostRoot, rel), true
}

// delegation reads the pod directory: the init leaf, cgroup.controllers and
// cgroup.subtree_control.
func (c *Checker) delegation(dir string) Delegation {
	d := Delegation{Dir: dir, Controllers: []string{}, SubtreeControl: []string{}, NotEnabled: []string{}}
	st, err := c.Fs.Stat(filepath.Join(dir, initLeaf))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.Error = err.Error()
		return d
	}
	d.InitPresent = err == nil && st.IsDir()
	if d.Controllers, err = xunix.ReadWords(c.Fs, filepath.Join(dir, "cgroup.controllers")); err != nil {
		d.Error = err.Error()
		return d
	}
	if d.SubtreeControl, err = xunix.ReadWords(c.Fs, filepath.Join(dir, "cgroup.subtree_control")); err != nil {
		d.Error = err.Error()
		return d
	}
	d.NotEnabled = xunix.NotEnabled(d.Controllers, d.SubtreeControl)
	d.Delegated = d.InitPresent && len(d.NotEnabled) == 0
	return d
}
