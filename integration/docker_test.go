package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"

	"github.com/envbox/envbox/integration/cgtest"
)

// workspaceToken is the agent token of the workspace test: it must reach
// the bootstrap script and appear nowhere in envbox's output.
const workspaceToken = "envbox-it-token-5d1c0f"

// TestDockerWorkspace runs `envbox docker` as a pod (runc, no sysbox) on a
// data root primed with the locally imported base image: the workspace
// lands in the pod's cgroup with the requested limits, the bootstrap script
// runs as the user with the token, the token is never logged, and SIGTERM
// shuts everything down with exit 0.
func TestDockerWorkspace(t *testing.T) {
	d, cg, ws := startWorkspace(t)
	p := d.pod
	checkWorkspaceConfig(t, d)
	checkWorkspaceCgroup(t, cg, ws)
	checkWorkspaceLimits(t, cg, ws)
	checkBootstrap(t, d)

	start := time.Now()
	p.stop(stopGrace + 5*time.Second)
	if done, err := p.exited(); !done || err != nil {
		t.Fatalf("envbox docker after SIGTERM: exited=%v err=%v, want a clean exit 0", done, err)
	}
	t.Logf("envbox docker stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	out := p.out.String()
	if strings.Contains(out, workspaceToken) {
		t.Errorf("envbox output contains the agent token")
	}
	for _, want := range []string{"[REDACTED]", "stopping the workspace", "stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("envbox output lacks %q", want)
		}
	}
	checkRequestedLimits(t, out)
}

// checkRequestedLimits: envbox asked dockerd for 0.5 CPU and 256 MiB, as
// its JSON log of the container creation says.
func checkRequestedLimits(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		var e struct {
			Msg    string `json:"msg"`
			Fields struct {
				CPUQuota  int64  `json:"cpu_quota"`
				CPUPeriod int64  `json:"cpu_period"`
				Memory    int64  `json:"memory"`
				Runtime   string `json:"runtime"`
			} `json:"fields"`
		}
		if json.Unmarshal([]byte(line), &e) != nil || e.Msg != "creating the workspace container" {
			continue
		}
		f := e.Fields
		if f.CPUQuota != 50000 || f.CPUPeriod != 100000 || f.Memory != 268435456 || f.Runtime != "runc" {
			t.Errorf("requested cpu %d/%d memory %d runtime %q; want 50000/100000 268435456 runc", f.CPUQuota, f.CPUPeriod, f.Memory, f.Runtime)
		}
		return
	}
	t.Error("no \"creating the workspace container\" line in envbox's output")
}

// TestDockerWorkspaceDeathEndsPod: when the workspace container dies,
// envbox stops dockerd and exits 1, so Kubernetes restarts the pod.
func TestDockerWorkspaceDeathEndsPod(t *testing.T) {
	d, _, ws := startWorkspace(t)
	checkBootstrap(t, d) // envbox supervises once the bootstrap is under way
	if err := d.pool.Client.KillContainer(docker.KillContainerOptions{ID: ws.ID}); err != nil {
		t.Fatalf("kill workspace %s: %v", ws.ID[:12], err)
	}
	var err error
	poll(t, 30*time.Second, "envbox exit after the workspace died", nil, func() error {
		var done bool
		if done, err = d.pod.exited(); !done {
			return errors.New("still running")
		}
		return nil
	})
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("envbox exit = %v, want exit status 1", err)
	}
	if out := d.pod.out.String(); !strings.Contains(out, "workspace container workspace_cvm ("+ws.ID+") stopped: exit status 137") {
		t.Errorf("envbox output lacks the workspace's end (exit status 137)")
	}
	// dockerd removes its pid file when it stops.
	if pid, err := d.dockerdPid(); err == nil && syscall.Kill(pid, 0) == nil {
		t.Errorf("dockerd (pid %d) still runs after envbox exited", pid)
	}
}

