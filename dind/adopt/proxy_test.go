package adopt

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// cgroupV2Pod is /proc/<pid>/cgroup of a process in an inner container, as
// read from the delegated cgroup namespace (envbox dind on a v2 node).
const cgroupV2Pod = "0::/docker/3f1c9a\n"

func TestProxyCreateSetsCgroupParent(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	code, body := do(t, client(p.sock), "POST", "/v1.47/containers/create?name=web",
		`{"Image":"debian","HostConfig":{"Memory":0,"Binds":null}}`)
	if code != http.StatusCreated || body != "{\"Id\":\"4b2f\",\"Warnings\":[]}\n" {
		t.Errorf("create = %d %q, want 201 {\"Id\":\"4b2f\",\"Warnings\":[]}", code, body)
	}
	want := `{"Image":"debian","HostConfig":{"Memory":0,"Binds":null,"CgroupParent":"/docker/3f1c9a"}}`
	if got := up.lastBody(); got != want {
		t.Errorf("dockerd received\n%s\nwant\n%s", got, want)
	}
}

func TestProxyCreateRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, cgroupFile, driver, body string
		wantCode                       int
		wantBody                       string
	}{{
		name:       "other_cgroup_parent_strict",
		cgroupFile: cgroupV2Pod,
		driver:     "cgroupfs",
		body:       `{"Image":"debian","HostConfig":{"CgroupParent":"/evil"}}`,
		wantCode:   400,
		wantBody: `{"message":"envbox adopt-proxy: container create from pid 4242 refused: HostConfig.CgroupParent \"/evil\" ` +
			`conflicts with the cgroup of the calling process \"/docker/3f1c9a\": envbox adopt-proxy places containers in their ` +
			`creator's cgroup; omit CgroupParent or set it to \"/docker/3f1c9a\""}` + "\n",
	}, {
		name:     "exited_pid",
		driver:   "cgroupfs",
		body:     `{"Image":"debian"}`,
		wantCode: 403,
		wantBody: `{"message":"envbox adopt-proxy: container create from pid 4242 refused: calling process pid 4242 has exited (/proc/4242/cgroup is gone)"}` + "\n",
	}, {
		name:       "unreadable_cgroup_file",
		cgroupFile: "garbage\n",
		driver:     "cgroupfs",
		body:       `{"Image":"debian"}`,
		wantCode:   403,
		wantBody: `{"message":"envbox adopt-proxy: container create from pid 4242 refused: read cgroup of calling process pid 4242: ` +
			`parse /proc/4242/cgroup line 1 \"garbage\": want ID:controllers:path"}` + "\n",
	}, {
		name:       "outside_namespace",
		cgroupFile: "0::/../../kubepods/burstable/pod1\n",
		driver:     "cgroupfs",
		body:       `{"Image":"debian"}`,
		wantCode:   403,
		wantBody: `{"message":"envbox adopt-proxy: container create from pid 4242 refused: calling process pid 4242: ` +
			`peer cgroup \"/../../kubepods/burstable/pod1\": cgroup is outside this cgroup namespace"}` + "\n",
	}, {
		name:       "driver_none",
		cgroupFile: cgroupV2Pod,
		driver:     "none",
		body:       `{"Image":"debian"}`,
		wantCode:   502,
		wantBody: `{"message":"envbox adopt-proxy: container create from pid 4242 refused: dockerd cgroup driver \"none\": ` +
			`containers cannot be placed in a cgroup"}` + "\n",
	}, {
		name:       "duplicate_host_config",
		cgroupFile: cgroupV2Pod,
		driver:     "cgroupfs",
		body:       `{"Image":"debian","HostConfig":{},"hostconfig":{"CgroupParent":"/evil"}}`,
		wantCode:   400,
		wantBody: `{"message":"envbox adopt-proxy: container create from pid 4242 refused: parse container create body: ` +
			`member \"HostConfig\" appears twice (as \"HostConfig\" and \"hostconfig\")"}` + "\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := startFakeDockerd(t, tt.driver)
			p := startProxy(t, up, tt.cgroupFile, nil)
			hc := client(p.sock)
			code, body := do(t, hc, "POST", "/v1.47/containers/create", tt.body)
			if code != tt.wantCode || body != tt.wantBody {
				t.Errorf("create %s = %d\n%s\nwant %d\n%s", tt.body, code, body, tt.wantCode, tt.wantBody)
			}
			if n := up.creates.Load(); n != 0 {
				t.Errorf("dockerd saw %d creates, want 0", n)
			}
			// The connection survives a refusal.
			if code, body := do(t, hc, "GET", "/_ping", ""); code != 200 || body != "OK" {
				t.Errorf("ping after refusal = %d %q, want 200 OK", code, body)
			}
		})
	}
}

