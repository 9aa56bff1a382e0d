package cgtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ReadFile returns the content of a file of the subtree as the host sees
// it; rel is relative to Path (e.g. "init/cgroup.procs").
func (c *Cgroup) ReadFile(rel string) (string, error) {
	path := filepath.Join(c.Path, rel)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return string(b), nil
}

// Procs lists the PIDs in cgroup.procs of the cgroup rel (relative to Path;
// "" is the test cgroup itself), as the host sees them.
func (c *Cgroup) Procs(rel string) ([]int, error) {
	s, err := c.ReadFile(filepath.Join(rel, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	return parseProcs(filepath.Join(c.Path, rel, "cgroup.procs"), s)
}

// parseProcs parses cgroup.procs text: one decimal PID per line.
func parseProcs(path, s string) ([]int, error) {
	var pids []int
	for i, line := range strings.Fields(s) {
		pid, err := strconv.Atoi(line)
		if err != nil || pid <= 0 {
			return pids, fmt.Errorf("parse %s entry %d %q: not a pid", path, i+1, line)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