// TestDockerWorkspaceNoSpaceFallback: dockerd dies of a full data root (a
// filled tmpfs); envbox restarts it through the same wrapper on
// <data root>.bak with vfs (primed with the image, as a pull would) and the
// workspace comes up there, still in the pod's cgroup.
func TestDockerWorkspaceNoSpaceFallback(t *testing.T) {
	requireDockerd(t)
	dir := newDaemonDir(t)
	full := filepath.Join(dir, "full")
	primeDataRoot(t, dir, full+".bak", "--storage-driver=vfs")

	cg := cgtest.New(t)
	fill := `mkdir -p "$1" && mount -t tmpfs -o size=256k tmpfs "$1" && { dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null || :; } && shift && exec "$@"`
	payload := append([]string{"/bin/sh", "-c", fill, "fill", full}, workspacePayload(t)...)
	p := startPod(t, cg, stopGrace+5*time.Second, workspaceEnvOn(dir, full), payload...)
	d := &daemon{dir: dir, pod: p}
	pool, err := dockertest.NewPool("unix://" + d.sock())
	if err != nil {
		t.Fatal(err)
	}
	d.pool = pool
	var ws *docker.Container
	poll(t, 2*timeoutStart, "workspace running on the fallback data root", d.podExited, func() (err error) {
		ws, err = d.pool.Client.InspectContainer("workspace_cvm")
		if err == nil && !ws.State.Running {
			err = fmt.Errorf("state %s", ws.State.Status)
		}
		return err
	})
	if info := dockerInfo(t, d.sock()); info["Driver"] != "vfs" || info["DockerRootDir"] != full+".bak" {
		t.Errorf("dockerd after the fallback: driver %v, root %v; want vfs, %s", info["Driver"], info["DockerRootDir"], full+".bak")
	}
	// The restarted dockerd rejoined the first delegation's namespace: the
	// workspace is at pod/docker/<id>, not one /init deeper.
	got, err := hostCgroup(ws.State.Pid)
	if want := testRel(cg) + "/pod/docker/" + ws.ID; err != nil || got != want {
		t.Errorf("workspace host cgroup after the fallback = %q, %v; want %q", got, err, want)
	}
	out := p.out.String()
	for _, want := range []string{"no space left on device", "dockerd data root is full, restarting dockerd on the fallback data root"} {
		if !strings.Contains(out, want) {
			t.Errorf("envbox output lacks %q", want)
		}
	}
	p.stop(stopGrace + 5*time.Second)
	if done, err := p.exited(); !done || err != nil {
		t.Fatalf("envbox docker after SIGTERM: exited=%v err=%v, want exit 0", done, err)
	}
}

// primeDataRoot imports the base image into dataRoot with a throwaway
// `envbox dind` pod, then stops it.
func primeDataRoot(t *testing.T, dir, dataRoot string, flags ...string) {
	t.Helper()
	args := append([]string{envboxBinary(t), "dind", "--stop-grace=" + stopGrace.String(), "--",
		"--host=unix://" + filepath.Join(dir, "docker.sock"),
		"--data-root=" + dataRoot,
		"--exec-root=" + filepath.Join(dir, "x"),
		"--pidfile=" + filepath.Join(dir, "docker.pid"),
		"--config-file=" + filepath.Join(dir, "daemon.json"),
		"--bridge=none", "--iptables=false", "--ip6tables=false",
	}, flags...)
	d := &daemon{dir: dir, pod: startPod(t, cgtest.New(t), stopGrace+5*time.Second, []string{"ENVBOX_LOG_FORMAT=human"}, args...)}
	d.connect(t)
	importImage(t, d.pool, imageTarball(t, "base"), baseImage)
	stopPod(t, d.pod)
}

// startWorkspace primes a data root with the base image, then runs
// `envbox docker` as a pod and waits for the workspace to run.
func startWorkspace(t *testing.T) (*daemon, *cgtest.Cgroup, *docker.Container) {
	t.Helper()
	requireDockerd(t)
	primer, _ := startEnvboxDockerd(t)
	importImage(t, primer.pool, imageTarball(t, "base"), baseImage)
	stopPod(t, primer.pod)

	cg := cgtest.New(t)
	start := time.Now()
	p := startPod(t, cg, stopGrace+5*time.Second, workspaceEnv(primer.dir), workspacePayload(t)...)
	d := &daemon{dir: primer.dir, pod: p}
	d.connect(t)
	defer func() {
		t.Logf("envbox docker start to workspace running: %v", time.Since(start).Round(time.Millisecond))
	}()
	var ws *docker.Container
	poll(t, timeoutStart, "workspace container running", d.podExited, func() (err error) {
		ws, err = d.pool.Client.InspectContainer("workspace_cvm")
		if err == nil && !ws.State.Running {
			err = fmt.Errorf("state %s", ws.State.Status)
		}
		return err
	})
	return d, cg, ws
}

