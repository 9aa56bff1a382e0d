package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/envbox/envbox/integration/cgtest"
	"github.com/envbox/envbox/integration/syncbuf"
)

// TestAdoptProxyPlacesContainersInCallersCgroup: `envbox adopt-proxy` in
// front of a real dockerd under `envbox dind`. The docker CLI, run in its
// own cgroup T/pod/peer, creates containers through the proxy; they land
// below that cgroup as the host sees it, `docker run` (attach hijack, wait)
// works through it, a conflicting --cgroup-parent gets the proxy's 400, and
// a caller outside dockerd's cgroup namespace is refused. The proxy itself
// stays in the host's cgroup namespace, as a process beside envbox would.
func TestAdoptProxyPlacesContainersInCallersCgroup(t *testing.T) {
	requireDockerd(t)
	if _, err := exec.LookPath("docker"); err != nil {
		cgtest.Unavailable(t, "adopt-proxy test: docker CLI not installed (docker.io): %v", err)
	}
	d, cg := startEnvboxDockerd(t)
	importImage(t, d.pool, imageTarball(t, "base"), baseImage)
	// The proxy runs in the host's cgroup namespace, dockerd in its own
	// rooted at T/pod: the proxy reads callers' cgroups in dockerd's.
	sock := startAdoptProxy(t, d.sock(), true)
	peer := filepath.Join(cg.Path, "pod", "peer")
	if err := os.Mkdir(peer, 0o755); err != nil {
		t.Fatal(err)
	}

	argv := sleeper(t)
	id, err := dockerCLI(t, peer, sock, append([]string{"create", "--network", "none", "--stop-timeout", "2", baseImage}, argv...)...)
	if err != nil {
		t.Fatalf("docker create through the proxy: %v", err)
	}
	id = strings.TrimSpace(id)
	if _, err := dockerCLI(t, peer, sock, "start", id); err != nil {
		t.Fatalf("docker start through the proxy: %v", err)
	}
	pid := onlyProc(t, argv)
	got, err := hostCgroup(pid)
	if want := testRel(cg) + "/pod/peer/" + id; err != nil || got != want {
		t.Errorf("container %s process %d host cgroup = %q, %v; want %q", id[:12], pid, got, err, want)
	}
	parent, err := dockerCLI(t, "", d.sock(), "inspect", "-f", "{{.HostConfig.CgroupParent}}", id)
	if err != nil || parent != "/peer\n" {
		t.Errorf("CgroupParent dockerd recorded = %q, %v; want \"/peer\\n\"", parent, err)
	}

	start := time.Now()
	out, err := dockerCLI(t, peer, sock, "run", "--rm", "--network", "none", baseImage, "echo", "adopted")
	if err != nil || out != "adopted\n" {
		t.Errorf("docker run through the proxy = %q, %v; want \"adopted\\n\"", out, err)
	}
	t.Logf("docker run --rm echo through the proxy: %v", time.Since(start).Round(time.Millisecond))

	// The classic builder's RUN step: POST /build?cgroupparent=/peer.
	buildArgv := sleeper(t)
	built := make(chan error, 1)
	go func() {
		_, err := dockerBuild(t, peer, sock, fmt.Sprintf("FROM %s\nRUN %s\n", baseImage, strings.Join(buildArgv, " ")))
		built <- err
	}()
	bpid := onlyProc(t, buildArgv)
	got, err = hostCgroup(bpid)
	if prefix := testRel(cg) + "/pod/peer/"; err != nil || !strings.HasPrefix(got, prefix) {
		t.Errorf("RUN step process %d host cgroup = %q, %v; want below %q", bpid, got, err, prefix)
	}
	_ = syscall.Kill(bpid, syscall.SIGKILL)
	if err := <-built; err == nil {
		t.Errorf("docker build whose RUN step was killed succeeded")
	}

	_, err = dockerCLI(t, peer, sock, "create", "--cgroup-parent", "/elsewhere", baseImage, "true")
	wantConflict := regexp.MustCompile(`Error response from daemon: envbox adopt-proxy: container create from pid \d+ refused: ` +
		`HostConfig\.CgroupParent "/elsewhere" conflicts with the cgroup of the calling process "/peer": envbox adopt-proxy ` +
		`places containers in their creator's cgroup; omit CgroupParent or set it to "/peer"`)
	if err == nil || !wantConflict.MatchString(err.Error()) {
		t.Errorf("create with another --cgroup-parent: %v; want match of %s", err, wantConflict)
	}

	// This test process sits at the host's cgroup2 root: from dockerd's
	// namespace (rooted at T/pod) that is "/../..".
	_, err = dockerCLI(t, "", sock, "create", baseImage, "true")
	wantOutside := regexp.MustCompile(`Error response from daemon: envbox adopt-proxy: container create from pid \d+ refused: ` +
		`calling process pid \d+: peer cgroup "/\.\./\.\./?[^"]*": cgroup is outside this cgroup namespace`)
	if err == nil || !wantOutside.MatchString(err.Error()) {
		t.Errorf("create from outside dockerd's cgroup namespace: %v; want match of %s", err, wantOutside)
	}
}

