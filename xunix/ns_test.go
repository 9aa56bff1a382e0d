package xunix

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestOtherNamespace: this process's own cgroup namespace is not another
// one; a child's made by unshare --cgroup is.
func TestOtherNamespace(t *testing.T) {
	t.Parallel()
	own, err := OpenNamespace(os.Getpid(), "cgroup")
	if err != nil {
		t.Skipf("no cgroup namespace file: %v", err)
	}
	defer own.Close()
	if OtherNamespace(own, "cgroup") {
		t.Error("OtherNamespace(own cgroup namespace) = true, want false")
	}
	if os.Geteuid() != 0 {
		t.Skip("unshare --cgroup needs root")
	}
	cmd := exec.Command("unshare", "--cgroup", "--", "sh", "-c", "echo up; exec sleep 10")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("unshare: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	buf := make([]byte, 3)
	if _, err := out.Read(buf); err != nil || !strings.HasPrefix(string(buf), "up") {
		t.Fatalf("child did not start: %q %v", buf, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, err := OpenNamespace(cmd.Process.Pid, "cgroup")
		if err != nil {
			t.Fatal(err)
		}
		other := OtherNamespace(f, "cgroup")
		f.Close()
		if other {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("OtherNamespace(child's cgroup namespace after unshare --cgroup) = false, want true")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