func TestProxyAllowOverride(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, func(p *Proxy) { p.AllowOverride = true })
	in := `{"Image":"debian", "HostConfig": {"CgroupParent": "/elsewhere"}}`
	if code, _ := do(t, client(p.sock), "POST", "/containers/create", in); code != 201 {
		t.Fatalf("create = %d, want 201", code)
	}
	if got := up.lastBody(); got != in {
		t.Errorf("dockerd received %s, want it unchanged: %s", got, in)
	}
}

// TestProxySystemdDriverCached: with the systemd driver the parent is the
// peer's slice, and GET /info is asked once for many creates.
func TestProxySystemdDriverCached(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "systemd")
	// A login session on a systemd host, /proc/self/cgroup.
	p := startProxy(t, up, "0::/user.slice/user-1000.slice/session-3.scope\n", nil)
	hc := client(p.sock)
	for i := range 3 {
		if code, body := do(t, hc, "POST", "/v1.47/containers/create", `{"Image":"debian"}`); code != 201 {
			t.Fatalf("create %d = %d %s", i, code, body)
		}
	}
	if got, want := up.lastBody(), `{"Image":"debian","HostConfig":{"CgroupParent":"user-1000.slice"}}`; got != want {
		t.Errorf("dockerd received %s, want %s", got, want)
	}
	if n := up.infos.Load(); n != 1 {
		t.Errorf("GET /info asked %d times, want 1", n)
	}
}

// TestProxyKeepAlive: one client connection carries many requests over one
// dockerd connection (plus the one GET /info).
func TestProxyKeepAlive(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	c, br := rawConn(t, p.sock)
	create := `{"Image":"a"}`
	for i := range 3 {
		fmt.Fprintf(c, "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
		fmt.Fprintf(c, "POST /v1.47/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Length: %d\r\n\r\n%s", len(create), create)
		for _, want := range []int{200, 201} {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("round %d: status %d, want %d", i, resp.StatusCode, want)
			}
		}
	}
	if n := up.conns.Load(); n != 2 {
		t.Errorf("dockerd saw %d connections, want 2 (the client's and GET /info)", n)
	}
	if n := up.creates.Load(); n != 3 {
		t.Errorf("dockerd saw %d creates, want 3", n)
	}
}

// TestProxyVerbatim: a request and its chunked response (with an extension
// and a trailer) cross the proxy byte for byte.
func TestProxyVerbatim(t *testing.T) {
	t.Parallel()
	req := "GET /v1.47/containers/json?all=1 HTTP/1.1\r\nhost: docker\r\nX-Odd:  spaced \r\nUser-Agent: Docker-Client/27.5.1 (linux)\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"3;ext=1\r\n[]\n\r\n0\r\nX-Trailer: t\r\n\r\n"
	dir := shortDir(t)
	ln, err := net.Listen("unix", dir+"/raw.sock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		b := make([]byte, len(req))
		_, err = io.ReadFull(c, b)
		got <- string(b)
		if err == nil {
			_, _ = io.WriteString(c, resp)
		}
	}()
	p := startProxy(t, &fakeDockerd{sock: dir + "/raw.sock"}, cgroupV2Pod, nil)
	c, br := rawConn(t, p.sock)
	_, _ = io.WriteString(c, req)
	if g := <-got; g != req {
		t.Errorf("dockerd received %q, want %q", g, req)
	}
	b := make([]byte, len(resp))
	if _, err := io.ReadFull(br, b); err != nil || string(b) != resp {
		t.Errorf("client received %q, %v; want %q", b, err, resp)
	}
}