// checkWorkspaceConfig: CODER_MOUNTS, CODER_INNER_ENVS and the tun/fuse
// devices as a process in the workspace sees them.
func checkWorkspaceConfig(t *testing.T, d *daemon) {
	t.Helper()
	for _, c := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"cat", "/mnt/share/hello"}, "from the pod\n"},
		{[]string{"sh", "-c", "touch /mnt/share/x 2>/dev/null && echo writable || echo read-only"}, "read-only\n"},
		{[]string{"sh", "-c", `echo "$WS_TEST_A $WS_TEST_B ${WS_OTHER:-unset} ${CODER_AGENT_TOKEN:-no-token}"`}, "a b unset no-token\n"},
		{[]string{"sh", "-c", "test -c /dev/net/tun && test -c /dev/fuse && echo devices"}, "devices\n"},
	} {
		got, err := execOutput(d.pool, "workspace_cvm", c.cmd...)
		if err != nil || got != c.want {
			t.Errorf("in the workspace %q = %q, %v; want %q", c.cmd, got, err, c.want)
		}
	}
}

// stopPod sends SIGTERM and requires the pod to be gone: the next dockerd
// reuses its data root.
func stopPod(t *testing.T, p *pod) {
	t.Helper()
	p.stop(stopGrace + 5*time.Second)
	if done, _ := p.exited(); !done {
		t.Fatal("primer pod did not exit after SIGTERM")
	}
}

// workspaceEnv is the Coder template's environment for the test workspace,
// plus envbox's knobs keeping dockerd off the host's paths.
func workspaceEnv(dir string) []string {
	return workspaceEnvOn(dir, filepath.Join(dir, "data"), "--storage-driver=overlay2")
}

// workspaceEnvOn is workspaceEnv with another data root and extra dockerd
// flags. It also writes the file the workspace sees through CODER_MOUNTS.
func workspaceEnvOn(dir, dataRoot string, flags ...string) []string {
	share := filepath.Join(dir, "share")
	if err := os.MkdirAll(share, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(share, "hello"), []byte("from the pod\n"), 0o644)
	}
	extra := append([]string{
		"--exec-root=" + filepath.Join(dir, "x"),
		"--pidfile=" + filepath.Join(dir, "docker.pid"),
		"--config-file=" + filepath.Join(dir, "daemon.json"),
		"--iptables=false",
		"--ip6tables=false",
	}, flags...)
	return []string{
		"CODER_INNER_IMAGE=" + baseImage,
		"CODER_INNER_USERNAME=nobody",
		"CODER_AGENT_TOKEN=" + workspaceToken,
		"CODER_CPUS=0.5",
		"CODER_MEMORY=268435456",
		"CODER_INNER_HOSTNAME=ws-test",
		"CODER_MOUNTS=" + filepath.Join(dir, "share") + ":/mnt/share:ro",
		"CODER_INNER_ENVS=WS_TEST_*,CODER_*",
		"WS_TEST_A=a", "WS_TEST_B=b", "WS_OTHER=o",
		"CODER_ADD_TUN=true", "CODER_ADD_FUSE=true",
		"CODER_BOOTSTRAP_SCRIPT=" + `id -un >/tmp/boot-user; printf '%s' "$CODER_AGENT_TOKEN" >/tmp/boot-token; echo "bootstrap saw $CODER_AGENT_TOKEN"`,
		"ENVBOX_DOCKER_DATA_ROOT=" + dataRoot,
		"ENVBOX_DOCKER_SOCKET=" + filepath.Join(dir, "docker.sock"),
		"ENVBOX_DOCKERD_EXTRA_ARGS=" + strings.Join(extra, " "),
		"ENVBOX_DOCKERD_TIMEOUT=90s",
		"ENVBOX_STOP_GRACE=5s",
		"ENVBOX_LOG_FORMAT=json",
	}
}

