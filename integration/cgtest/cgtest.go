package cgtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cleanupTimeout bounds how long cleanup waits for killed processes to
// leave and for rmdir to stop returning EBUSY (a dying task can keep a
// cgroup busy for a moment after cgroup.procs reads empty).
const cleanupTimeout = 10 * time.Second

// Cgroup is a test-owned cgroup2 directory.
type Cgroup struct {
	// Path is the host-side absolute path,
	// Root/envbox-test-0123456789abcdef.
	Path string
	// ino is the inode of Path, which is the cgroup ID: a cgroup2 mount
	// rooted at this cgroup shows the same inode at its root.
	ino uint64
	// dir is an open descriptor of Path for CLONE_INTO_CGROUP.
	dir *os.File
}

// New creates a fresh cgroup under Root and registers its removal with
// t.Cleanup. Under -short it skips (make unit creates no cgroup); a machine
// that cannot host it (not root, Root not a cgroup2 mount) makes the test
// Unavailable.
func New(t testing.TB) *Cgroup {
	t.Helper()
	if testing.Short() {
		t.Skipf("cgtest: creates a cgroup under %s; skipped under -short", Root)
	}
	if euid := os.Geteuid(); euid != 0 {
		Unavailable(t, "cgtest: needs root to create cgroups under %s (euid %d)", Root, euid)
	}
	root := CheckRoot(t)
	path := filepath.Join(root, "envbox-test-"+randomHex(t))
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatalf("cgtest: mkdir %s: %v", path, err)
	}
	c := &Cgroup{Path: path}
	t.Cleanup(func() { c.remove(t) })
	dir, err := os.OpenFile(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("cgtest: open %s: %v", path, err)
	}
	c.dir = dir
	var fi unix.Stat_t
	if err := unix.Fstat(int(dir.Fd()), &fi); err != nil {
		t.Fatalf("cgtest: stat %s: %v", path, err)
	}
	c.ino = fi.Ino
	return c
}

func randomHex(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("cgtest: random name: %v", err)
	}
	return hex.EncodeToString(b)
}

// remove kills everything in the subtree, waits for it to empty and
// removes every directory, deepest first. Failures are test errors: a
// leftover cgroup must be noticed, not silently kept.
func (c *Cgroup) remove(t testing.TB) {
	t.Helper()
	if c.dir != nil {
		c.dir.Close()
	}
	deadline := time.Now().Add(cleanupTimeout)
	for {
		c.kill()
		populated, err := c.populated()
		if err == nil && !populated {
			break
		}
		if time.Now().After(deadline) {
			procs, _ := c.allProcs()
			t.Errorf("cgtest: %s still populated after %v (pids %v, err %v)", c.Path, cleanupTimeout, procs, err)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	dirs, err := c.dirs()
	if err != nil {
		t.Errorf("cgtest: %v", err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := rmdirRetry(dirs[i], deadline); err != nil {
			t.Errorf("cgtest: %v", err)
		}
	}
}

// kill uses cgroup.kill (Linux 5.14+), which kills the whole subtree and
// races no fork; without it, it SIGKILLs every PID it can list.
func (c *Cgroup) kill() {
	if err := os.WriteFile(filepath.Join(c.Path, "cgroup.kill"), []byte("1"), 0); err == nil {
		return
	}
	procs, _ := c.allProcs()
	for _, pid := range procs {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

// populated reads the "populated" key of cgroup.events, which covers the
// whole subtree.
func (c *Cgroup) populated() (bool, error) {
	s, err := c.ReadFile("cgroup.events")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "populated "); ok {
			return v != "0", nil
		}
	}
	return false, fmt.Errorf("no populated key in %s/cgroup.events: %q", c.Path, s)
}

// dirs lists the subtree's directories, parents before children.
func (c *Cgroup) dirs() ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(c.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return dirs, fmt.Errorf("walk %s: %w", c.Path, err)
	}
	return dirs, nil
}

// allProcs lists the PIDs of every cgroup in the subtree.
func (c *Cgroup) allProcs() ([]int, error) {
	dirs, err := c.dirs()
	var all []int
	for _, d := range dirs {
		rel, _ := filepath.Rel(c.Path, d)
		procs, perr := c.Procs(rel)
		err = errors.Join(err, perr)
		all = append(all, procs...)
	}
	return all, err
}

// rmdirRetry removes one cgroup directory, retrying EBUSY (a task that was
// killed is still exiting) until the deadline.
func rmdirRetry(dir string, deadline time.Time) error {
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("rmdir %s: %w", dir, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
