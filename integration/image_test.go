package integration

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ory/dockertest/v3/docker"

	"github.com/envbox/envbox/integration/cgtest"
)

const (
	// imageRepo is the envbox image built from ../Dockerfile.
	imageRepo = "envbox-test/envbox"
	// dindBaseImage is the imported debootstrap rootfs with docker.io,
	// iptables and procps: the offline BASE_IMAGE.
	dindBaseImage = "envbox-test/dind"
	// timeoutBuild bounds one docker CLI call (build, run).
	timeoutBuild = 5 * time.Minute
)

// imageCLIPath is the docker client that can build with BuildKit:
// Debian's docker.io client (20.10) has it built in, a newer client needs
// the buildx plugin, which the test machine may lack.
func imageCLIPath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/docker"); err == nil {
		return "/usr/bin/docker"
	}
	p, err := exec.LookPath("docker")
	if err != nil {
		cgtest.Unavailable(t, "image test: no docker client (integration/deps.sh installs docker.io): %v", err)
	}
	return p
}

// imageCLI runs the docker client against d with BuildKit on and returns
// stdout, stderr and the exit status.
func imageCLI(t *testing.T, d *daemon, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeoutBuild)
	defer cancel()
	cmd := exec.CommandContext(ctx, imageCLIPath(t), args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.sock(), "DOCKER_BUILDKIT=1", "DOCKER_CONFIG="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("docker %q: %v\n%s", args, err, stderr.String())
	}
	return stdout.String(), stderr.String(), 0
}

