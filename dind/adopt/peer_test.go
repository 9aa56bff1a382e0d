package adopt

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"github.com/envbox/envbox/integration/cgtest"
)

// Helper modes of the test binary, run as a child inside a test cgroup.
const (
	envConnect = "ADOPT_TEST_CONNECT" // connect, then hold until EOF or exit at once
	envHold    = "ADOPT_TEST_HOLD"
	envCreate  = "ADOPT_TEST_CREATE" // POST a create through the socket
)

func TestMain(m *testing.M) {
	if sock := os.Getenv(envConnect); sock != "" {
		os.Exit(helperConnect(sock, os.Getenv(envHold) != ""))
	}
	if sock := os.Getenv(envCreate); sock != "" {
		os.Exit(helperCreate(sock))
	}
	os.Exit(m.Run())
}

func helperConnect(sock string, hold bool) int {
	c, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if hold {
		_, _ = io.Copy(io.Discard, c)
	}
	return 0
}

func helperCreate(sock string) int {
	code, body, err := postCreate(client(sock), `{"Image":"debian"}`)
	fmt.Printf("%d %s", code, body)
	if err != nil || code != http.StatusCreated {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func postCreate(hc *http.Client, body string) (int, string, error) {
	resp, err := hc.Post("http://docker/v1.47/containers/create", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// childInCgroup starts the test binary in helper mode inside a fresh test
// cgroup (CLONE_INTO_CGROUP, own cgroup namespace) and returns it with the
// cgroup's path as this process reads it ("/envbox-test-<hex>": this shell is
// at the cgroup2 root of /sys/fs/cgroup/unified).
func childInCgroup(t *testing.T, env ...string) (*cgtestChild, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("creates a cgroup: not in -short (make unit)")
	}
	cg := cgtest.New(t)
	rel, err := filepath.Rel(cgtest.Root, cg.Path)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(self), "\n0::/\n") && !strings.HasPrefix(string(self), "0::/\n") {
		t.Skipf("test process is not at the cgroup2 root (/proc/self/cgroup %q): the child's path would not be /%s", self, rel)
	}
	cmd := cg.Command(context.Background(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &cgtestChild{cmd: cmd, out: out}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = c.wait() })
	return c, "/" + rel
}

// TestPeerCredsRealKernel: SO_PEERCRED and SO_PEERPIDFD name the child that
// connected, and its cgroup is read in full from our cgroup namespace
// although the child has its own.
func TestPeerCredsRealKernel(t *testing.T) {
	sock := filepath.Join(shortDir(t), "p.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	child, rel := childInCgroup(t, envConnect+"="+sock, envHold+"=1")
	c, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := &Proxy{Fs: afero.NewOsFs()}
	pr := p.identify(c, direct)
	if pr.err != nil {
		t.Fatalf("identify: %v", pr.err)
	}
	if int(pr.PID) != child.cmd.Process.Pid || pr.UID != int32(os.Getuid()) {
		t.Errorf("creds pid %d uid %d, want pid %d uid %d", pr.PID, pr.UID, child.cmd.Process.Pid, os.Getuid())
	}
	got, err := peerPath(pr.cgroups, Driver{Name: "cgroupfs", Version: "2"})
	if err != nil || got != rel {
		t.Errorf("peer cgroup = %q, %v; want %q", got, err, rel)
	}
	cr, err := PeerCreds(c)
	if err != nil || cr.PidFD < 0 {
		t.Errorf("PeerCreds = %+v, %v; want a pidfd on kernel >= 6.5", cr, err)
	}
}

// TestPeerExitedRealKernel: a peer that connected and exited before the
// proxy looked is refused, never guessed.
func TestPeerExitedRealKernel(t *testing.T) {
	sock := filepath.Join(shortDir(t), "p.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	child, _ := childInCgroup(t, envConnect+"="+sock)
	if err := child.wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, child.out)
	}
	c, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pr := (&Proxy{Fs: afero.NewOsFs()}).identify(c, direct)
	pid := child.cmd.Process.Pid
	// Kernels before pidfs hand out no pidfd for a reaped process (ESRCH,
	// or EINVAL up to about 6.15); newer ones do, and /proc/<pid> is then
	// gone.
	wants := []string{
		fmt.Sprintf("calling process pid %d has exited (/proc/%d/cgroup is gone)", pid, pid),
		fmt.Sprintf("identify the calling process: getsockopt SO_PEERPIDFD for pid %d on kernel %s: no such process: "+
			"the calling process cannot be told from one reusing its pid", pid, kernelRelease()),
		fmt.Sprintf("identify the calling process: getsockopt SO_PEERPIDFD for pid %d on kernel %s: invalid argument: "+
			"the calling process cannot be told from one reusing its pid", pid, kernelRelease()),
	}
	if got := errString(pr.err); got != wants[0] && got != wants[1] && got != wants[2] {
		t.Errorf("identify of an exited peer: %q, want one of %q", got, wants)
	}
}

// TestProxyRealPeer: a process in its own cgroup creates a container
// through the proxy; dockerd (fake) receives that cgroup as CgroupParent.
func TestProxyRealPeer(t *testing.T) {
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, "", func(p *Proxy) { p.Creds, p.Fs = nil, afero.NewOsFs() })
	child, rel := childInCgroup(t, envCreate+"="+p.sock)
	if err := child.wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, child.out)
	}
	if got, want := up.lastBody(), `{"Image":"debian","HostConfig":{"CgroupParent":"`+rel+`"}}`; got != want {
		t.Errorf("dockerd received %s, want %s", got, want)
	}
}

// TestWithCgroupNSRealKernel: a caller's cgroup read from inside another
// cgroup namespace is relative to that namespace's root, and the thread
// comes back to ours.
func TestWithCgroupNSRealKernel(t *testing.T) {
	sock := filepath.Join(shortDir(t), "p.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	child, rel := childInCgroup(t, envConnect+"="+sock, envHold+"=1")
	c, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pid := child.cmd.Process.Pid
	ns := fmt.Sprintf("/proc/%d/ns/cgroup", pid)
	read := func() (string, error) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		return string(b), err
	}
	var inside string
	if err := withCgroupNS(ns, func() (err error) { inside, err = read(); return err }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(inside, "\n0::/\n") && !strings.HasPrefix(inside, "0::/\n") {
		t.Errorf("child's /proc/%d/cgroup read in its namespace = %q, want a 0::/ line", pid, inside)
	}
	outside, err := read()
	if err != nil || !strings.Contains(outside, "0::"+rel+"\n") {
		t.Errorf("child's /proc/%d/cgroup read back in ours = %q, %v; want a 0::%s line", pid, outside, err, rel)
	}
	// The proxy's path: dockerd is the child here.
	pr := (&Proxy{Fs: afero.NewOsFs(), Creds: func(*net.UnixConn) (Creds, error) {
		return Creds{PID: int32(pid), PidFD: -1}, nil
	}}).identify(nil, func(r func() error) error { return inDockerdNS(c, r) })
	got, err := peerPath(pr.cgroups, Driver{Name: "cgroupfs", Version: "2"})
	if pr.err != nil || err != nil || got != "/" {
		t.Errorf("caller = dockerd-side child: cgroup %q, %v, %v; want \"/\"", got, pr.err, err)
	}
}