// workspacePayload runs envbox in a new network namespace: dockerd's bridge
// (--bip from CODER_DOCKER_BRIDGE_CIDR) must not touch the host's network.
func workspacePayload(t *testing.T) []string {
	t.Helper()
	return []string{"unshare", "--net", "--", envboxBinary(t), "docker"}
}

// checkWorkspaceCgroup: the workspace's init process is in
// <test cgroup>/pod/docker/<id> as the host sees it.
func checkWorkspaceCgroup(t *testing.T, cg *cgtest.Cgroup, ws *docker.Container) {
	t.Helper()
	got, err := hostCgroup(ws.State.Pid)
	want := testRel(cg) + "/pod/docker/" + ws.ID
	if err != nil || got != want {
		t.Errorf("workspace pid %d host cgroup = %q, %v; want %q", ws.State.Pid, got, err, want)
	}
	if ws.Config.Hostname != "ws-test" {
		t.Errorf("workspace hostname %q, want ws-test", ws.Config.Hostname)
	}
	for _, e := range ws.Config.Env {
		if strings.Contains(e, workspaceToken) {
			t.Errorf("workspace container env holds the token: %q", e)
		}
	}
}

// checkWorkspaceLimits: 0.5 CPU and 256 MiB in the host's cgroupfs. Only a
// cgroup2 hierarchy with the cpu and memory controllers has the files; on
// a hybrid host (controllers on v1) dockerd discards the limits, which
// TestWorkspaceLimitsInCgroupfs (integration/vm) covers with the real
// binary on a pure cgroup v2 kernel.
func checkWorkspaceLimits(t *testing.T, cg *cgtest.Cgroup, ws *docker.Container) {
	t.Helper()
	rel := "pod/docker/" + ws.ID
	cpu, err := cg.ReadFile(rel + "/cpu.max")
	if errors.Is(err, os.ErrNotExist) {
		t.Run("limits_in_cgroupfs", func(t *testing.T) {
			t.Skipf("%s/%s has no cpu.max: no cpu/memory controller on this cgroup2 hierarchy (hybrid host); dockerd discarded the limits. "+
				"integration/vm's TestWorkspaceLimitsInCgroupfs asserts them on a pure cgroup v2 kernel", cg.Path, rel)
		})
		return
	}
	if err != nil || cpu != "50000 100000\n" {
		t.Errorf("%s/cpu.max = %q, %v; want \"50000 100000\\n\"", rel, cpu, err)
	}
	mem, err := cg.ReadFile(rel + "/memory.max")
	if err != nil || mem != "268435456\n" {
		t.Errorf("%s/memory.max = %q, %v; want \"268435456\\n\"", rel, mem, err)
	}
}

// checkBootstrap: the script ran as the user with the token in its env.
func checkBootstrap(t *testing.T, d *daemon) {
	t.Helper()
	var user, token string
	poll(t, 30*time.Second, "bootstrap output files", d.podExited, func() (err error) {
		if user, err = execOutput(d.pool, "workspace_cvm", "cat", "/tmp/boot-user"); err != nil {
			return err
		}
		if token, err = execOutput(d.pool, "workspace_cvm", "cat", "/tmp/boot-token"); err != nil {
			return err
		}
		if user == "" || token == "" {
			// The shell creates a file before the command writes it.
			return fmt.Errorf("boot-user %q, boot-token %d bytes: not written yet", user, len(token))
		}
		return nil
	})
	if user != "nobody\n" {
		t.Errorf("bootstrap ran as %q, want \"nobody\\n\"", user)
	}
	if token != workspaceToken {
		t.Errorf("bootstrap saw token %q, want the configured one", token)
	}
}

// execOutput runs cmd in the container and returns its stdout.
func execOutput(pool *dockertest.Pool, container string, cmd ...string) (string, error) {
	ex, err := pool.Client.CreateExec(docker.CreateExecOptions{Container: container, Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", err
	}
	var out, errOut bytes.Buffer
	if err := pool.Client.StartExec(ex.ID, docker.StartExecOptions{OutputStream: &out, ErrorStream: &errOut}); err != nil {
		return "", err
	}
	in, err := pool.Client.InspectExec(ex.ID)
	if err != nil {
		return "", err
	}
	if in.ExitCode != 0 {
		return "", fmt.Errorf("%q exited %d: %s", cmd, in.ExitCode, errOut.String())
	}
	return out.String(), nil
}
