package doctor

import (
	"fmt"
	"os"
	"syscall"
)

// OSInode is the production Checker.Inode: the inode number of path, which
// for a cgroup2 directory is the cgroup ID.
func OSInode(path string) (uint64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("stat %s: no inode in %T", path, fi.Sys())
	}
	return st.Ino, nil
}
