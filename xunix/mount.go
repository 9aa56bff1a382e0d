package xunix

import (
	"fmt"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"
)

// OSMounter mounts with mount(2) and reads the mount table of this process
// from Fs ("/proc/self/mountinfo").
type OSMounter struct {
	Fs afero.Fs
}

// Mount is mount(2) with an error that names the call.
func (OSMounter) Mount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount(%q, %q, %q, %#x): %w", source, target, fstype, flags, err)
	}
	return nil
}

// IsMountPoint reports whether path is a mount point in this process's mount
// namespace.
func (m OSMounter) IsMountPoint(path string) (bool, error) {
	mounts, err := ParseMountinfoFile(m.Fs, "/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	for _, mt := range mounts {
		if mt.MountPoint == path {
			return true, nil
		}
	}
	return false, nil
}
