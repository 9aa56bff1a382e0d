package embed_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envbox/envbox/integration/cgtest"
)

// shells are the interpreters the script must behave identically under.
var shells = []struct{ name, argv string }{
	{"dash", "dash"},
	{"busybox", "busybox sh"},
	{"bash", "bash"},
}

// needShell skips under -short (these tests run the script on the real
// kernel); a missing interpreter makes the test cgtest.Unavailable (CI
// installs all three).
func needShell(t testing.TB, argv string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the delegation script on the real kernel; skipped under -short")
	}
	if _, err := exec.LookPath(strings.Fields(argv)[0]); err != nil {
		cgtest.Unavailable(t, "%s not installed (integration/deps.sh installs it): %v", argv, err)
	}
}

// delegation describes one run of the script inside a fresh test cgroup.
type delegation struct {
	shell    string   // shell argv, e.g. "busybox sh"
	classic  bool     // run classicScript instead of the envbox script
	sleeps   int      // processes left in the root
	blockers int      // processes that keep re-entering the root
	env      []string // extra environment (ENVBOX_DELEGATE_ATTEMPTS=...)
	bind     string   // fake /sys/fs/cgroup tree
	full     bool     // fake cgroup.subtree_control refuses every write (ENOSPC)
	path     string   // fake tools dir, first in PATH
	busy     bool     // the launcher keeps a file of the cgroup2 mount open
	// whileHeld runs while the target holds (after it printed): the
	// moment to look at the host-side view.
	whileHeld func()
}

// outcome is what a run printed and how it ended.
type outcome struct {
	code     int
	launcher int               // pid of the launcher
	out      map[string]string // "key value" lines of launcher and target
	stderr   string
}

// pids parses a space-separated pid list printed under key.
func (o outcome) pids(t testing.TB, key string) []int {
	t.Helper()
	var pids []int
	for _, f := range strings.Fields(o.out[key]) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("output %s %q: %v", key, o.out[key], err)
		}
		pids = append(pids, pid)
	}
	return pids
}

func (d delegation) environ() []string {
	env := append(os.Environ(),
		helperEnv+"=launch",
		shellEnv+"="+d.shell,
		sleepsEnv+"="+strconv.Itoa(d.sleeps),
		blockersEnv+"="+strconv.Itoa(d.blockers),
		bindEnv+"="+d.bind,
		pathEnv+"="+d.path,
	)
	if d.classic {
		env = append(env, scriptEnv+"=classic")
	}
	if d.full {
		env = append(env, fullEnv+"=1")
	}
	if d.busy {
		env = append(env, busyEnv+"=1")
	}
	if d.whileHeld != nil {
		env = append(env, holdEnv+"=1")
	}
	return append(env, d.env...)
}

// run executes the delegation inside c and returns what it printed.
func (d delegation) run(t testing.TB, c *cgtest.Cgroup) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := c.Command(ctx, self)
	cmd.Env = d.environ()
	var stderr bytes.Buffer // read after Wait, which ends the copying
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if d.blockers > 0 {
		procs, err := os.OpenFile(filepath.Join(c.Path, "cgroup.procs"), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer procs.Close()
		cmd.ExtraFiles = []*os.File{procs}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start launcher in %s: %v", c.Path, err)
	}
	o := outcome{launcher: cmd.Process.Pid, out: map[string]string{}}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		o.out[k] = v
		if k == "cgroup" && d.whileHeld != nil {
			d.whileHeld()
		}
		if k == "cgroup" {
			stdin.Close()
		}
	}
	stdin.Close()
	err = cmd.Wait()
	o.stderr = stderr.String()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		o.code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("launcher: %v, stderr %q", err, o.stderr)
	}
	if o.code == cgtest.GuardExit || o.code == 120 {
		t.Fatalf("harness failed (exit %d): %s", o.code, o.stderr)
	}
	return o
}
