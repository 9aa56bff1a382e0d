package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"
)

// dindImage is the imported debootstrap image with docker.io, iptables and
// procps: the outer container of the Docker-in-Docker test.
const dindImage = "envbox-test/dind"

// TestEnvboxDockerInDocker: an outer container runs `envbox dind` with its
// own dockerd; a container of that inner dockerd lives, as the host sees
// it, at <pod>/docker/<outer>/docker/<inner>.
func TestEnvboxDockerInDocker(t *testing.T) {
	requireDockerd(t)
	inner := shortTempDir(t) // before the cgroup: removed after it
	for _, sub := range []string{"data", "sock"} {
		if err := os.Mkdir(filepath.Join(inner, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d, cg := startEnvboxDockerd(t)
	pod := testRel(cg) + "/pod"
	importImage(t, d.pool, imageTarball(t, "dind"), dindImage)
	base := imageTarball(t, "base")

	outer := runContainer(t, d.pool, dindImage, []string{
		"/envbox", "dind", "--stop-grace=20s", "--", "dockerd",
		"--host=unix:///sock/docker.sock", "--data-root=/var/lib/docker",
		"--storage-driver=overlay2", "--bridge=none", "--iptables=false", "--ip6tables=false",
	}, func(o *docker.CreateContainerOptions) {
		o.Config.Env = []string{"ENVBOX_LOG_FORMAT=human"}
		o.Config.StopTimeout = 25
		o.HostConfig.CapAdd = []string{"ALL"}
		o.HostConfig.CapDrop = []string{"SYS_RESOURCE"}
		o.HostConfig.SecurityOpt = []string{"seccomp=unconfined", "apparmor=unconfined"}
		o.HostConfig.Tmpfs = map[string]string{"/run": "", "/tmp": ""}
		o.HostConfig.Binds = []string{
			envboxBinary(t) + ":/envbox:ro",
			filepath.Join(inner, "data") + ":/var/lib/docker",
			filepath.Join(inner, "sock") + ":/sock",
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("outer container %s output:\n%s", outer.ID[:12], containerLogs(d.pool, outer.ID))
		}
	})

	innerPool, err := dockertest.NewPool("unix://" + filepath.Join(inner, "sock", "docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	poll(t, timeoutStart, "inner dockerd API", func() error { return notRunning(d.pool, outer.ID) }, innerPool.Client.Ping)
	t.Logf("inner dockerd answered %v after the outer container started", time.Since(start).Round(time.Millisecond))

	importImage(t, innerPool, base, baseImage)
	argv := sleeper(t)
	c := runContainer(t, innerPool, baseImage, argv, nil)
	pid := onlyProc(t, argv)
	got, err := hostCgroup(pid)
	want := pod + "/docker/" + outer.ID + "/docker/" + c.ID
	if err != nil || got != want {
		t.Fatalf("inner container %s process %d host cgroup = %q, %v; want %q", c.ID[:12], pid, got, err, want)
	}
	id, err := cgroupID(got)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("envbox in envbox: inner container pid %d in %s (cgroup ID %d)", pid, got, id)
}

// notRunning is an abort check for polls: the container has exited.
func notRunning(pool *dockertest.Pool, id string) error {
	c, err := pool.Client.InspectContainer(id)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return fmt.Errorf("container %s exited: status %d, %s", id[:12], c.State.ExitCode, c.State.Error)
	}
	return nil
}

// containerLogs returns a container's stdout and stderr, or the error.
func containerLogs(pool *dockertest.Pool, id string) string {
	var out bytes.Buffer
	err := pool.Client.Logs(docker.LogsOptions{
		Container: id, OutputStream: &out, ErrorStream: &out, Stdout: true, Stderr: true, Tail: "200",
	})
	if err != nil {
		return fmt.Sprintf("(logs of %s: %v)", id, err)
	}
	return out.String()
}
