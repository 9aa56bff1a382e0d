package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	"github.com/spf13/afero"

	"github.com/envbox/envbox/dind"
	"github.com/envbox/envbox/integration/cgtest"
)

// The docker:dind compatibility suite: `envbox dind` used exactly as the
// docker:dind image is used, against a real dockerd. Each case runs in its
// own test cgroup AND its own network namespace (so dockerd's default bridge,
// iptables rules and TCP listeners stay there), with tmpfs on /run and
// /var/lib in the pod's private mount namespace, so dockerd's defaults
// (/var/run/docker.sock, /var/lib/docker) are the pod's own, as in a
// container.

// dindPodPrelude isolates the payload like a docker:dind container.
const dindPodPrelude = `set -eu
ip link set lo up
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
exec "$@"`

type dindCase struct {
	t   *testing.T
	pod *pod
	dir string
}

// startDindCompat runs `envbox dind args...` with env in a docker:dind-like
// pod and returns once the process started (not necessarily ready).
func startDindCompat(t *testing.T, env []string, args ...string) *dindCase {
	t.Helper()
	return startDindCompatWith(t, dindPodPrelude, env, args...)
}

// startDindCompatWith is startDindCompat with another pod prelude.
func startDindCompatWith(t *testing.T, prelude string, env []string, args ...string) *dindCase {
	t.Helper()
	requireDockerd(t)
	if _, err := exec.LookPath("ip"); err != nil {
		cgtest.Unavailable(t, "docker:dind compatibility test: ip (iproute2) not installed: %v", err)
	}
	dir := shortTempDir(t)
	cg := cgtest.New(t)
	payload := append([]string{"unshare", "--net", "--", "/bin/sh", "-c", prelude, "sh", envboxBinary(t), "dind"}, args...)
	env = append([]string{"ENVBOX_LOG_FORMAT=human", "ENVBOX_DOCKERD_RESTARTS=0"}, env...)
	return &dindCase{t: t, pod: startPod(t, cg, stopGrace, env, payload...), dir: dir}
}

func (c *dindCase) podExited() error {
	if done, err := c.pod.exited(); done {
		return fmt.Errorf("envbox exited: %v", err)
	}
	return nil
}

// root is the pod's filesystem as the host reaches it.
func (c *dindCase) root() string { return "/proc/" + strconv.Itoa(c.pod.cmd.Process.Pid) + "/root" }

// waitUnixAPI waits for /var/run/docker.sock of the pod. It first waits
// for the pod to exec envbox: before that, the pod's /run is still the
// host's, and a socket found there would be somebody else's.
func (c *dindCase) waitUnixAPI() *dockertest.Pool {
	c.t.Helper()
	exe := "/proc/" + strconv.Itoa(c.pod.cmd.Process.Pid) + "/exe"
	poll(c.t, timeoutStart, "pod execs envbox", c.podExited, func() error {
		target, err := os.Readlink(exe)
		if err != nil || filepath.Base(target) != "envbox" {
			return fmt.Errorf("%s -> %q, %v", exe, target, err)
		}
		return nil
	})
	sock := c.root() + "/run/docker.sock"
	pool, err := dockertest.NewPool("unix://" + sock)
	if err != nil {
		c.t.Fatal(err)
	}
	poll(c.t, timeoutStart, "dockerd on the pod's /var/run/docker.sock", c.podExited, pool.Client.Ping)
	return pool
}

// dockerdArgv reads dockerd's command line from the host, via its pid file.
func (c *dindCase) dockerdArgv() []string {
	c.t.Helper()
	b, err := os.ReadFile(c.root() + "/run/docker.pid")
	if err != nil {
		c.t.Fatal(err)
	}
	cmdline, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/cmdline")
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
}

