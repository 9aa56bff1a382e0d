package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/envbox/envbox/embed"
	"github.com/envbox/envbox/integration/cgtest"
)

// Entrypoint tests in the containerboot style: the real envbox binary, a
// fake-bin directory first in PATH whose unshare and dockerd record their
// argv, and the recorded command lines asserted literally, phase by phase.

var (
	buildOnce sync.Once
	envboxBin string
	buildErr  error
)

func buildEnvbox(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "envbox-bin-")
		if err != nil {
			buildErr = err
			return
		}
		envboxBin = filepath.Join(dir, "envbox")
		out, err := exec.Command("go", "build", "-o", envboxBin, "../cmd/envbox").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build envbox: %v", buildErr)
	}
	return envboxBin
}

type fakeRoot struct {
	dir    string
	stderr *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startDind runs `envbox dind args...` with fake unshare/dockerd and a clean
// environment plus env.
func startDind(t *testing.T, crashRuns string, env []string, args ...string) (*exec.Cmd, *fakeRoot) {
	t.Helper()
	if os.Geteuid() != 0 {
		cgtest.Unavailable(t, "envbox dind's preflight needs CAP_SYS_ADMIN: run as root (euid %d)", os.Geteuid())
	}
	bin := buildEnvbox(t)
	f := &fakeRoot{dir: t.TempDir(), stderr: &lockedBuffer{}}
	fakeBin := filepath.Join(f.dir, "bin")
	if err := os.Mkdir(fakeBin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"unshare": "fake-unshare", "nsenter": "fake-nsenter", "dockerd": "fake-dockerd"} {
		abs, _ := filepath.Abs(filepath.Join("testdata", src))
		if err := os.Symlink(abs, filepath.Join(fakeBin, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(f.dir, "crash"), []byte(crashRuns), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"dind"}, args...)...)
	cmd.Env = append([]string{"PATH=" + fakeBin + ":/usr/sbin:/usr/bin:/sbin:/bin", "FAKE_DIR=" + f.dir, "ENVBOX_LOG_FORMAT=json",
		// The argv must not depend on this machine's default route.
		"ENVBOX_MTU=0"}, env...)
	cmd.Stderr = f.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("envbox stderr:\n%s", f.stderr.String())
		}
	})
	return cmd, f
}

func (f *fakeRoot) record(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.dir, "record"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// waitRecord polls until the record has n lines.
func (f *fakeRoot) waitRecord(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if r := f.record(t); len(r) >= n {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("record has %q, want %d lines", f.record(t), n)
	return nil
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(20 * time.Second):
		t.Fatal("envbox did not exit")
		return -1
	}
}

func assertLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("recorded command lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

const (
	wantUnshare = "unshare --cgroup -- /bin/sh -c <script> dockerd --host=unix:///var/run/docker.sock --storage-driver=vfs"
	// A restart rejoins the first dockerd's cgroup namespace.
	wantNsenter = "nsenter --cgroup=<kept-ns> -- /bin/sh -c <script> dockerd --host=unix:///var/run/docker.sock --storage-driver=vfs"
	wantDockerd = "dockerd --host=unix:///var/run/docker.sock --storage-driver=vfs attempts=7"
)

func TestDindEntrypointCrashRestartTerm(t *testing.T) {
	t.Parallel()
	cmd, f := startDind(t, "1\n", []string{"ENVBOX_DOCKERD_RESTARTS=2", "ENVBOX_DELEGATE_ATTEMPTS=7"}, "--", "--storage-driver=vfs")

	// Phase 1+2: run 1 crashes, envbox restarts it through the same wrapper.
	f.waitRecord(t, 4)
	script, err := os.ReadFile(filepath.Join(f.dir, "script"))
	if err != nil || string(script) != embed.DelegateScript {
		t.Errorf("the wrapper did not pass the embedded delegation script (err %v)", err)
	}
	// Phase 3: SIGTERM stops dockerd and envbox exits 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	assertLines(t, f.record(t), []string{wantUnshare, wantDockerd, wantNsenter, wantDockerd, "dockerd got TERM"})
	logs := f.stderr.String()
	for _, want := range []string{`fake dockerd run 1`, `failed to start daemon: run 1 crashed`, `dockerd exited, restarting through the delegation wrapper`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
}

func TestDindEntrypointGivesUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		restarts string
		crash    string
		want     []string
	}{
		{name: "one_restart", restarts: "1", crash: "1\n2\n", want: []string{wantUnshare, wantDockerd, wantNsenter, wantDockerd}},
		{name: "dind_behaviour_no_restart", restarts: "0", crash: "1\n", want: []string{wantUnshare, wantDockerd}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd, f := startDind(t, tt.crash, []string{"ENVBOX_DOCKERD_RESTARTS=" + tt.restarts, "ENVBOX_DELEGATE_ATTEMPTS=7"}, "--", "--storage-driver=vfs")
			if code := waitExit(t, cmd); code != 3 {
				t.Errorf("exit code = %d, want dockerd's 3", code)
			}
			assertLines(t, f.record(t), tt.want)
			if !strings.Contains(f.stderr.String(), "crashed") {
				t.Errorf("the final error does not carry dockerd's last output")
			}
		})
	}
}

func TestDindEntrypointUsageErrorsStartNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     []string
		args    []string
		wantErr string
	}{
		{name: "unknown_flag", args: []string{"--bogus", "--", "--storage-driver=vfs"}, wantErr: "envbox: unknown flag: --bogus\n"},
		{name: "bad_attempts", env: []string{"ENVBOX_DELEGATE_ATTEMPTS=many"}, wantErr: "envbox: parse ENVBOX_DELEGATE_ATTEMPTS=\"many\": want a whole number from 1 to 999999999\n"},
		{name: "bad_log_format", env: []string{"ENVBOX_LOG_FORMAT=xml"}, wantErr: "envbox: parse ENVBOX_LOG_FORMAT=\"xml\": want \"json\" or \"human\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd, f := startDind(t, "", tt.env, tt.args...)
			if code := waitExit(t, cmd); code != 2 {
				t.Errorf("exit code = %d, want 2", code)
			}
			if got := f.stderr.String(); got != tt.wantErr {
				t.Errorf("stderr = %q, want %q", got, tt.wantErr)
			}
			if r := f.record(t); r != nil {
				t.Errorf("something was started: %q", r)
			}
		})
	}
}