// TestAdoptProxyOldAPIAndFormBuildStayAdopted: dockerd accepts API 1.23,
// whose start body replaces a container's HostConfig (shown straight on
// dockerd's socket: {"Memory":0} resets an adopted CgroupParent). Through
// the proxy, a peer in cgroup T/pod/peer creates with API 1.23 and its
// container runs in T/pod/peer/<id> as the host sees it; the three start
// bodies of issue 17 and a build with cgroupparent in a form body are
// refused before dockerd sees them, so nothing leaves the subtree.
func TestAdoptProxyOldAPIAndFormBuildStayAdopted(t *testing.T) {
	requireDockerd(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skipf("curl not installed: %v", err)
	}
	d, cg := startEnvboxDockerd(t)
	importImage(t, d.pool, imageTarball(t, "base"), baseImage)
	sock := startAdoptProxy(t, d.sock(), true)
	peer := filepath.Join(cg.Path, "pod", "peer")
	if err := os.Mkdir(peer, 0o755); err != nil {
		t.Fatal(err)
	}
	api := func(dir, sock, method, path, contentType, body string) (int, string) {
		t.Helper()
		args := []string{"-sS", "--unix-socket", sock, "-X", method, "-w", "\n%{http_code}", "http://docker" + path}
		if body != "" {
			args = append(args, "-H", "Content-Type: "+contentType, "--data-binary", body)
		}
		out, err := runIn(t, dir, nil, nil, "curl", args...)
		if err != nil {
			t.Fatalf("curl %s %s: %v", method, path, err)
		}
		i := strings.LastIndexByte(out, '\n')
		n, _ := strconv.Atoi(out[i+1:])
		return n, strings.TrimSpace(out[:i])
	}
	code, out := api("", d.sock(), "GET", "/version", "", "")
	var version struct{ Version, MinAPIVersion string }
	if err := json.Unmarshal([]byte(out), &version); code != 200 || err != nil {
		t.Fatalf("GET /version = %d %s, %v", code, out, err)
	}
	// dockerd 20.10 serves API 1.12 and up; from 25.0 the minimum is 1.24,
	// and dockerd itself refuses start bodies.
	minor, _ := strconv.Atoi(strings.TrimPrefix(version.MinAPIVersion, "1."))
	old := minor <= 23
	t.Logf("dockerd %s, minimum API %s: API 1.23 start bodies applied by dockerd: %v", version.Version, version.MinAPIVersion, old)
	api23 := "/v1.23"
	if !old {
		api23 = "/v" + version.MinAPIVersion
	}
	createBody := func(argv []string) string {
		b, _ := json.Marshal(map[string]any{"Image": baseImage, "Cmd": argv, "NetworkDisabled": true, "HostConfig": map[string]any{"NetworkMode": "none"}})
		return string(b)
	}
	var created struct{ Id string }
	if old {
		// Straight on dockerd: a 1.23 start body resets the adopted parent.
		code, out := api(peer, sock, "POST", api23+"/containers/create", "application/json", createBody([]string{"true"}))
		if err := json.Unmarshal([]byte(out), &created); code != 201 || err != nil {
			t.Fatalf("create through the proxy = %d %s, %v", code, out, err)
		}
		if code, out := api("", d.sock(), "POST", api23+"/containers/"+created.Id+"/start", "application/json", `{"Memory":0}`); code != 204 {
			t.Fatalf("direct start with a body = %d %s", code, out)
		}
		if parent, err := dockerCLI(t, "", d.sock(), "inspect", "-f", "{{.HostConfig.CgroupParent}}", created.Id); err != nil || parent != "\n" {
			t.Errorf("direct 1.23 start {\"Memory\":0}: CgroupParent = %q, %v; want it reset to \"\" (the threat is real)", parent, err)
		}
	}

	argv := sleeper(t)
	code, out = api(peer, sock, "POST", api23+"/containers/create", "application/json", createBody(argv))
	if err := json.Unmarshal([]byte(out), &created); code != 201 || err != nil {
		t.Fatalf("create through the proxy = %d %s, %v", code, out, err)
	}
	id := created.Id
	for _, body := range []string{`{"CgroupParent":"/evil"}`, `{"HostConfig":{"CgroupParent":"/"}}`, `{"Memory":0}`} {
		code, out := api(peer, sock, "POST", api23+"/containers/"+id+"/start", "application/json", body)
		want := regexp.MustCompile(`^\{"message":"envbox adopt-proxy: POST ` + regexp.QuoteMeta(api23) + `/containers/[0-9a-f]+/start from pid \d+ refused: a start body is a HostConfig`)
		if code != 400 || !want.MatchString(out) {
			t.Errorf("1.23 start %s through the proxy = %d %s; want 400 matching %s", body, code, out, want)
		}
	}
	if code, out := api(peer, sock, "POST", api23+"/containers/"+id+"/start", "", ""); code != 204 {
		t.Fatalf("1.23 start without a body through the proxy = %d %s", code, out)
	}
	pid := onlyProc(t, argv)
	if got, err := hostCgroup(pid); err != nil || got != testRel(cg)+"/pod/peer/"+id {
		t.Errorf("container %s process %d host cgroup = %q, %v; want %q", id[:12], pid, got, err, testRel(cg)+"/pod/peer/"+id)
	}

	// A form body that dockerd's r.FormValue would prefer to the query.
	code, out = api(peer, sock, "POST", "/v1.47/build?remote=http://127.0.0.1:9/ctx.tar&t=evil", "application/x-www-form-urlencoded", "cgroupparent=%2F")
	wantBuild := regexp.MustCompile(`^\{"message":"envbox adopt-proxy: build from pid \d+ refused: a body of type application/x-www-form-urlencoded: `)
	if code != 400 || !wantBuild.MatchString(out) {
		t.Errorf("urlencoded build through the proxy = %d %s; want 400 matching %s", code, out, wantBuild)
	}
	// Every process of the test's containers is still below the peer's
	// cgroup or dockerd's own.
	procs, err := subtreeProcs(cg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if got, err := hostCgroup(p); err == nil && strings.HasPrefix(got, testRel(cg)+"/pod/docker") {
			t.Errorf("process %d is in %s: outside the adopting peer's cgroup", p, got)
		}
	}
}