// TestProxyHijack: attach with Upgrade: tcp (101) and exec start without
// it (200, stream until close) both become raw two-way streams.
func TestProxyHijack(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, req, wantHead string }{{
		name: "attach_upgrade_tcp",
		req: "POST /v1.47/containers/4b2f/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: docker\r\n" +
			"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n",
		wantHead: "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
	}, {
		name: "exec_start_no_upgrade",
		req: "POST /v1.47/exec/9e/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n" +
			`{"Detach":false,"Tty":false}`,
		wantHead: "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := startFakeDockerd(t, "cgroupfs")
			p := startProxy(t, up, cgroupV2Pod, nil)
			c, br := rawConn(t, p.sock)
			_, _ = io.WriteString(c, tt.req)
			head, err := readHead(br, nil)
			if err != nil || string(head) != tt.wantHead {
				t.Fatalf("response head %q, %v; want %q", head, err, tt.wantHead)
			}
			for _, msg := range []string{"ls -l\n", "exit\n"} {
				_, _ = io.WriteString(c, msg)
				b := make([]byte, len(msg))
				if _, err := io.ReadFull(br, b); err != nil || string(b) != msg {
					t.Fatalf("echo of %q = %q, %v", msg, b, err)
				}
			}
			// stdin closed: dockerd's side ends, and so does ours.
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
				t.Errorf("after CloseWrite read %q, %v; want EOF", rest, err)
			}
		})
	}
}

// TestProxyEventsStream: /events reaches the client as dockerd writes it,
// and a client hanging up ends dockerd's handler.
func TestProxyEventsStream(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	c, br := rawConn(t, p.sock)
	_, _ = io.WriteString(c, "GET /v1.47/events HTTP/1.1\r\nHost: docker\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{`{"status":"create","id":"4b2f"}` + "\n", `{"status":"start","id":"4b2f"}` + "\n"} {
		up.events <- ev
		b := make([]byte, len(ev))
		if _, err := io.ReadFull(resp.Body, b); err != nil || string(b) != ev {
			t.Fatalf("event = %q, %v; want %q while the stream is open", b, err, ev)
		}
	}
	c.Close()
	select {
	case <-up.evDone:
	case <-timeout():
		t.Fatal("dockerd's /events handler still running 10s after the client hung up")
	}
}

