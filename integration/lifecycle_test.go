package integration

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestEnvboxRestartsKilledDockerd: SIGKILL dockerd; envbox starts it again
// through the delegation wrapper. The new dockerd is envbox's child, sits in
// <pod>/init, answers on the socket, and its containers still land in
// <pod>/docker/<id>.
func TestEnvboxRestartsKilledDockerd(t *testing.T) {
	requireDockerd(t)
	d, cg := startEnvboxDockerd(t)
	pod := testRel(cg) + "/pod"
	envboxPid := d.pod.cmd.Process.Pid
	if exe, err := exeBase(envboxPid); err != nil || exe != filepath.Base(envboxBinary(t)) {
		t.Fatalf("pod payload pid %d runs %q, %v; want %s", envboxPid, exe, err, envboxBinary(t))
	}
	old, err := d.dockerdPid()
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -KILL dockerd %d: %v", old, err)
	}
	var pid int
	poll(t, timeoutStart, "a new dockerd after SIGKILL of "+fmt.Sprint(old), d.podExited, func() error {
		var err error
		if pid, err = d.dockerdPid(); err != nil {
			return err
		}
		if pid == old {
			return fmt.Errorf("pid file still names the killed dockerd %d", old)
		}
		if exe, err := exeBase(pid); err != nil || exe != "dockerd" {
			return fmt.Errorf("pid file names %d running %q, %v", pid, exe, err)
		}
		return d.pool.Client.Ping()
	})
	t.Logf("dockerd %d killed; dockerd %d answers after %v", old, pid, time.Since(killed).Round(time.Millisecond))

	if ppid, err := parentPid(pid); err != nil || ppid != envboxPid {
		t.Errorf("new dockerd %d parent = %d, %v; want envbox %d", pid, ppid, err, envboxPid)
	}
	if got, err := hostCgroup(pid); err != nil || got != pod+"/init" {
		t.Errorf("new dockerd %d host cgroup = %q, %v; want %q", pid, got, err, pod+"/init")
	}
	importImage(t, d.pool, imageTarball(t, "base"), baseImage)
	argv := sleeper(t)
	c := runContainer(t, d.pool, baseImage, argv, nil)
	cpid := onlyProc(t, argv)
	want := pod + "/docker/" + c.ID
	if got, err := hostCgroup(cpid); err != nil || got != want {
		t.Errorf("container after restart: process %d host cgroup = %q, %v; want %q", cpid, got, err, want)
	} else {
		t.Logf("after restart: dockerd pid %d in %s; container pid %d in %s", pid, pod+"/init", cpid, got)
	}
}

// TestEnvboxSIGTERMStopsEverything: SIGTERM to envbox stops the containers
// and dockerd, envbox exits 0, nothing is left in the test cgroup and every
// cgroup below it can be removed without killing anything.
func TestEnvboxSIGTERMStopsEverything(t *testing.T) {
	requireDockerd(t)
	d, cg := startEnvboxDockerd(t)
	importImage(t, d.pool, imageTarball(t, "base"), baseImage)
	argv := sleeper(t)
	runContainer(t, d.pool, baseImage, argv, nil)
	onlyProc(t, argv)

	start := time.Now()
	if err := d.pod.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM envbox: %v", err)
	}
	select {
	case <-d.pod.done:
	case <-time.After(stopGrace + 5*time.Second):
		t.Fatalf("envbox still running %v after SIGTERM", stopGrace+5*time.Second)
	}
	if d.pod.err != nil {
		t.Errorf("envbox after SIGTERM: %v, want exit status 0", d.pod.err)
	}
	t.Logf("envbox exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	poll(t, 10*time.Second, "empty test cgroup after envbox exit", nil, func() error {
		pids, err := subtreeProcs(cg)
		if err != nil || len(pids) > 0 {
			return fmt.Errorf("processes left under %s: %v (err %v)", cg.Path, pids, err)
		}
		return nil
	})
	if err := rmdirBelow(cg.Path); err != nil {
		t.Error(err)
	}
}

// rmdirBelow removes every cgroup below root, deepest first, without
// killing anything: it fails when one is still in use.
func rmdirBelow(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.IsDir() && p != root {
			dirs = append(dirs, p)
		}
		return err
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if rerr := syscall.Rmdir(dirs[i]); rerr != nil {
			err = errors.Join(err, fmt.Errorf("rmdir %s: %w", dirs[i], rerr))
		}
	}
	return err
}