// startAdoptProxy runs `envbox adopt-proxy` and waits for its socket; debug
// logs every connection (tests read it on failure; benchmarks measure
// without it, as the proxy runs by default).
func startAdoptProxy(t testing.TB, upstream string, debug bool) string {
	t.Helper()
	sock := filepath.Join(shortTempDir(t), "adopt.sock")
	out := &syncbuf.Buffer{}
	args := []string{"adopt-proxy", "--listen", sock, "--upstream", upstream}
	if debug {
		args = append(args, "--debug")
	}
	cmd := exec.Command(envboxBinary(t), args...)
	cmd.Env = append(os.Environ(), "ENVBOX_LOG_FORMAT=human")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("adopt-proxy exit after SIGTERM: %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("adopt-proxy still running 10s after SIGTERM")
		}
		if t.Failed() {
			t.Logf("adopt-proxy output:\n%s", out.String())
		}
	})
	poll(t, 10*time.Second, "adopt-proxy socket "+sock, func() error {
		select {
		case err := <-done:
			return fmt.Errorf("adopt-proxy exited: %v\n%s", err, out.String())
		default:
			return nil
		}
	}, func() error {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err
	})
	return sock
}

// dockerBuild runs the classic builder (DOCKER_BUILDKIT=0) on dockerfile
// with an empty context, through dockerCLI.
func dockerBuild(t *testing.T, dir, sock, dockerfile string) (string, error) {
	t.Helper()
	return runDocker(t, dir, sock, []string{"DOCKER_BUILDKIT=0"}, strings.NewReader(dockerfile), "build", "-q", "-")
}

// dockerCLI runs the docker CLI against sock, inside cgroup dir when dir is
// not empty (CLONE_INTO_CGROUP: the CLI is in that cgroup from its first
// instruction). It returns stdout, or an error carrying stderr.
func dockerCLI(t *testing.T, dir, sock string, args ...string) (string, error) {
	t.Helper()
	return runDocker(t, dir, sock, nil, nil, args...)
}

func runDocker(t *testing.T, dir, sock string, env []string, stdin io.Reader, args ...string) (string, error) {
	t.Helper()
	return runIn(t, dir, append([]string{"DOCKER_CONFIG=" + t.TempDir()}, env...), stdin, "docker", append([]string{"--host", "unix://" + sock}, args...)...)
}

// runIn runs name with args inside cgroup dir when dir is not empty.
func runIn(t *testing.T, dir string, env []string, stdin io.Reader, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeoutStart)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if dir != "" {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("open %s: %v", dir, err)
		}
		defer unix.Close(fd)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.String(), fmt.Errorf("%s %q: %v: %s", name, args, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), err
}
