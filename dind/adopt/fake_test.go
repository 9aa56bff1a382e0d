package adopt

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cdr.dev/slog"
	"cdr.dev/slog/sloggers/slogtest"
	"github.com/spf13/afero"
)

// fakeDockerd speaks the parts of the Docker API the proxy treats
// specially, the way dockerd writes them (moby api/server/router).
type fakeDockerd struct {
	sock    string
	driver  string // CgroupDriver for GET /info
	infos   atomic.Int32
	creates atomic.Int32
	conns   atomic.Int32  // connections that carried a request
	events  chan string   // each value is one /events message
	evDone  chan struct{} // closed when an /events handler ends
	// held and let go: a POST .../stop handler began, and saw its client
	// go away (its request context done).
	held, letGo chan struct{}
	mu          sync.Mutex
	bodies      []string // POST /containers/create bodies, as received
	heads       []http.Header
	others      []string // other recorded requests: "METHOD URI length=N body"
}

func startFakeDockerd(t testing.TB, driver string) *fakeDockerd {
	t.Helper()
	f := &fakeDockerd{sock: filepath.Join(shortDir(t), "real.sock"), driver: driver,
		events: make(chan string), evDone: make(chan struct{}, 1), held: make(chan struct{}, 1), letGo: make(chan struct{}, 1)}
	ln, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	seen := sync.Map{}
	srv := &http.Server{Handler: f.mux(), ConnState: func(c net.Conn, s http.ConnState) {
		// Count connections that carried a request (the proxy's namespace
		// check connects and says nothing).
		if s != http.StateActive {
			return
		}
		if _, dup := seen.LoadOrStore(c, true); !dup {
			f.conns.Add(1)
		}
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return f
}

func (f *fakeDockerd) mux() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /_ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "OK") })
	m.HandleFunc("GET /info", func(w http.ResponseWriter, _ *http.Request) {
		f.infos.Add(1)
		_, _ = fmt.Fprintf(w, `{"ID":"x","CgroupDriver":%q,"CgroupVersion":"2","Containers":0}`, f.driver)
	})
	m.HandleFunc("POST /{version}/containers/create", f.create)
	m.HandleFunc("POST /containers/create", f.create)
	m.HandleFunc("POST /{version}/containers/{id}/start", f.record(http.StatusNoContent))
	m.HandleFunc("POST /{version}/containers/{id}/update", f.record(http.StatusOK))
	m.HandleFunc("POST /{version}/services/create", f.record(http.StatusCreated))
	// stop?t=-1 on a container ignoring SIGTERM: dockerd answers when it
	// stops, or gives up when the client goes away.
	m.HandleFunc("POST /{version}/containers/{id}/stop", func(_ http.ResponseWriter, r *http.Request) {
		f.held <- struct{}{}
		<-r.Context().Done()
		f.letGo <- struct{}{}
	})
	m.HandleFunc("POST /{version}/containers/{id}/attach", hijackEcho)
	m.HandleFunc("POST /{version}/exec/{id}/start", hijackEcho)
	m.HandleFunc("GET /{version}/events", f.streamEvents)
	m.HandleFunc("POST /{version}/build", func(w http.ResponseWriter, r *http.Request) {
		// dockerd reads the build options (newImageBuildOptions, with
		// r.FormValue) before it reads the context.
		parent := r.FormValue("cgroupparent")
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = fmt.Fprintf(w, "{\"stream\":\"%d bytes sha256:%s cgroupparent=%s\"}\n", n, hex.EncodeToString(h.Sum(nil)), parent)
	})
	m.HandleFunc("POST /{version}/images/load", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = fmt.Fprintf(w, "{\"stream\":\"Loaded %d bytes\"}\n", n)
	})
	return m
}

func (f *fakeDockerd) create(w http.ResponseWriter, r *http.Request) {
	f.creates.Add(1)
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(b))
	f.heads = append(f.heads, r.Header.Clone())
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, `{"Id":"4b2f","Warnings":[]}`+"\n")
}

// record answers status after noting the request in f.others.
func (f *fakeDockerd) record(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.others = append(f.others, fmt.Sprintf("%s %s length=%d %s", r.Method, r.RequestURI, r.ContentLength, b))
		f.mu.Unlock()
		w.WriteHeader(status)
	}
}

func (f *fakeDockerd) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.others...)
}

func (f *fakeDockerd) lastBody() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) == 0 {
		return ""
	}
	return f.bodies[len(f.bodies)-1]
}

// streamEvents writes each value of f.events as one flushed chunk until
// the client goes away.
func (f *fakeDockerd) streamEvents(w http.ResponseWriter, r *http.Request) {
	defer func() { f.evDone <- struct{}{} }()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	for {
		select {
		case ev := <-f.events:
			_, _ = io.WriteString(w, ev)
			w.(http.Flusher).Flush()
		case <-r.Context().Done():
			return
		}
	}
}

// hijackEcho answers like dockerd's attach and exec start: 101 UPGRADED
// when asked to upgrade, else 200 with a raw stream; then echoes until EOF.
func hijackEcho(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	c, rw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	if r.Header.Get("Upgrade") == "tcp" {
		_, _ = io.WriteString(c, "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	} else {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n")
	}
	_, _ = io.Copy(c, rw)
}

// shortDir is a temp dir whose socket paths fit in sun_path (108 bytes).
func shortDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	if len(d) > 80 {
		t.Fatalf("temp dir %q too long for a unix socket path", d)
	}
	return d
}

// testProxy serves a proxy in front of up; the peer is pid 4242 whose
// /proc/4242/cgroup holds cgroupFile (absent when empty).
type testProxy struct {
	*Proxy
	sock string
}

func startProxy(t testing.TB, up *fakeDockerd, cgroupFile string, edit func(*Proxy)) *testProxy {
	t.Helper()
	fs := afero.NewMemMapFs()
	if cgroupFile != "" {
		if err := afero.WriteFile(fs, "/proc/4242/cgroup", []byte(cgroupFile), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	p := &Proxy{
		Upstream: up.sock,
		Fs:       fs,
		Log:      slogtest.Make(t, &slogtest.Options{IgnoreErrors: true}).Leveled(slog.LevelDebug),
		Creds: func(*net.UnixConn) (Creds, error) {
			return Creds{PID: 4242, UID: 1000, GID: 1000, PidFD: -1}, nil
		},
	}
	if edit != nil {
		edit(p)
	}
	sock := filepath.Join(shortDir(t), "docker.sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return 10s after cancel")
		}
	})
	return &testProxy{Proxy: p, sock: sock}
}

// client is an HTTP client over a unix socket, keep-alive on.
func client(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: 4,
	}}
}

// rawConn dials sock for hand-written HTTP.
func rawConn(t testing.TB, sock string) (*net.UnixConn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

// do sends one request and returns status and body.
func do(t testing.TB, hc *http.Client, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://docker"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

func timeout() <-chan time.Time { return time.After(10 * time.Second) }

type cgtestChild struct {
	cmd  *exec.Cmd
	out  *strings.Builder
	once sync.Once
	err  error
}

func (c *cgtestChild) wait() error {
	c.once.Do(func() { c.err = c.cmd.Wait() })
	return c.err
}

// direct reads in the test's own cgroup namespace.
func direct(read func() error) error { return read() }
