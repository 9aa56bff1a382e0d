package integration

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/envbox/envbox/integration/cgtest"
)

// The host view: what the test process (host PID and cgroup namespaces)
// reads from /proc and from cgroupfs, independent of anything dockerd says.

// hostCgroup returns pid's cgroup2 path relative to the host's cgroup2 root,
// e.g. "/envbox-test-0123456789abcdef/pod/docker/<id>".
func hostCgroup(pid int) (string, error) {
	path := fmt.Sprintf("/proc/%d/cgroup", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return parseCgroup2(path, string(b))
}

// parseCgroup2 finds the "0::" line of /proc/<pid>/cgroup text. It scans
// every line: hybrid hosts list the v1 hierarchies first.
func parseCgroup2(path, text string) (string, error) {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			return rest, nil
		}
	}
	return "", fmt.Errorf("no 0:: line in %s: %q", path, text)
}

// procsByArgv returns the host PIDs whose command line is exactly argv.
func procsByArgv(argv []string) ([]int, error) {
	want := []byte(strings.Join(argv, "\x00") + "\x00")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Equal(b, want) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// onlyProc waits for exactly one host process running argv.
func onlyProc(t *testing.T, argv []string) int {
	t.Helper()
	var pid int
	poll(t, timeoutStart, fmt.Sprintf("find the host process %q", argv), nil, func() error {
		pids, err := procsByArgv(argv)
		if err != nil {
			return err
		}
		if len(pids) != 1 {
			return fmt.Errorf("host processes running %q: %v, want exactly one", argv, pids)
		}
		pid = pids[0]
		return nil
	})
	return pid
}

// parentPid reads the PPid field of /proc/<pid>/status.
func parentPid(pid int) (int, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return 0, fmt.Errorf("parse %s line %q: %w", path, line, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("no PPid line in %s", path)
}

// exeBase is the base name of /proc/<pid>/exe, e.g. "dockerd".
func exeBase(pid int) (string, error) {
	path := fmt.Sprintf("/proc/%d/exe", pid)
	target, err := os.Readlink(path)
	if err != nil {
		return "", fmt.Errorf("readlink %s: %w", path, err)
	}
	return filepath.Base(strings.TrimSuffix(target, " (deleted)")), nil
}

// cgroupID is the cgroup ID of a host cgroup path: the inode of its
// directory under the host's cgroup2 mount.
func cgroupID(rel string) (uint64, error) {
	path := filepath.Join(cgtest.Root, rel)
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	return st.Ino, nil
}

// testRel is the test cgroup's path relative to the host's cgroup2 root,
// e.g. "/envbox-test-0123456789abcdef".
func testRel(cg *cgtest.Cgroup) string {
	return "/" + filepath.Base(cg.Path)
}

// subtreeProcs lists every PID left anywhere under the test cgroup.
func subtreeProcs(cg *cgtest.Cgroup) ([]int, error) {
	var all []int
	err := filepath.WalkDir(cg.Path, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(cg.Path, p)
		pids, err := cg.Procs(rel)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		all = append(all, pids...)
		return err
	})
	return all, err
}
