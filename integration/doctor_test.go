package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envbox/envbox/integration/cgtest"
)

// doctorReport is the part of `envbox doctor --json` these tests check.
type doctorReport struct {
	Mode          string `json:"cgroup_mode"`
	NamespaceRoot string `json:"cgroupns_root"`
	HostRoot      string `json:"host_cgroup_root"`
	PodCgroup     string `json:"pod_cgroup"`
	Delegation    struct {
		Delegated   bool `json:"delegated"`
		InitPresent bool `json:"init_present"`
	} `json:"delegation"`
	Subjects []struct {
		Kind       string `json:"kind"`
		Name       string `json:"name"`
		ID         string `json:"id"`
		PID        int    `json:"pid"`
		Cgroup     string `json:"cgroup"`
		HostCgroup string `json:"host_cgroup"`
		CgroupID   uint64 `json:"cgroup_id"`
		Attributed bool   `json:"attributed"`
	} `json:"subjects"`
	Offenders []string `json:"offenders"`
}

// runDoctor runs `envbox doctor ARGS` in the mount and cgroup namespaces of
// pid (the pod's view: its cgroup2 mount, its cgroup paths) with nsenter,
// and returns stdout, stderr and the exit status.
func runDoctor(t *testing.T, pid int, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	argv := append([]string{"-t", strconv.Itoa(pid), "-m", "-C", "--", envboxBinary(t), "doctor"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("nsenter %q: %v\n%s", argv, err, stderr.String())
	}
	return stdout.String(), stderr.String(), 0
}

func decodeDoctor(t *testing.T, out string) doctorReport {
	t.Helper()
	var r doctorReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("decode doctor --json: %v\n%s", err, out)
	}
	return r
}

// TestDoctorAttributed: under `envbox dind`, doctor (in the pod's
// namespaces) finds the delegation, puts envbox at /pod/init and the
// container at /pod/docker/<id>, gives the host paths and cgroup IDs the
// host itself reads, and exits 0.
func TestDoctorAttributed(t *testing.T) {
	requireDockerd(t)
	if _, err := exec.LookPath("nsenter"); err != nil {
		cgtest.Unavailable(t, "doctor test: nsenter not installed (util-linux): %v", err)
	}
	d, cg := startEnvboxDockerd(t)
	pod := testRel(cg) + "/pod"
	importImage(t, d.pool, imageTarball(t, "base"), baseImage)
	argv := sleeper(t)
	c := runContainer(t, d.pool, baseImage, argv, nil)
	cpid := onlyProc(t, argv)
	envbox := d.pod.cmd.Process.Pid
	flags := []string{"--host=unix://" + d.sock(), "--pid=" + strconv.Itoa(envbox), "--host-cgroup-root=" + pod}

	out, stderr, code := runDoctor(t, envbox, append(flags, "--json")...)
	if code != 0 {
		t.Fatalf("envbox doctor --json: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	r := decodeDoctor(t, out)
	if r.Mode != "v2" || r.NamespaceRoot != "/pod" || r.HostRoot != pod || r.PodCgroup != "/pod" {
		t.Errorf("mode %q, cgroupns root %q, host root %q, pod cgroup %q; want v2, /pod, %s, /pod", r.Mode, r.NamespaceRoot, r.HostRoot, r.PodCgroup, pod)
	}
	if !r.Delegation.Delegated || !r.Delegation.InitPresent || len(r.Offenders) != 0 {
		t.Errorf("delegated %v, init present %v, offenders %q; want true, true, none", r.Delegation.Delegated, r.Delegation.InitPresent, r.Offenders)
	}
	if len(r.Subjects) != 2 {
		t.Fatalf("subjects %+v, want envbox and one container", r.Subjects)
	}
	e, ctr := r.Subjects[0], r.Subjects[1]
	if e.Kind != "envbox" || e.PID != envbox || e.Cgroup != "/pod/init" || e.HostCgroup != pod+"/init" || !e.Attributed {
		t.Errorf("envbox subject %+v, want pid %d at /pod/init = %s/init", e, envbox, pod)
	}
	wantHost := pod + "/docker/" + c.ID
	if ctr.ID != c.ID || ctr.PID != cpid || ctr.Cgroup != "/pod/docker/"+c.ID || ctr.HostCgroup != wantHost || !ctr.Attributed {
		t.Errorf("container subject %+v, want %s pid %d at /pod/docker/<id> = %s", ctr, c.ID[:12], cpid, wantHost)
	}
	if got, err := hostCgroup(cpid); err != nil || got != ctr.HostCgroup {
		t.Errorf("host reads container pid %d in %q (%v), doctor says %q", cpid, got, err, ctr.HostCgroup)
	}
	if id, err := cgroupID(wantHost); err != nil || id != ctr.CgroupID {
		t.Errorf("host cgroup ID of %s = %d (%v), doctor says %d", wantHost, id, err, ctr.CgroupID)
	}

	human, stderr, code := runDoctor(t, envbox, flags...)
	if code != 0 {
		t.Fatalf("envbox doctor: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, human, stderr)
	}
	t.Logf("envbox doctor (human):\n%s", human)
}

// TestDoctorEscapedContainer: the broken case. dockerd started directly in
// the pod (no envbox) creates its container beside the pod, at
// <test cgroup>/docker/<id>; doctor pointed at dockerd as the pod's process
// exits 1 and names the container. (Under envbox no --cgroup-parent can do
// this: dockerd's cgroup namespace is the pod, so every path it can name is
// below it.)
func TestDoctorEscapedContainer(t *testing.T) {
	requireDockerd(t)
	if _, err := exec.LookPath("nsenter"); err != nil {
		cgtest.Unavailable(t, "doctor test: nsenter not installed (util-linux): %v", err)
	}
	d, _ := startBareDockerd(t)
	importImage(t, d.pool, imageTarball(t, "base"), baseImage)
	argv := sleeper(t)
	c := runContainer(t, d.pool, baseImage, argv, nil)
	cpid := onlyProc(t, argv)
	dpid, err := d.dockerdPid()
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runDoctor(t, dpid, "--json", "--host=unix://"+d.sock(), "--pid="+strconv.Itoa(dpid))
	if code != 1 {
		t.Fatalf("envbox doctor --json: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	r := decodeDoctor(t, out)
	ins, err := d.pool.Client.InspectContainer(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"container " + strings.TrimPrefix(ins.Name, "/") + " (" + c.ID[:12] + ", pid " + strconv.Itoa(cpid) +
		"): cgroup /docker/" + c.ID + " is not below the pod cgroup /pod"}
	if !slices.Equal(r.Offenders, want) {
		t.Errorf("offenders %q, want %q", r.Offenders, want)
	}
	if r.PodCgroup != "/pod" || r.Delegation.Delegated {
		t.Errorf("pod cgroup %q, delegated %v; want /pod, false", r.PodCgroup, r.Delegation.Delegated)
	}
	wantErr := "envbox: 1 not attributed: " + want[0] + "\n"
	if stderr != wantErr {
		t.Errorf("stderr %q, want %q", stderr, wantErr)
	}
	human, _, code := runDoctor(t, dpid, "--host=unix://"+d.sock(), "--pid="+strconv.Itoa(dpid))
	if code != 1 {
		t.Errorf("envbox doctor: exit %d, want 1\n%s", code, human)
	}
	t.Logf("envbox doctor (human):\n%s", human)
}
