package integration

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ory/dockertest/v3/docker"

	"github.com/envbox/envbox/integration/cgtest"
	"github.com/envbox/envbox/integration/syncbuf"
)

// The private registry: Debian's docker-registry (distribution 2.8) with
// TLS from a test CA and htpasswd auth, in a network namespace of the
// test's own. It listens on 192.0.2.1 (TEST-NET-1, an address that exists
// only in that namespace): dockerd treats every 127.0.0.0/8 registry as
// insecure and skips certificate verification there, so loopback could
// not show the x509 failure nor its fix.
const (
	registryIP   = "192.0.2.1"
	registryPort = "5443"
	registryHost = registryIP + ":" + registryPort
	registryUser = "bot"
	// registryPassword must appear in no output, log or file.
	registryPassword = "reg-pw-93b1e0c4-secret"
	registryImage    = registryHost + "/ws:1"
)

// registry is the running registry and what it was made with.
type registry struct {
	dir    string // config, certificates, htpasswd, storage, access log
	ca     string // path of the CA certificate (PEM)
	pid    int    // holds the network namespace
	access string // path of the access log
}

// netns is the --net argument of nsenter for the registry's namespace.
func (r *registry) netns() string { return "--net=/proc/" + strconv.Itoa(r.pid) + "/ns/net" }

