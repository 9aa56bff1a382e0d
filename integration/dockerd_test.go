package integration

import (
	"strings"
	"testing"
)

// TestEnvboxContainerInPodCgroup: under `envbox dind`, a container's
// processes live at <test cgroup>/pod/docker/<id> as the host sees it, and
// dockerd itself at <test cgroup>/pod/init.
func TestEnvboxContainerInPodCgroup(t *testing.T) {
	requireDockerd(t)
	d, cg := startEnvboxDockerd(t)
	pod := testRel(cg) + "/pod"

	info := dockerInfo(t, d.sock())
	if info["CgroupVersion"] != "2" || info["CgroupDriver"] != "cgroupfs" {
		t.Errorf("docker info: CgroupVersion %v, CgroupDriver %v; want 2, cgroupfs", info["CgroupVersion"], info["CgroupDriver"])
	}
	dpid, err := d.dockerdPid()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := hostCgroup(dpid); err != nil || got != pod+"/init" {
		t.Errorf("dockerd (pid %d) host cgroup = %q, %v; want %q", dpid, got, err, pod+"/init")
	}

	importImage(t, d.pool, imageTarball(t, "base"), baseImage)
	argv := sleeper(t)
	c := runContainer(t, d.pool, baseImage, argv, nil)
	pid := onlyProc(t, argv)
	got, err := hostCgroup(pid)
	want := pod + "/docker/" + c.ID
	if err != nil || got != want {
		t.Fatalf("container %s process %d host cgroup = %q, %v; want %q", c.ID[:12], pid, got, err, want)
	}
	id, err := cgroupID(got)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("envbox: dockerd pid %d in %s; container pid %d in %s (cgroup ID %d)", dpid, pod+"/init", pid, got, id)
	if !strings.HasPrefix(got, pod+"/") {
		t.Errorf("container cgroup %q is not under the pod cgroup %q", got, pod)
	}
}

// TestBaselineWithoutEnvboxEscapesPod: the same pod, dockerd started
// directly. It sees the test cgroup as the cgroup root (the node, for a pod
// sharing the node's cgroup namespace) and creates its containers at
// <test cgroup>/docker/<id>: outside the pod's cgroup. Nothing leaves the
// test cgroup, which cgtest removes.
func TestBaselineWithoutEnvboxEscapesPod(t *testing.T) {
	requireDockerd(t)
	d, cg := startBareDockerd(t)
	node, pod := testRel(cg), testRel(cg)+"/pod"

	dpid, err := d.dockerdPid()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := hostCgroup(dpid); err != nil || got != pod {
		t.Errorf("dockerd (pid %d) host cgroup = %q, %v; want %q", dpid, got, err, pod)
	}
	importImage(t, d.pool, imageTarball(t, "base"), baseImage)
	argv := sleeper(t)
	c := runContainer(t, d.pool, baseImage, argv, nil)
	pid := onlyProc(t, argv)
	got, err := hostCgroup(pid)
	want := node + "/docker/" + c.ID
	if err != nil || got != want {
		t.Fatalf("container %s process %d host cgroup = %q, %v; want %q", c.ID[:12], pid, got, err, want)
	}
	id, err := cgroupID(got)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("without envbox: dockerd pid %d in %s; container pid %d in %s (cgroup ID %d), outside the pod %s", dpid, pod, pid, got, id, pod)
	if strings.HasPrefix(got, pod+"/") {
		t.Errorf("container cgroup %q is under the pod cgroup %q: the baseline no longer shows the escape", got, pod)
	}
}
