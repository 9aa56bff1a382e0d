package xunix

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/afero"
)

// CgroupRoot is where cgroup v2 is mounted. Inside a container after the
// delegation remount its root is the cgroup namespace root: the pod.
const CgroupRoot = "/sys/fs/cgroup"

// readV2File reads name in the process's v2 cgroup directory dir (dirErr is
// the error from resolving it). Only when the own file does not exist
// (fs.ErrNotExist: the own cgroup is not visible in this mount namespace)
// does it read name at CgroupRoot instead; any other failure, and any
// content, is returned as is, so a fallback never hides a bug. source is the
// file the data came from.
func readV2File(fsys afero.Fs, dir string, dirErr error, name string) (data, source string, err error) {
	own := filepath.Join(dir, name)
	err = dirErr
	if err == nil {
		data, err = readString(fsys, own)
	}
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return data, own, err
	}
	root := filepath.Join(CgroupRoot, name)
	if dirErr == nil && root == own {
		return "", own, err
	}
	data, rootErr := readString(fsys, root)
	if rootErr != nil {
		return "", root, fmt.Errorf("read %s: own cgroup: %w; namespace root: %w", name, err, rootErr)
	}
	return data, root, nil
}

// v1Has reports whether controller is managed by a visible v1 hierarchy that
// the process belongs to (on a hybrid host cpu and memory are v1; a cgroup2
// mounted over /sys/fs/cgroup hides them).
func (p ProcCgroup) v1Has(controller string) bool {
	if _, err := p.Cgroups.V1Path(controller); err != nil {
		return false
	}
	for i, m := range p.Mounts {
		if isV1Of(m, controller) && !hidden(p.Mounts, i) {
			return true
		}
	}
	return false
}

// isV1Of reports whether m is a v1 hierarchy with controller.
func isV1Of(m Mount, controller string) bool {
	return m.FSType == "cgroup" && slices.Contains(strings.Split(m.SuperOptions, ","), controller)
}
