package cgtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseProcs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []int
		wantErr  string
	}{
		{name: "empty", in: "", want: nil},
		// Verbatim cgroup.procs of a cgroup holding two processes.
		{name: "two", in: "812\n9001\n", want: []int{812, 9001}},
		{name: "garbage", in: "812\nx\n", want: []int{812}, wantErr: `parse p entry 2 "x": not a pid`},
		{name: "zero", in: "0\n", wantErr: `parse p entry 1 "0": not a pid`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseProcs("p", tt.in)
			if !slices.Equal(got, tt.want) || errString(err) != tt.wantErr {
				t.Errorf("parseProcs(%q) = %v, %q, want %v, %q", tt.in, got, errString(err), tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParseProcs(f *testing.F) {
	for _, s := range []string{"", "812\n9001\n", "812\nx\n", "0\n", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := parseProcs("p", s); err != nil && !strings.HasPrefix(err.Error(), "parse p entry ") {
			t.Errorf("parseProcs(%q) error %q does not name the file", s, err)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestCommandRunsInsideCgroup checks the guarantee every delegation test
// relies on: the child is in the test cgroup, sees it as its cgroup
// namespace root and has it mounted at /sys/fs/cgroup, and the host's
// mounts are untouched.
func TestCommandRunsInsideCgroup(t *testing.T) {
	c := New(t)
	var out, stderr bytes.Buffer
	cmd := c.Command(context.Background(), "/bin/sh", "-c",
		`grep '^0::' /proc/self/cgroup; cat /sys/fs/cgroup/cgroup.procs | wc -l; mkdir /sys/fs/cgroup/child && echo $$ >/sys/fs/cgroup/child/cgroup.procs && grep '^0::' /proc/self/cgroup`)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run child: %v, stderr %q", err, stderr.String())
	}
	// Two processes in the root while the first wc runs: the shell and wc
	// (cat may still be there too, so only the cgroup lines are checked).
	lines := strings.Split(out.String(), "\n")
	if len(lines) != 4 || lines[0] != "0::/" || lines[2] != "0::/child" {
		t.Errorf("child output %q, want 0::/, a count, 0::/child", out.String())
	}
	if _, err := os.Stat(filepath.Join(c.Path, "child")); err != nil {
		t.Errorf("host side: %v", err)
	}
	if err := checkMountPoint(Root, "test", nil); err != nil {
		t.Errorf("checkMountPoint(Root %s) = %v, want nil", Root, err)
	}
	want := "test cgroup2 root " + c.Path + " (from test) is a directory inside a cgroup2 mount, not its mount point"
	if err := checkMountPoint(c.Path, "test", nil); errString(err) != want {
		t.Errorf("checkMountPoint(%s) = %v, want %q", c.Path, err, want)
	}
	if mounts, err := os.ReadFile("/proc/self/mountinfo"); err != nil {
		t.Fatal(err)
	} else if strings.Contains(string(mounts), " /sys/fs/cgroup rw,relatime - cgroup2 ") {
		t.Errorf("child's cgroup2 mount at /sys/fs/cgroup leaked into the test's mount namespace")
	}
}

// TestGuardRefusesWrongCgroup feeds the guard a wrong inode: the payload
// must not run.
func TestGuardRefusesWrongCgroup(t *testing.T) {
	c := New(t)
	c.ino++
	marker := filepath.Join(t.TempDir(), "ran")
	var stderr bytes.Buffer
	cmd := c.Command(context.Background(), "/usr/bin/touch", marker)
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != GuardExit {
		t.Fatalf("run = %v, want exit %d", err, GuardExit)
	}
	if !strings.HasPrefix(stderr.String(), "cgtest guard: /sys/fs/cgroup root inode ") {
		t.Errorf("stderr %q, want the guard's inode complaint", stderr.String())
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("payload ran despite the guard")
	}
}

// TestCleanupKillsAndRemoves leaves processes in a nested cgroup and checks
// that cleanup kills them and removes every directory.
func TestCleanupKillsAndRemoves(t *testing.T) {
	var path string
	t.Run("leave_processes", func(t *testing.T) {
		c := New(t)
		path = c.Path
		cmd := c.Command(context.Background(), "/bin/sh", "-c",
			`mkdir -p /sys/fs/cgroup/a/b && echo $$ >/sys/fs/cgroup/a/b/cgroup.procs || exit 1
			sleep 1000 & sleep 1000 & wait`)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = cmd.Wait() }()
		waitFor(t, func() bool {
			procs, _ := c.Procs("a/b")
			return len(procs) == 3 // the shell and its two sleeps
		})
	})
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("stat %s after cleanup: %v, want not exist", path, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
