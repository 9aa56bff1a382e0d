package embed_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fakeTools writes fake mount and umount that append their argv to
// DIR/log, print a util-linux style error and exit with the given status
// (0: succeed silently), and returns DIR.
func fakeTools(t *testing.T, umountStatus, mountStatus int) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, status int, msg string) {
		script := fmt.Sprintf("#!/bin/sh\necho \"%s $*\" >>%s/log\n", name, dir)
		if status != 0 {
			script += fmt.Sprintf("echo %q >&2\nexit %d\n", msg, status)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("umount", umountStatus, "umount: /sys/fs/cgroup: Operation not permitted")
	write("mount", mountStatus, "mount: /sys/fs/cgroup: permission denied.\n       dmesg(1) may have more information after failed mount system call.")
	return dir
}