// TestProxyUploadAndChunkedCreate: a chunked build context streams
// through; a chunked create with Expect: 100-continue is answered by the
// proxy and forwarded with a Content-Length.
func TestProxyUploadAndChunkedCreate(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	ctx := make([]byte, 3<<20)
	_, _ = rand.Read(ctx)
	sum := sha256.Sum256(ctx)
	req, _ := http.NewRequest("POST", "http://docker/v1.47/build?t=x", io.MultiReader(bytes.NewReader(ctx)))
	resp, err := client(p.sock).Do(req) // unknown length: chunked
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf("{\"stream\":\"%d bytes sha256:%s cgroupparent=/docker/3f1c9a\"}\n", len(ctx), hex.EncodeToString(sum[:]))
	if string(b) != want {
		t.Errorf("build answered %q, want %q", b, want)
	}

	c, br := rawConn(t, p.sock)
	_, _ = io.WriteString(c, "POST /containers/create HTTP/1.1\r\nHost: docker\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
	if head, err := readHead(br, nil); err != nil || string(head) != "HTTP/1.1 100 Continue\r\n\r\n" {
		t.Fatalf("interim response %q, %v; want 100 Continue", head, err)
	}
	_, _ = io.WriteString(c, "6\r\n{\"Imag\r\n9\r\ne\":\"deb\"}\r\n0\r\n\r\n")
	r2, err := http.ReadResponse(br, nil)
	if err != nil || r2.StatusCode != 201 {
		t.Fatalf("create = %v, %v; want 201", r2, err)
	}
	if got, want := up.lastBody(), `{"Image":"deb","HostConfig":{"CgroupParent":"/docker/3f1c9a"}}`; got != want {
		t.Errorf("dockerd received %s, want %s", got, want)
	}
	up.mu.Lock()
	h := up.heads[len(up.heads)-1]
	up.mu.Unlock()
	if h.Get("Expect") != "" || h.Get("Transfer-Encoding") != "" {
		t.Errorf("dockerd received Expect %q Transfer-Encoding %q, want neither", h.Get("Expect"), h.Get("Transfer-Encoding"))
	}
}

func TestProxyBadRequest(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	c, br := rawConn(t, p.sock)
	_, _ = io.WriteString(c, "POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Length: x\r\n\r\n")
	got, _ := io.ReadAll(br)
	want := "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 74\r\n\r\n" +
		`{"message":"envbox adopt-proxy: parse request: bad Content-Length \"x\""}` + "\n"
	if string(got) != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	t.Parallel()
	p := startProxy(t, &fakeDockerd{sock: shortDir(t) + "/none.sock"}, cgroupV2Pod, nil)
	code, body := do(t, client(p.sock), "GET", "/_ping", "")
	if code != 502 || !strings.Contains(body, "dial dockerd at ") {
		t.Errorf("ping = %d %s, want 502 naming the dial", code, body)
	}
}

func TestSocketPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want, wantErr string }{
		{in: "/var/run/docker.sock", want: "/var/run/docker.sock"},
		{in: "unix:///var/run/docker.sock", want: "/var/run/docker.sock"},
		{in: "tcp://0.0.0.0:2375", wantErr: `listen address "tcp://0.0.0.0:2375": only unix sockets can be listened on: the caller's cgroup comes from SO_PEERCRED`},
		{in: "localhost:2375", wantErr: `listen address "localhost:2375": want an absolute socket path: only unix sockets can be listened on: the caller's cgroup comes from SO_PEERCRED`},
		{in: "fd://", wantErr: `listen address "fd://": only unix sockets can be listened on: the caller's cgroup comes from SO_PEERCRED`},
	}
	for _, tt := range tests {
		got, err := SocketPath(tt.in)
		if got != tt.want || errString(err) != tt.wantErr {
			t.Errorf("SocketPath(%q) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.wantErr)
		}
		if tt.wantErr != "" && !errors.Is(err, ErrNotUnix) {
			t.Errorf("SocketPath(%q) error %v is not ErrNotUnix", tt.in, err)
		}
	}
}

// TestProxyBuildRefusedDrained: a build asking for another cgroup parent is
// refused after its context is read, and the connection carries on.
func TestProxyBuildRefusedDrained(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	hc := client(p.sock)
	code, body := do(t, hc, "POST", "/v1.47/build?t=x&cgroupparent=%2Felsewhere", strings.Repeat("x", 1<<20))
	want := `{"message":"envbox adopt-proxy: build from pid 4242 refused: cgroupparent \"/elsewhere\" conflicts with the cgroup ` +
		`of the calling process \"/docker/3f1c9a\": envbox adopt-proxy places containers in their creator's cgroup; omit ` +
		`cgroupparent or set it to \"/docker/3f1c9a\""}` + "\n"
	if code != 400 || body != want {
		t.Errorf("build = %d\n%s\nwant 400\n%s", code, body, want)
	}
	if code, body := do(t, hc, "GET", "/_ping", ""); code != 200 || body != "OK" {
		t.Errorf("ping after refusal = %d %q, want 200 OK", code, body)
	}
}