// startRegistry writes a CA and a server certificate for registryIP, an
// htpasswd file and the registry's config, then runs docker-registry in a
// new network namespace where 192.0.2.1 is an address of lo. Cleanup kills
// it.
func startRegistry(t *testing.T) *registry {
	t.Helper()
	for _, bin := range []string{"docker-registry", "htpasswd", "ip", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			cgtest.Unavailable(t, "registry test: %s not installed (integration/deps.sh installs it): %v", bin, err)
		}
	}
	dir := shortTempDir(t)
	r := &registry{dir: dir, ca: filepath.Join(dir, "ca.crt"), access: filepath.Join(dir, "access.log")}
	writeTestPKI(t, dir)
	if out, err := exec.Command("htpasswd", "-Bbc", filepath.Join(dir, "htpasswd"), registryUser, registryPassword).CombinedOutput(); err != nil {
		t.Fatalf("htpasswd: %v\n%s", err, out)
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %[1]s/storage
http:
  addr: %[2]s
  tls:
    certificate: %[1]s/server.crt
    key: %[1]s/server.key
auth:
  htpasswd:
    realm: envbox-test
    path: %[1]s/htpasswd
`, dir, registryHost)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	access, err := os.Create(r.access)
	if err != nil {
		t.Fatal(err)
	}
	defer access.Close()
	// The access log is the registry's stdout; its own log, stderr.
	script := `ip link set lo up && ip addr add ` + registryIP + `/32 dev lo && exec docker-registry serve "$1"`
	cmd := exec.Command("unshare", "--net", "--", "/bin/sh", "-c", script, "registry", filepath.Join(dir, "config.yml"))
	appLog := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = access, appLog
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("docker-registry log:\n%s", appLog.String())
		}
	})
	r.pid = cmd.Process.Pid
	poll(t, 20*time.Second, "docker-registry listening on "+registryHost, func() error {
		select {
		case <-done:
			return fmt.Errorf("docker-registry exited:\n%s", appLog.String())
		default:
			return nil
		}
	}, func() error {
		if !strings.Contains(appLog.String(), "listening on "+registryHost) {
			return errors.New("no \"listening on\" line yet")
		}
		return nil
	})
	return r
}

// writeTestPKI writes ca.crt and server.crt/server.key (for registryIP,
// signed by the CA) into dir.
func writeTestPKI(t *testing.T, dir string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "envbox test registry CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: registryIP},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP(registryIP)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*pem.Block{
		"ca.crt": {Type: "CERTIFICATE", Bytes: caDER}, "server.crt": {Type: "CERTIFICATE", Bytes: der},
		"server.key": {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// pushWorkspaceImage imports the base image into a throwaway `envbox dind`
// pod in the registry's network namespace and pushes it as registryImage.
// That dockerd skips verification for the registry (--insecure-registry),
// so the push needs no certs.d.
func pushWorkspaceImage(t *testing.T, r *registry) {
	t.Helper()
	dir := newDaemonDir(t)
	args := append([]string{"nsenter", r.netns(), "--", envboxBinary(t), "dind", "--stop-grace=" + stopGrace.String(), "--"},
		append(dockerdArgv(dir), "--insecure-registry="+registryHost)...)
	d := &daemon{dir: dir, pod: startPod(t, cgtest.New(t), stopGrace+5*time.Second, []string{"ENVBOX_LOG_FORMAT=human"}, args...)}
	d.connect(t)
	importImage(t, d.pool, imageTarball(t, "base"), baseImage)
	if err := d.pool.Client.TagImage(baseImage, docker.TagImageOptions{Repo: registryHost + "/ws", Tag: "1"}); err != nil {
		t.Fatalf("tag %s as %s: %v", baseImage, registryImage, err)
	}
	start := time.Now()
	var out strings.Builder
	err := d.pool.Client.PushImage(docker.PushImageOptions{Name: registryHost + "/ws", Tag: "1", OutputStream: &out},
		docker.AuthConfiguration{Username: registryUser, Password: registryPassword, ServerAddress: registryHost})
	if err != nil {
		t.Fatalf("push %s: %v\n%s", registryImage, err, out.String())
	}
	t.Logf("pushed %s in %v", registryImage, time.Since(start).Round(time.Millisecond))
	stopPod(t, d.pod)
}

// accessLines are the access log's lines from line from on.
func (r *registry) accessLines(t *testing.T, from int) []string {
	t.Helper()
	f, err := os.Open(r.access)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 0; s.Scan(); n++ {
		if n >= from {
			lines = append(lines, s.Text())
		}
	}
	return lines
}

// requests counts the access log lines from line from on that hold all
// of parts.
func (r *registry) requests(t *testing.T, from int, parts ...string) int {
	t.Helper()
	n := 0
	for _, l := range r.accessLines(t, from) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			n++
		}
	}
	return n
}

// registryRun is one `envbox docker` against the registry.
type registryRun struct {
	*daemon
	took time.Duration
}

// runRegistryWorkspace runs `envbox docker` for registryImage in the
// registry's network namespace, with a private /etc/docker (a tmpfs in the
// pod's own mount namespace: envbox writes certs.d there, never on the
// host), on dataRoot under dir, with env added.
func runRegistryWorkspace(t *testing.T, r *registry, dir, dataRoot string, env ...string) *registryRun {
	t.Helper()
	all := append(workspaceEnvOn(dir, filepath.Join(dir, dataRoot), "--storage-driver=overlay2"),
		"CODER_INNER_IMAGE="+registryImage, "ENVBOX_STOP_GRACE=1s")
	all = append(all, env...)
	payload := []string{"nsenter", r.netns(), "--", "/bin/sh", "-c",
		`mount -t tmpfs -o mode=755 tmpfs /etc/docker && exec "$@"`, "etc-docker", envboxBinary(t), "docker"}
	return &registryRun{daemon: &daemon{dir: dir, pod: startPod(t, cgtest.New(t), stopGrace+5*time.Second, all, payload...)}}
}

// waitRunning waits for the workspace container and the bootstrap.
func (rr *registryRun) waitRunning(t *testing.T) {
	t.Helper()
	start := time.Now()
	rr.connect(t)
	poll(t, timeoutStart, "workspace container running", rr.podExited, func() error {
		ws, err := rr.pool.Client.InspectContainer("workspace_cvm")
		if err == nil && !ws.State.Running {
			err = fmt.Errorf("state %s", ws.State.Status)
		}
		return err
	})
	checkBootstrap(t, rr.daemon)
	rr.took = time.Since(start)
}

// stopClean sends SIGTERM and requires exit 0.
func (rr *registryRun) stopClean(t *testing.T) {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("stopped in %v", time.Since(start).Round(time.Millisecond)) }()
	rr.pod.stop(stopGrace + 5*time.Second)
	if done, err := rr.pod.exited(); !done || err != nil {
		t.Fatalf("envbox docker after SIGTERM: exited=%v err=%v, want exit 0\n%s", done, err, rr.pod.out.String())
	}
}

// waitExit1 waits for envbox to fail by itself with exit status 1 and
// returns its last output line.
func (rr *registryRun) waitExit1(t *testing.T) string {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("failed run ended in %v", time.Since(start).Round(time.Millisecond)) }()
	var err error
	poll(t, timeoutStart, "envbox docker exit", nil, func() error {
		var done bool
		if done, err = rr.pod.exited(); !done {
			return errors.New("still running")
		}
		return nil
	})
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("envbox docker exit = %v, want exit status 1\n%s", err, rr.pod.out.String())
	}
	if pid, perr := rr.dockerdPid(); perr == nil && syscall.Kill(pid, 0) == nil {
		t.Errorf("dockerd (pid %d) still runs after envbox exited", pid)
	}
	// Nothing left running: the pod's cgroup subtree is empty.
	poll(t, 10*time.Second, "empty pod cgroup after envbox exited", nil, func() error {
		ev, err := rr.pod.cg.ReadFile("cgroup.events")
		if err == nil && !strings.Contains(ev, "populated 0") {
			err = fmt.Errorf("%s/cgroup.events = %q", rr.pod.cg.Path, ev)
		}
		return err
	})
	lines := strings.Split(strings.TrimSpace(rr.pod.out.String()), "\n")
	return lines[len(lines)-1]
}

// authSecret is a pull secret whose entry for key holds entry.
func authSecret(key, entry string) string {
	return `{"auths":{"` + key + `":` + entry + `}}`
}

func authField(user, pass string) string {
	return `{"auth":"` + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) + `"}`
}

// TestDockerPrivateRegistry: `envbox docker` pulls the workspace image
// from a registry behind a private CA with htpasswd auth, in every pull
// secret shape users write, refuses clearly without the CA or with a wrong
// password (never showing it), and does not pull again on a restart.
func TestDockerPrivateRegistry(t *testing.T) {
	requireDockerd(t)
	begin := time.Now()
	r := startRegistry(t)
	pushWorkspaceImage(t, r)
	dir := newDaemonDir(t)
	caEnv := "CODER_EXTRA_CERTS_PATH=" + r.ca
	secret := func(doc string) string { return "CODER_IMAGE_PULL_SECRET=" + doc }

	// First start: the CA and an auth-only entry; the image is pulled.
	mark := len(r.accessLines(t, 0))
	first := runRegistryWorkspace(t, r, dir, "data", caEnv, secret(authSecret(registryHost, authField(registryUser, registryPassword))))
	first.waitRunning(t)
	blobs := r.requests(t, mark, `"GET /v2/ws/blobs/sha256:`, `" 200 `)
	if blobs == 0 {
		t.Errorf("first start: no blob GET with status 200 in %s:\n%s", r.access, strings.Join(r.accessLines(t, mark), "\n"))
	}
	out := first.pod.out.String()
	for _, want := range []string{
		`"msg":"dockerd trusts the extra CA certificates for the registry"`,
		`"path":"/etc/docker/certs.d/` + registryHost + `/ca.crt"`,
		`"msg":"registry credentials"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("first start: output lacks %s", want)
		}
	}
	first.stopClean(t)
	if _, err := os.Stat("/etc/docker/certs.d/" + registryHost); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the host's /etc/docker/certs.d/%s: %v; want none (envbox wrote into the pod's own /etc/docker)", registryHost, err)
	}
	t.Logf("first start (pull of %s, %d blobs): workspace and bootstrap after %v", registryImage, blobs, first.took.Round(time.Millisecond))

	// Second start on the same data root: no request for a blob.
	mark = len(r.accessLines(t, 0))
	second := runRegistryWorkspace(t, r, dir, "data", caEnv, secret(authSecret(registryHost, authField(registryUser, registryPassword))))
	second.waitRunning(t)
	if n := r.requests(t, mark, "/blobs/"); n != 0 {
		t.Errorf("second start on the same data root: %d blob requests:\n%s", n, strings.Join(r.accessLines(t, mark), "\n"))
	}
	if !strings.Contains(second.pod.out.String(), `"msg":"image present, not pulling"`) {
		t.Error("second start: output lacks \"image present, not pulling\"")
	}
	second.stopClean(t)
	t.Logf("second start (image present): workspace and bootstrap after %v, %d registry requests", second.took.Round(time.Millisecond), len(r.accessLines(t, mark)))

	// Every pull-secret shape, with ENVBOX_PULL=always so each one is
	// sent to the registry (the manifest needs auth; the layers are there).
	configFile := filepath.Join(dir, "config.json")
	if err := os.WriteFile(configFile, []byte(authSecret("https://"+registryHost, authField(registryUser, registryPassword))), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, shape := range []struct{ name, env string }{
		{"username_password_key_with_scheme_and_path", secret(authSecret("https://"+registryHost+"/v1/", `{"username":"`+registryUser+`","password":"`+registryPassword+`"}`))},
		{"auth_only_key_with_http_scheme", secret(authSecret("http://"+registryHost, authField(registryUser, registryPassword)))},
		{"docker_config_file", "CODER_DOCKER_CONFIG=" + configFile},
	} {
		mark = len(r.accessLines(t, 0))
		run := runRegistryWorkspace(t, r, dir, "data", caEnv, "ENVBOX_PULL=always", shape.env)
		run.waitRunning(t)
		if n := r.requests(t, mark, "/v2/ws/manifests/1 ", `" 200 `); n == 0 {
			t.Errorf("%s: no manifest request answered 200:\n%s", shape.name, strings.Join(r.accessLines(t, mark), "\n"))
		}
		run.stopClean(t)
		t.Logf("%s: pulled (always) and started in %v", shape.name, run.took.Round(time.Millisecond))
	}

	// A wrong password: exit 1 naming the registry; the password nowhere.
	wrong := "wrong-" + registryPassword
	run := runRegistryWorkspace(t, r, dir, "data", caEnv, "ENVBOX_PULL=always", secret(authSecret(registryHost, authField(registryUser, wrong))))
	line := run.waitExit1(t)
	for _, want := range []string{"registry " + registryHost, "unauthorized"} {
		if !strings.Contains(line, want) {
			t.Errorf("wrong password: last line %q lacks %q", line, want)
		}
	}
	t.Logf("wrong password: %s", line)
	walk := time.Now()
	checkNoSecret(t, wrong, run.pod.out.String(), dir)
	t.Logf("password search took %v", time.Since(walk).Round(time.Millisecond))

	// No CA: exit 1, one line naming the registry and the x509 reason.
	run = runRegistryWorkspace(t, r, dir, "data-noca", secret(authSecret(registryHost, authField(registryUser, registryPassword))))
	line = run.waitExit1(t)
	for _, want := range []string{"registry " + registryHost, "x509: certificate signed by unknown authority", "CODER_EXTRA_CERTS_PATH"} {
		if !strings.Contains(line, want) {
			t.Errorf("no CA: last line %q lacks %q", line, want)
		}
	}
	t.Logf("no CA: %s", line)

	// A credential helper cannot run in the pod: exit 1 naming it.
	if err := os.WriteFile(configFile, []byte(`{"credHelpers":{"`+registryHost+`":"secretservice"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	run = runRegistryWorkspace(t, r, dir, "data-noca", caEnv, "CODER_DOCKER_CONFIG="+configFile)
	line = run.waitExit1(t)
	if want := "registry " + registryHost + ": its credentials are in the credential helper docker-credential-secretservice"; !strings.Contains(line, want) {
		t.Errorf("credHelpers: last line %q lacks %q", line, want)
	}
	checkNoSecret(t, registryPassword, "", r.dir)
	t.Logf("private registry test: %v in all", time.Since(begin).Round(time.Millisecond))
}

// checkNoSecret: secret is in neither out nor any file under dir (layer
// contents excepted: they are the image's).
func checkNoSecret(t *testing.T, secret, out, dir string) {
	t.Helper()
	if strings.Contains(out, secret) {
		t.Errorf("envbox output holds the password")
	}
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if e.IsDir() && (e.Name() == "overlay2" || e.Name() == "storage") {
			return filepath.SkipDir
		}
		if !e.Type().IsRegular() || p == filepath.Join(dir, "htpasswd") {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), secret) {
			t.Errorf("%s holds the password", p)
		}
		return nil
	})
}
