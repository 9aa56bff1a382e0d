package xunix

import (
	"fmt"
	"os"
	"strconv"
)

// OpenNamespace opens /proc/<pid>/ns/<kind> ("cgroup", "mnt", ...). Holding
// the file keeps the namespace alive after its last process exits, and
// /proc/self/fd/<n> of the holder names it for nsenter.
func OpenNamespace(pid int, kind string) (*os.File, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/ns/" + kind
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s namespace: %w", kind, err)
	}
	return f, nil
}
