package integration

import (
	"archive/tar"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/envbox/envbox/integration/cgtest"
)

// The image as a docker:dind drop-in: docker-library/official-images'
// test/tests/docker-dind/run.sh, step by step, against the image built from
// ../Dockerfile, under a dockerd of the harness. Deviations, because there
// is no registry and no --privileged here: the busybox image is
// `docker load`ed from a tarball instead of pulled; the daemon container
// gets dind_test.go's nearest-to-privileged options.

const (
	// dindDaemonName is the daemon container of the official test ("docker"
	// to its clients through --link).
	dindDaemonName = "dind-daemon"
	// busyboxImage is the tiny image the inner daemon loads: the host's
	// static busybox as true, cat and sh.
	busyboxImage = "envbox-test/busybox"
)

// bridgedPrelude gives the harness dockerd a network namespace of its own
// (loopback up) and its own /run: its default bridge, the veths of its
// containers and its iptables rules stay there.
const bridgedPrelude = `set -eu
ip link set lo up
mount -t tmpfs tmpfs /run
exec "$@"`

// privilegedOpts is the nearest to --privileged this machine allows
// (CAP_SYS_RESOURCE is not in its bounding set): dind_test.go's options,
// and /proc/sys writable as --privileged leaves it (dockerd writes
// route_localnet of its bridge with --userland-proxy=false).
var privilegedOpts = []string{
	"--cap-add=ALL", "--cap-drop=SYS_RESOURCE", "--security-opt=seccomp=unconfined", "--security-opt=apparmor=unconfined",
	"--security-opt=systempaths=unconfined",
	"--tmpfs=/run", "--tmpfs=/tmp", "-e", "ENVBOX_LOG_FORMAT=human",
}

// startBridgedDockerd is startEnvboxDockerd with dockerd's default bridge
// and iptables rules (--link needs the default bridge) in a network
// namespace of its own.
func startBridgedDockerd(t *testing.T) *daemon {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		cgtest.Unavailable(t, "image compatibility test: ip (iproute2) not installed: %v", err)
	}
	dir := newDaemonDir(t)
	cg := cgtest.New(t)
	argv := slices.DeleteFunc(dockerdArgv(dir), func(a string) bool {
		return a == "--bridge=none" || a == "--iptables=false" || a == "--ip6tables=false"
	})
	payload := append([]string{"unshare", "--net", "--", "/bin/sh", "-c", bridgedPrelude, "sh",
		envboxBinary(t), "dind", "--stop-grace=" + stopGrace.String(), "--"}, argv...)
	d := &daemon{dir: dir, pod: startPod(t, cg, stopGrace+5*time.Second, []string{"ENVBOX_LOG_FORMAT=human"}, payload...)}
	d.connect(t)
	return d
}

