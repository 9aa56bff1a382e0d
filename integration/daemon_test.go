package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"

	"github.com/envbox/envbox/integration/cgtest"
)

const (
	// timeoutStart bounds dockerd's start (managed containerd included)
	// and a container's start.
	timeoutStart = 90 * time.Second
	// stopGrace is what envbox gives dockerd after SIGTERM, and what the
	// harness gives envbox: dockerd stops its containers first.
	stopGrace = 30 * time.Second
	// baseImage is the imported debootstrap minbase image.
	baseImage = "envbox-test/base"
)

// daemon is one dockerd under test and its client.
type daemon struct {
	dir  string // holds data, exec root, socket, pid file
	pod  *pod
	pool *dockertest.Pool
}

// dockerdArgv keeps dockerd off everything the host uses: own data and
// exec roots, pid file, socket and an empty config file; no bridge, no
// iptables rules. It is a full command line ("dockerd ..."), which `envbox
// dind` runs as given: bare flags would get docker:dind's default
// --host=unix:///var/run/docker.sock in front, the host's socket path.
func dockerdArgv(dir string) []string {
	return []string{
		"dockerd",
		"--host=unix://" + filepath.Join(dir, "docker.sock"),
		"--data-root=" + filepath.Join(dir, "data"),
		"--exec-root=" + filepath.Join(dir, "x"),
		"--pidfile=" + filepath.Join(dir, "docker.pid"),
		"--config-file=" + filepath.Join(dir, "daemon.json"),
		"--storage-driver=overlay2",
		"--bridge=none",
		"--iptables=false",
		"--ip6tables=false",
	}
}

// newDaemonDir prepares dockerd's directory and config file. Call it
// before cgtest.New so its removal runs after the cgroup's cleanup.
func newDaemonDir(t testing.TB) string {
	t.Helper()
	dir := shortTempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startEnvboxDockerd runs `envbox dind -- <dockerdArgv>` as the pod's
// payload and waits until the Docker API answers.
func startEnvboxDockerd(t testing.TB) (*daemon, *cgtest.Cgroup) {
	t.Helper()
	dir := newDaemonDir(t)
	cg := cgtest.New(t)
	args := append([]string{envboxBinary(t), "dind", "--stop-grace=" + stopGrace.String(), "--"}, dockerdArgv(dir)...)
	env := []string{"ENVBOX_LOG_FORMAT=human"}
	d := &daemon{dir: dir, pod: startPod(t, cg, stopGrace+5*time.Second, env, args...)}
	d.connect(t)
	return d, cg
}

// startBareDockerd runs dockerd itself as the pod's payload: the baseline
// without envbox.
func startBareDockerd(t testing.TB) (*daemon, *cgtest.Cgroup) {
	t.Helper()
	dir := newDaemonDir(t)
	cg := cgtest.New(t)
	d := &daemon{dir: dir, pod: startPod(t, cg, stopGrace, nil, dockerdArgv(dir)...)}
	d.connect(t)
	return d, cg
}

func (d *daemon) sock() string { return filepath.Join(d.dir, "docker.sock") }

// connect waits for the API; it gives up at once when the pod process
// exits (a guard or delegation failure).
func (d *daemon) connect(t testing.TB) {
	t.Helper()
	pool, err := dockertest.NewPool("unix://" + d.sock())
	if err != nil {
		t.Fatalf("dockertest pool on %s: %v", d.sock(), err)
	}
	d.pool = pool
	d.waitAPI(t)
}

func (d *daemon) waitAPI(t testing.TB) {
	t.Helper()
	start := time.Now()
	poll(t, timeoutStart, "dockerd API on "+d.sock(), d.podExited, d.pool.Client.Ping)
	t.Logf("dockerd API on %s answered after %v", d.sock(), time.Since(start).Round(time.Millisecond))
}

func (d *daemon) podExited() error {
	if done, err := d.pod.exited(); done {
		return fmt.Errorf("pod process exited: %v", err)
	}
	return nil
}

// dockerdPid reads dockerd's pid file (a host PID: no PID namespace).
func (d *daemon) dockerdPid() (int, error) {
	path := filepath.Join(d.dir, "docker.pid")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("parse %s %q: %w", path, b, err)
	}
	return pid, nil
}

// importImage imports a rootfs tarball as repo:latest.
func importImage(t testing.TB, pool *dockertest.Pool, tarball, repo string) {
	t.Helper()
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	err = pool.Client.ImportImage(docker.ImportImageOptions{
		Repository: repo, Tag: "latest", Source: "-", InputStream: f, OutputStream: &strings.Builder{},
	})
	if err != nil {
		t.Fatalf("import %s as %s: %v", tarball, repo, err)
	}
	t.Logf("imported %s as %s in %v", tarball, repo, time.Since(start).Round(time.Millisecond))
}

// runContainer creates and starts a container without network, stopped
// with SIGKILL 2 s after SIGTERM; opts may adjust the options.
func runContainer(t testing.TB, pool *dockertest.Pool, image string, cmd []string, opts func(*docker.CreateContainerOptions)) *docker.Container {
	t.Helper()
	o := docker.CreateContainerOptions{
		Config:     &docker.Config{Image: image, Cmd: cmd, StopTimeout: 2},
		HostConfig: &docker.HostConfig{NetworkMode: "none"},
	}
	if opts != nil {
		opts(&o)
	}
	c, err := pool.Client.CreateContainer(o)
	if err != nil {
		t.Fatalf("create container %s %q: %v", image, cmd, err)
	}
	if err := pool.Client.StartContainer(c.ID, nil); err != nil {
		t.Fatalf("start container %s %q: %v", c.ID, cmd, err)
	}
	return c
}

// dockerInfo reads GET /info raw: go-dockerclient's DockerInfo has no
// CgroupVersion field.
func dockerInfo(t *testing.T, sock string) map[string]any {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := client.Get("http://docker/info")
	if err != nil {
		t.Fatalf("GET /info on %s: %v", sock, err)
	}
	defer resp.Body.Close()
	info := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatalf("decode /info from %s: %v", sock, err)
	}
	return info
}

// sleeper is a container command whose host-side argv is unique to the
// test, so the host can find its process without asking dockerd.
func sleeper(t *testing.T) []string {
	t.Helper()
	return []string{"sleep", strconv.Itoa(100000 + int(time.Now().UnixNano()%800000))}
}
