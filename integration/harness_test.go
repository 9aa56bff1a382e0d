package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/envbox/envbox/integration/cgtest"
	"github.com/envbox/envbox/integration/syncbuf"
)

// The harness: every dockerd test runs one "pod" process tree in a fresh
// test cgroup T (cgtest: created with CLONE_INTO_CGROUP, private mount and
// cgroup namespaces rooted at T, cgroup2 mounted at /sys/fs/cgroup and
// proven to be T). pod.sh then moves into T/pod and execs the payload, so
// the payload sees T as the cgroup root, like a pod container that shares
// the node's cgroup namespace, and T/pod is "the pod's cgroup".

// TestMain removes the envbox binary built for the run. Only main-like
// code exits: here, with the tests' own status.
func TestMain(m *testing.M) {
	code := m.Run()
	if envboxOnce.path != "" {
		_ = os.RemoveAll(filepath.Dir(envboxOnce.path))
	}
	os.Exit(code)
}

// envboxOnce builds bin/envbox once per test binary.
var envboxOnce struct {
	sync.Once
	path string
	err  error
}

// envEnvboxBin names a prebuilt envbox binary to test instead of building
// one from this checkout (e.g. bin/envbox from `make build`).
const envEnvboxBin = "ENVBOX_TEST_BIN"

// envboxBinary builds the envbox binary (static, as `make build` does) into
// a directory that outlives the test: the DinD test bind-mounts it.
func envboxBinary(t testing.TB) string {
	t.Helper()
	if bin, ok := os.LookupEnv(envEnvboxBin); ok {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatalf("%s=%q: %v", envEnvboxBin, bin, err)
		}
		return abs
	}
	envboxOnce.Do(func() {
		dir, err := os.MkdirTemp("", "envbox-bin-")
		if err != nil {
			envboxOnce.err = err
			return
		}
		bin := filepath.Join(dir, "envbox")
		cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "github.com/envbox/envbox/cmd/envbox")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			envboxOnce.err = fmt.Errorf("go build envbox: %w\n%s", err, out)
			return
		}
		envboxOnce.path = bin
	})
	if envboxOnce.err != nil {
		t.Fatal(envboxOnce.err)
	}
	return envboxOnce.path
}

// imageTarball returns the cached rootfs tarball of kind ("base" or
// "dind"), building it with images.sh the first time (about a minute).
func imageTarball(t testing.TB, kind string) string {
	t.Helper()
	out, err := exec.Command("./images.sh", kind).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("images.sh %s: %v\n%s", kind, err, ee.Stderr)
		}
		t.Fatalf("images.sh %s: %v", kind, err)
	}
	return strings.TrimSpace(string(out))
}

// requireDockerd skips the test under -short, and makes it
// cgtest.Unavailable when this machine cannot run a real dockerd.
func requireDockerd(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("real dockerd test: skipped under -short")
	}
	if os.Geteuid() != 0 {
		cgtest.Unavailable(t, "real dockerd test: needs root (euid %d)", os.Geteuid())
	}
	for _, bin := range []string{"dockerd", "unshare", "mount"} {
		if _, err := exec.LookPath(bin); err != nil {
			cgtest.Unavailable(t, "real dockerd test: %s not installed (integration/deps.sh installs it): %v", bin, err)
		}
	}
}

// pod is the payload process started by startPod: envbox, or dockerd itself
// for the baseline.
type pod struct {
	cg   *cgtest.Cgroup
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{}
	err  error // valid after done is closed
}

// startPod runs payload through cgtest's guard and pod.sh in a fresh test
// cgroup. Cleanup sends SIGTERM and waits up to grace before cgtest's own
// cleanup kills whatever is left; the output is logged when the test failed.
func startPod(t testing.TB, cg *cgtest.Cgroup, grace time.Duration, env []string, payload ...string) *pod {
	t.Helper()
	script, err := filepath.Abs("pod.sh")
	if err != nil {
		t.Fatal(err)
	}
	p := &pod{cg: cg, out: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = cg.Command(context.Background(), "/bin/sh", append([]string{script}, payload...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %q in %s: %v", payload, cg.Path, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(grace)
		if t.Failed() {
			t.Logf("output of %q:\n%s", payload, p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits up to grace; it does not kill: the test
// cgroup's cleanup does that for the whole subtree.
func (p *pod) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
}

// exited reports whether the payload has exited, with its error.
func (p *pod) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// poll calls f until it returns nil or timeout passes; the test fails with
// f's last error. abort, when not nil, ends the wait early (e.g. the pod
// process died) with its error.
func poll(t testing.TB, timeout time.Duration, what string, abort func() error, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if abort != nil {
			if aerr := abort(); aerr != nil {
				t.Fatalf("%s: gave up: %v (last error: %v)", what, aerr, err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done after %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shortTempDir is a directory under /tmp whose path is short enough for
// the unix sockets dockerd and containerd create below it (108 bytes).
// t.TempDir's names are too long for exec-root/containerd/....ttrpc.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "ebx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	return dir
}