// busyboxTarball imports the host's static busybox as busyboxImage into d
// and returns `docker save` of it: what the client containers load.
func busyboxTarball(t *testing.T, d *daemon) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		cgtest.Unavailable(t, "image compatibility test: busybox (busybox-static) not installed: %v", err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs.tar")
	f, err := os.Create(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	w := tar.NewWriter(f)
	hdrs := []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))},
	}
	for _, name := range []string{"true", "cat", "sh"} {
		hdrs = append(hdrs, &tar.Header{Name: "bin/" + name, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	for _, h := range hdrs {
		if err := w.WriteHeader(h); err != nil {
			t.Fatalf("write %s: %v", rootfs, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := w.Write(data); err != nil {
				t.Fatalf("write %s: %v", rootfs, err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("write %s: %v", rootfs, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	importImage(t, d.pool, rootfs, busyboxImage)
	saved := filepath.Join(dir, "busybox.tar")
	if out, stderr, code := imageCLI(t, d, "save", "-o", saved, busyboxImage); code != 0 {
		t.Fatalf("docker save %s: exit %d\n%s\n%s", busyboxImage, code, out, stderr)
	}
	return saved
}

// startDaemonContainer runs a daemon container of imageRepo named name
// with the extra run options and arguments, and removes it (and its
// volumes) at cleanup, logging its output when the test failed.
func startDaemonContainer(t *testing.T, d *daemon, name string, opts []string, args ...string) string {
	t.Helper()
	run := append(append(append([]string{"run", "-d", "--name", name}, privilegedOpts...), opts...), imageRepo)
	out, stderr, code := imageCLI(t, d, append(run, args...)...)
	if code != 0 {
		t.Fatalf("docker %q: exit %d\n%s\n%s", append(run, args...), code, out, stderr)
	}
	id := strings.TrimSpace(out)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon container %s output:\n%s", name, containerLogs(d.pool, id))
		}
		if out, stderr, code := imageCLI(t, d, "rm", "-vf", id); code != 0 {
			t.Errorf("docker rm -vf %s: exit %d\n%s\n%s", name, code, out, stderr)
		}
	})
	return id
}

// TestDindImage runs the official docker-dind test's steps: a daemon
// container with TLS certificates on a /certs volume, then client
// containers of the same image through docker-entrypoint.sh, linked to it
// as "docker" and sharing its volumes read-only.
func TestDindImage(t *testing.T) {
	requireDockerd(t)
	d := startBridgedDockerd(t)
	buildImage(t, d)
	saved := busyboxTarball(t, d)

	start := time.Now()
	id := startDaemonContainer(t, d, dindDaemonName, []string{"-e", "DOCKER_TLS_CERTDIR=/certs", "-v", "/certs"})
	client := []string{"run", "--rm", "-i", "--link", dindDaemonName + ":docker", "--volumes-from", dindDaemonName + ":ro",
		"-v", saved + ":/busybox.tar:ro", "--entrypoint", "docker-entrypoint.sh", imageRepo}
	docker := func(args ...string) (string, string, int) { return imageCLI(t, d, append(client, args...)...) }

	waitClient(t, d, id, append(client, "version")...)
	t.Logf("the client reached the inner dockerd %v after the daemon container started", time.Since(start).Round(time.Millisecond))

	// Each step's exact output; "<id>": a container ID.
	for _, s := range []struct {
		name string
		args []string
		want string
	}{
		// Not in run.sh: which daemon the client entrypoint chose.
		{name: "client_env", args: []string{"sh", "-c", `echo "$DOCKER_HOST $DOCKER_TLS_VERIFY $DOCKER_CERT_PATH"`},
			want: "tcp://docker:2376 1 /certs/client\n"},
		{name: "images", args: []string{"images"}, want: "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"},
		// run.sh: docker_ pull busybox.
		{name: "load", args: []string{"load", "-i", "/busybox.tar"}, want: "Loaded image: " + busyboxImage + ":latest\n"},
		{name: "run_1", args: []string{"run", "--rm", busyboxImage, "true"}},
		{name: "run_2", args: []string{"run", "--rm", busyboxImage, "true"}},
		{name: "run_3", args: []string{"run", "--rm", busyboxImage, "true"}},
		{name: "create", args: []string{"create", "-i", "--name", "test", busyboxImage, "cat"}, want: "<id>"},
		{name: "created", args: []string{"inspect", "-f", "{{.State.Running}}", "test"}, want: "false\n"},
		{name: "start", args: []string{"start", "test"}, want: "test\n"},
		{name: "started", args: []string{"inspect", "-f", "{{.State.Running}}", "test"}, want: "true\n"},
		{name: "stop", args: []string{"stop", "test"}, want: "test\n"},
		{name: "stopped", args: []string{"inspect", "-f", "{{.State.Running}}", "test"}, want: "false\n"},
		{name: "rm", args: []string{"rm", "test"}, want: "test\n"},
	} {
		start := time.Now()
		out, stderr, code := docker(s.args...)
		ok := code == 0 && (out == s.want || s.want == "<id>" && len(strings.TrimSpace(out)) == 64)
		if !ok {
			t.Fatalf("%s: docker-entrypoint.sh %q: exit %d, %q (stderr %q); want 0, %q", s.name, s.args, code, out, stderr, s.want)
		}
		t.Logf("%s: docker-entrypoint.sh %q: %v", s.name, s.args, time.Since(start).Round(time.Millisecond))
	}

	t.Run("ci", func(t *testing.T) { testCIInvocations(t, d) })
}

// waitClient runs the docker CLI with args until it succeeds (the inner
// dockerd answers) and returns its output; it gives up when the daemon
// container id exits.
func waitClient(t *testing.T, d *daemon, id string, args ...string) string {
	t.Helper()
	var out string
	poll(t, timeoutStart, fmt.Sprintf("docker %q", args), func() error { return notRunning(d.pool, id) }, func() error {
		o, stderr, code := imageCLI(t, d, args...)
		if code != 0 {
			return fmt.Errorf("exit %d\n%s\n%s", code, o, stderr)
		}
		out = o
		return nil
	})
	return out
}

// testCIInvocations starts the image as each CI system starts docker:dind
// and asks its dockerd what that system's job asks, from where the job
// runs: a Kubernetes pod's containers share a network namespace
// (--network container:NAME), GitLab's services are reached by their alias
// on the job's network.
func testCIInvocations(t *testing.T, d *daemon) {
	if out, stderr, code := imageCLI(t, d, "network", "create", "gitlab"); code != 0 {
		t.Fatalf("docker network create gitlab: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, tt := range []struct {
		name   string
		daemon []string // run options, then arguments after "--"
		job    []string // the docker CLI's arguments that ask what the job asks
		want   string
	}{
		// Argo Workflows' sidecar example: command: [dockerd-entrypoint.sh],
		// DOCKER_TLS_CERTDIR empty, the job on DOCKER_HOST=127.0.0.1.
		{name: "argo", daemon: []string{"-e", "DOCKER_TLS_CERTDIR=", "--entrypoint", "dockerd-entrypoint.sh"},
			job: []string{"run", "--rm", "--network", "container:argo", "-e", "DOCKER_HOST=127.0.0.1", "--entrypoint", "docker", imageRepo,
				"version", "--format", "{{.Server.Os}}"},
			want: "linux\n"},
		// Tekton's docker-build example: args --storage-driver=vfs ...,
		// /certs shared, the step on tcp://localhost:2376 with /certs/client.
		{name: "tekton", daemon: []string{"-e", "DOCKER_TLS_CERTDIR=/certs", "-v", "/certs", "--", "--storage-driver=vfs", "--userland-proxy=false", "--debug"},
			job: []string{"run", "--rm", "--network", "container:tekton", "--volumes-from", "tekton:ro", "-e", "DOCKER_HOST=tcp://localhost:2376",
				"-e", "DOCKER_TLS_VERIFY=1", "-e", "DOCKER_CERT_PATH=/certs/client", "--entrypoint", "docker", imageRepo,
				"info", "--format", "{{.Driver}}"},
			want: "vfs\n"},
		// GitLab's services: [docker:dind] with DOCKER_TLS_CERTDIR=/certs:
		// the service is "docker" on the job's network, the job (the
		// docker image, so docker-entrypoint.sh) has DOCKER_HOST=tcp://docker:2376.
		{name: "gitlab", daemon: []string{"--network", "gitlab", "--network-alias", "docker", "-e", "DOCKER_TLS_CERTDIR=/certs", "-v", "/certs"},
			job: []string{"run", "--rm", "--network", "gitlab", "--volumes-from", "gitlab:ro", "-e", "DOCKER_HOST=tcp://docker:2376",
				"-e", "DOCKER_TLS_CERTDIR=/certs", "--entrypoint", "docker-entrypoint.sh", imageRepo, "version", "--format", "{{.Server.Os}}"},
			want: "linux\n"},
		// Actions Runner Controller's dind container: args dockerd
		// --host=unix:///var/run/docker.sock --group=$(DOCKER_GROUP_GID), and
		// `docker info` as the startup probe inside it.
		{name: "arc", daemon: []string{"--", "dockerd", "--host=unix:///var/run/docker.sock", "--group=123"},
			job:  []string{"exec", "arc", "sh", "-c", `docker info --format '{{.OSType}}' && stat -c %g /var/run/docker.sock`},
			want: "linux\n123\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			opts, args := tt.daemon, []string(nil)
			if i := slices.Index(opts, "--"); i >= 0 {
				opts, args = opts[:i], opts[i+1:]
			}
			id := startDaemonContainer(t, d, tt.name, opts, args...)
			if got := waitClient(t, d, id, tt.job...); got != tt.want {
				t.Errorf("docker %q = %q, want %q", tt.job, got, tt.want)
			}
			t.Logf("%s: the job reached the inner dockerd %v after the daemon container started", tt.name, time.Since(start).Round(time.Millisecond))
		})
	}
}