// dockerCLI runs the docker client inside the pod's network namespace.
func (c *dindCase) dockerCLI(args ...string) (string, error) {
	c.t.Helper()
	argv := append([]string{"--net=/proc/" + strconv.Itoa(c.pod.cmd.Process.Pid) + "/ns/net", "docker"}, args...)
	cmd := exec.Command("nsenter", argv...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+c.dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func assertArgv(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("dockerd argv =\n%q\nwant\n%q", got, want)
	}
}

func TestDindCompatNoArgs(t *testing.T) {
	c := startDindCompat(t, nil)
	pool := c.waitUnixAPI()
	assertArgv(t, c.dockerdArgv(), []string{"dockerd", "--host=unix:///var/run/docker.sock"})
	if err := pool.Client.Ping(); err != nil {
		t.Errorf("ping: %v", err)
	}
	// This host's cgroup2 has no controllers: the real preflight must say
	// which ones the pod does not delegate, and still start dockerd.
	const missing = `preflight: the pod does not delegate controllers cpu, memory, pids, io, cpuset (it offers ""): ` +
		"limits of those kinds do not hold for inner containers; enable them in the parent cgroup's cgroup.subtree_control"
	if out := c.pod.out.String(); !strings.Contains(out, missing) {
		t.Errorf("envbox output lacks the missing-controllers line %q", missing)
	}
}

func TestDindCompatStorageDriverFlag(t *testing.T) {
	c := startDindCompat(t, nil, "--storage-driver=vfs")
	c.waitUnixAPI()
	assertArgv(t, c.dockerdArgv(), []string{"dockerd", "--host=unix:///var/run/docker.sock", "--storage-driver=vfs"})
	info := dockerInfo(t, c.root()+"/run/docker.sock")
	if info["Driver"] != "vfs" || info["CgroupVersion"] != "2" {
		t.Errorf("docker info Driver %v CgroupVersion %v, want vfs, 2", info["Driver"], info["CgroupVersion"])
	}
}

func TestDindCompatTLSDisabledPlainTCP(t *testing.T) {
	c := startDindCompat(t, []string{"DOCKER_TLS_CERTDIR="})
	c.waitUnixAPI()
	assertArgv(t, c.dockerdArgv(), []string{"dockerd", "--host=unix:///var/run/docker.sock", "--host=tcp://0.0.0.0:2375", "--tls=false"})
	out, err := c.dockerCLI("-H", "tcp://127.0.0.1:2375", "info", "--format", "{{.CgroupVersion}}")
	if err != nil || out != "2" {
		t.Errorf("docker -H tcp://127.0.0.1:2375 info = %q, %v; want 2", out, err)
	}
}

func TestDindCompatTLSGenerated(t *testing.T) {
	certs := filepath.Join(shortTempDir(t), "certs")
	c := startDindCompat(t, []string{"DOCKER_TLS_CERTDIR=" + certs, "DOCKER_TLS_SAN=DNS:dind.test"})
	c.waitUnixAPI()
	assertArgv(t, c.dockerdArgv(), []string{"dockerd", "--host=unix:///var/run/docker.sock", "--host=tcp://0.0.0.0:2376", "--tlsverify",
		"--tlscacert", certs + "/server/ca.pem", "--tlscert", certs + "/server/cert.pem", "--tlskey", certs + "/server/key.pem"})
	c.assertTLSClient(certs)
}

func TestDindCompatTLSUserProvided(t *testing.T) {
	certs := filepath.Join(shortTempDir(t), "certs")
	// The user's own CA: made here, then its key removed, as an operator who
	// mounts certificates without the CA key would.
	if err := dind.EnsureTLS(afero.NewOsFs(), dind.TLSConfig{Dir: certs, IPs: nil, ExtraSAN: "IP:127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(certs, "ca/key.pem")); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(certs, "server/cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c := startDindCompat(t, []string{"DOCKER_TLS_CERTDIR=" + certs})
	c.waitUnixAPI()
	after, _ := os.ReadFile(filepath.Join(certs, "server/cert.pem"))
	if !bytes.Equal(before, after) {
		t.Errorf("envbox rewrote the user's server certificate")
	}
	c.assertTLSClient(certs)
}

// assertTLSClient connects over TCP with the client certificates, and
// checks a client without them is refused.
func (c *dindCase) assertTLSClient(certs string) {
	c.t.Helper()
	tlsArgs := []string{"--tlsverify", "--tlscacert", certs + "/client/ca.pem", "--tlscert", certs + "/client/cert.pem",
		"--tlskey", certs + "/client/key.pem", "-H", "tcp://127.0.0.1:2376"}
	var out string
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if out, err = c.dockerCLI(append(tlsArgs, "info", "--format", "{{.CgroupVersion}}")...); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil || out != "2" {
		c.t.Fatalf("docker over TLS = %q, %v; want 2", out, err)
	}
	if out, err := c.dockerCLI("--tlsverify", "--tlscacert", certs+"/client/ca.pem", "-H", "tcp://127.0.0.1:2376", "info"); err == nil {
		c.t.Errorf("a client without a certificate was served: %q", out)
	}
}

func TestDindCompatOtherCommand(t *testing.T) {
	out := filepath.Join(shortTempDir(t), "out")
	c := startDindCompat(t, nil, "sh", "-c", `docker info --format '{{.CgroupVersion}} {{.Driver}}' >`+out+` && echo "$DOCKER_HOST" >>`+out)
	select {
	case <-c.pod.done:
	case <-time.After(timeoutStart + stopGrace):
		t.Fatal("envbox dind with a command did not exit")
	}
	if c.pod.err != nil {
		t.Fatalf("envbox dind sh -c ... exited with %v", c.pod.err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "2 overlay2\nunix:///var/run/docker.sock\n"; got != want {
		t.Errorf("command output = %q, want %q", got, want)
	}
}

// mtuPodPrelude is dindPodPrelude with a default route through an
// interface of MTU $POD_MTU, as a pod on an overlay network has (1450,
// 1400, ...).
// The peer of the veth pair stays in the pod's namespace: no packet leaves.
const mtuPodPrelude = `set -eu
ip link set lo up
ip link add eth0 type veth peer name eth0-peer
ip link set eth0 mtu "$POD_MTU" up
ip link set eth0-peer up
ip addr add 10.99.0.2/24 dev eth0
ip route add default via 10.99.0.1 dev eth0
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
exec "$@"`

// TestDindCompatMTU: dockerd's bridge gets the MTU of the pod's default
// route when it is below 1500, unless the user chose one.
func TestDindCompatMTU(t *testing.T) {
	tests := []struct {
		name, mtu string
		args      []string
		want      []string
	}{
		{name: "pod_mtu_1400", mtu: "1400",
			want: []string{"dockerd", "--host=unix:///var/run/docker.sock", "--mtu=1400"}},
		{name: "user_mtu_wins", mtu: "1400", args: []string{"--mtu=1300"},
			want: []string{"dockerd", "--host=unix:///var/run/docker.sock", "--mtu=1300"}},
		{name: "mtu_1500", mtu: "1500",
			want: []string{"dockerd", "--host=unix:///var/run/docker.sock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startDindCompatWith(t, mtuPodPrelude, []string{"POD_MTU=" + tt.mtu}, append([]string{"--"}, tt.args...)...)
			c.waitUnixAPI()
			if got := c.dockerdArgv(); !slices.Equal(got, tt.want) {
				t.Errorf("dockerd argv with a %s MTU default route = %q, want %q", tt.mtu, got, tt.want)
			}
		})
	}
}

// health runs `envbox health` in the pod's mount and network namespaces
// (its /sys/fs/cgroup and its socket) and returns the exit code and output.
func (c *dindCase) health() (int, string) {
	c.t.Helper()
	pid := strconv.Itoa(c.pod.cmd.Process.Pid)
	cmd := exec.Command("nsenter", "--mount=/proc/"+pid+"/ns/mnt", "--net=/proc/"+pid+"/ns/net", envboxBinary(c.t), "health")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	c.t.Fatalf("run envbox health: %v", err)
	return -1, ""
}

// TestDindCompatHealth: envbox health fails before dockerd answers, passes
// once it does, and fails again when a process enters the pod's root
// cgroup (the delegation no longer holds: dockerd's next container would
// fail with EBUSY on a host with controllers).
func TestDindCompatHealth(t *testing.T) {
	t.Run("before_the_api_answers", func(t *testing.T) {
		c := startDindCompatWith(t, slowReadyPrelude, nil, "--")
		pollFast(t, timeoutStart, "a running dockerd", c.podExited, func() error {
			if pids, err := dockerdsIn(c.pod.cg); err != nil || len(pids) == 0 {
				return errors.New("no dockerd in the test cgroup yet")
			}
			return nil
		})
		code, out := c.health()
		if code != 1 || !strings.HasPrefix(out, "envbox: health: dockerd on /var/run/docker.sock: ") || strings.Count(out, "\n") != 1 {
			t.Errorf("envbox health before the API answers = exit %d, %q; want exit 1 and one line naming the socket", code, out)
		}
	})
	t.Run("ready_then_delegation_lost", func(t *testing.T) {
		c := startDindCompat(t, nil, "--")
		c.waitUnixAPI()
		start := time.Now()
		if code, out := c.health(); code != 0 || out != "" {
			t.Fatalf("envbox health with dockerd up = exit %d, %q; want 0 and no output", code, out)
		}
		t.Logf("envbox health, healthy: exit 0 in %v (nsenter and process start included)", time.Since(start).Round(time.Millisecond))
		intruder := c.pod.cg.Command(context.Background(), "sleep", "300")
		if err := intruder.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = intruder.Process.Kill(); _ = intruder.Wait() })
		pid := strconv.Itoa(intruder.Process.Pid)
		// Moved only once cgtest's guard has exec'd sleep: the guard itself
		// refuses to run anywhere but the test cgroup's root.
		pollFast(t, 10*time.Second, "the intruder running sleep", c.podExited, func() error {
			if comm, err := os.ReadFile("/proc/" + pid + "/comm"); err != nil || string(comm) != "sleep\n" {
				return fmt.Errorf("/proc/%s/comm = %q, %v", pid, comm, err)
			}
			return nil
		})
		if err := os.WriteFile(filepath.Join(c.pod.cg.Path, "pod", "cgroup.procs"), []byte(pid), 0o644); err != nil {
			t.Fatalf("move pid %s into the pod's root cgroup: %v", pid, err)
		}
		code, out := c.health()
		if code != 1 || !strings.HasPrefix(out, "envbox: health: delegation lost: /sys/fs/cgroup/cgroup.procs holds pids ") {
			t.Errorf("envbox health with a process in the pod's root = exit %d, %q; want exit 1, delegation lost", code, out)
		}
	})
}