// buildContext is a directory with the repository's Dockerfile and
// .dockerignore and the envbox binary under test as bin/envbox.
func buildContext(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{
		"../Dockerfile": "Dockerfile", "../.dockerignore": ".dockerignore", envboxBinary(t): "bin/envbox",
		"../image/dockerd-entrypoint.sh": "image/dockerd-entrypoint.sh", "../image/docker-entrypoint.sh": "image/docker-entrypoint.sh",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, dst)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestImage builds the image offline under a dockerd that runs under
// envbox (BuildKit, the prebuilt binary, the imported Debian base with
// docker.io) and runs `envbox --version` and `envbox doctor --json` in it.
func TestImage(t *testing.T) {
	requireDockerd(t)
	d, _ := startEnvboxDockerd(t)
	buildImage(t, d)

	t.Run("config", func(t *testing.T) { checkImageConfig(t, d) })
	t.Run("version", func(t *testing.T) {
		want, err := exec.Command(envboxBinary(t), "--version").Output()
		if err != nil {
			t.Fatal(err)
		}
		got, stderr, code := imageCLI(t, d, "run", "--rm", "--network=none", "--entrypoint=envbox", imageRepo, "--version")
		if code != 0 || got != string(want) {
			t.Errorf("envbox --version in the image: exit %d, %q (stderr %q); want 0, %q", code, got, stderr, want)
		}
	})
	t.Run("tools", func(t *testing.T) {
		got, stderr, code := imageCLI(t, d, "run", "--rm", "--network=none", "--entrypoint=/bin/sh", imageRepo,
			"-c", "for b in envbox dockerd-entrypoint.sh docker-entrypoint.sh docker dockerd unshare iptables ps; do command -v $b; done; stat -c '%a %U %n' /certs /certs/client")
		want := "/usr/local/bin/envbox\n/usr/local/bin/dockerd-entrypoint.sh\n/usr/local/bin/docker-entrypoint.sh\n" +
			"/usr/bin/docker\n/usr/sbin/dockerd\n/usr/bin/unshare\n/usr/sbin/iptables\n/usr/bin/ps\n" +
			"1777 root /certs\n1777 root /certs/client\n"
		if code != 0 || got != want {
			t.Errorf("tools in the image: exit %d, %q (stderr %q); want 0, %q", code, got, stderr, want)
		}
	})
	t.Run("sysbox_deb", func(t *testing.T) { checkSysboxDeb(t, d) })
	t.Run("doctor", func(t *testing.T) {
		out, stderr, code := imageCLI(t, d, "run", "--rm", "--network=none", "--entrypoint=envbox", imageRepo, "doctor", "--json")
		if code != 0 {
			t.Fatalf("envbox doctor --json in the image: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
		}
		r := decodeDoctor(t, out)
		if r.Mode != "v2" || r.NamespaceRoot != "/" || r.PodCgroup != "/" || len(r.Offenders) != 0 {
			t.Errorf("mode %q, cgroupns root %q, pod cgroup %q, offenders %q; want v2, /, /, none\n%s",
				r.Mode, r.NamespaceRoot, r.PodCgroup, r.Offenders, out)
		}
		if len(r.Subjects) != 1 || r.Subjects[0].PID != 1 || r.Subjects[0].Cgroup != "/" || !r.Subjects[0].Attributed || r.Subjects[0].CgroupID == 0 {
			t.Errorf("subjects %+v, want envbox as pid 1 at / with a cgroup ID", r.Subjects)
		}
		t.Logf("envbox doctor --json in the image:\n%s", out)
	})
}

// buildImage builds imageRepo offline in d: the imported Debian base with
// docker.io, the envbox binary under test, RUN steps without a network (the
// harness dockerd may have no bridge).
func buildImage(t *testing.T, d *daemon) {
	t.Helper()
	importImage(t, d.pool, imageTarball(t, "dind"), dindBaseImage)
	start := time.Now()
	out, stderr, code := imageCLI(t, d, "build", "--network=none", "--build-arg", "ENVBOX_BIN=prebuilt", "--build-arg", "PACKAGES=preinstalled",
		"--build-arg", "BASE_IMAGE="+dindBaseImage, "-t", imageRepo, buildContext(t))
	if code != 0 {
		t.Fatalf("docker build: exit %d\n%s\n%s", code, out, stderr)
	}
	t.Logf("built %s in %v", imageRepo, time.Since(start).Round(time.Millisecond))
}

// checkImageConfig: entrypoint, default command, environment, volume and
// ports as docker:dind users expect them.
func checkImageConfig(t *testing.T, d *daemon) {
	t.Helper()
	img, err := d.pool.Client.InspectImage(imageRepo)
	if err != nil {
		t.Fatal(err)
	}
	c := img.Config
	if !slices.Equal(c.Entrypoint, []string{"dockerd-entrypoint.sh"}) || len(c.Cmd) != 0 {
		t.Errorf("entrypoint %q, cmd %q; want [dockerd-entrypoint.sh], [] (docker:dind's)", c.Entrypoint, c.Cmd)
	}
	if !slices.Contains(c.Env, "DOCKER_TLS_CERTDIR=/certs") {
		t.Errorf("env %q lacks DOCKER_TLS_CERTDIR=/certs", c.Env)
	}
	if _, ok := c.Volumes["/var/lib/docker"]; !ok || len(c.Volumes) != 1 {
		t.Errorf("volumes %v, want only /var/lib/docker", c.Volumes)
	}
	if got := slices.Sorted(maps.Keys(c.ExposedPorts)); !slices.Equal(got, []docker.Port{"2375/tcp", "2376/tcp"}) {
		t.Errorf("exposed ports %q, want [2375/tcp 2376/tcp]", got)
	}
	if h := c.Healthcheck; h == nil || !slices.Equal(h.Test, []string{"CMD", "envbox", "health"}) {
		t.Errorf("healthcheck %+v, want CMD envbox health", h)
	}
	if got := strings.Join(c.Env, " "); !strings.Contains(got, "PATH=") {
		t.Errorf("env %q has no PATH from the base image", got)
	}
}

// checkSysboxDeb builds with SYSBOX_DEB naming a stand-in sysbox-ce package
// without dependencies (dpkg installs it offline) and finds it installed.
func checkSysboxDeb(t *testing.T, d *daemon) {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		cgtest.Unavailable(t, "sysbox .deb build arg: dpkg-deb not installed: %v", err)
	}
	dir := buildContext(t)
	pkg := t.TempDir()
	files := map[string]string{
		"DEBIAN/control":     "Package: sysbox-ce\nVersion: 0.0.0-envbox-test\nArchitecture: all\nMaintainer: envbox tests <test@invalid>\nDescription: stand-in for the sysbox-ce package\n",
		"usr/bin/sysbox-mgr": "#!/bin/sh\necho stand-in sysbox-mgr\n",
	}
	for name, data := range files {
		p := filepath.Join(pkg, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", pkg, filepath.Join(dir, "sysbox.deb")).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
	}
	out, stderr, code := imageCLI(t, d, "build", "--network=none", "--build-arg", "ENVBOX_BIN=prebuilt", "--build-arg", "PACKAGES=preinstalled",
		"--build-arg", "BASE_IMAGE="+dindBaseImage, "--build-arg", "SYSBOX_DEB=sysbox.deb", "-t", imageRepo+"-sysbox", dir)
	if code != 0 {
		t.Fatalf("docker build with SYSBOX_DEB: exit %d\n%s\n%s", code, out, stderr)
	}
	got, stderr, code := imageCLI(t, d, "run", "--rm", "--network=none", "--entrypoint=/bin/sh", imageRepo+"-sysbox",
		"-c", "dpkg-query -W -f='${Status} ${Version}\n' sysbox-ce; command -v sysbox-mgr; test -e /tmp/sysbox.deb || echo removed")
	want := "install ok installed 0.0.0-envbox-test\n/usr/bin/sysbox-mgr\nremoved\n"
	if code != 0 || got != want {
		t.Errorf("sysbox in the image: exit %d, %q (stderr %q); want 0, %q", code, got, stderr, want)
	}
}
