package adopt

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawExchange writes req on a new connection and returns everything the
// proxy answers until it closes or goes quiet for a moment.
func rawExchange(t *testing.T, sock, req string) string {
	t.Helper()
	c, br := rawConn(t, sock)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, _ = io.Copy(&out, br)
	return out.String()
}

func errorResponse(status int, msg string, closing bool) string {
	var b strings.Builder
	_ = writeError(&b, status, msg, closing)
	return b.String()
}

// TestProxyStartBody: API < 1.24 start bodies are HostConfigs dockerd would
// apply over the adopted one; any that asks for something is refused,
// whoever asks, and dockerd never receives a start body.
func TestProxyStartBody(t *testing.T) {
	t.Parallel()
	refused := func(body string) string {
		return `{"message":"envbox adopt-proxy: POST /v1.23/containers/4b2f/start from pid 4242 refused: a start body is a HostConfig ` +
			`(API \u003c 1.24) that would replace the one the container was adopted with: body sets ` + body + `; set configuration at create"}` + "\n"
	}
	tests := []struct {
		name, cgroupFile, body string
		wantCode               int
		wantBody               string
		wantDockerd            []string
	}{
		{name: "cgroup_parent", cgroupFile: cgroupV2Pod, body: `{"CgroupParent":"/evil"}`, wantCode: 400, wantBody: refused(`\"CgroupParent\"`)},
		{name: "nested_host_config", cgroupFile: cgroupV2Pod, body: `{"HostConfig":{"CgroupParent":"/"}}`, wantCode: 400, wantBody: refused(`\"HostConfig\"`)},
		{name: "memory_resets_parent", cgroupFile: cgroupV2Pod, body: `{"Memory":0}`, wantCode: 400, wantBody: refused(`\"Memory\"`)},
		{name: "unreadable_peer", body: `{"Memory":0}`, wantCode: 400, wantBody: refused(`\"Memory\"`)},
		{name: "empty_object", cgroupFile: cgroupV2Pod, body: `{  }`, wantCode: 204, wantDockerd: []string{"POST /v1.23/containers/4b2f/start length=0 "}},
		{name: "null", cgroupFile: cgroupV2Pod, body: ` null `, wantCode: 204, wantDockerd: []string{"POST /v1.23/containers/4b2f/start length=0 "}},
		{name: "no_body", cgroupFile: cgroupV2Pod, wantCode: 204, wantDockerd: []string{"POST /v1.23/containers/4b2f/start length=0 "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := startFakeDockerd(t, "cgroupfs")
			p := startProxy(t, up, tt.cgroupFile, nil)
			hc := client(p.sock)
			code, body := do(t, hc, "POST", "/v1.23/containers/4b2f/start", tt.body)
			if code != tt.wantCode || body != tt.wantBody {
				t.Errorf("start %s = %d %q, want %d %q", tt.body, code, body, tt.wantCode, tt.wantBody)
			}
			if got := up.recorded(); fmt.Sprint(got) != fmt.Sprint(tt.wantDockerd) {
				t.Errorf("dockerd received %q, want %q", got, tt.wantDockerd)
			}
			if code, body := do(t, hc, "GET", "/_ping", ""); code != 200 || body != "OK" {
				t.Errorf("ping after start = %d %q, want 200 OK", code, body)
			}
		})
	}
}

// TestProxyStartChunked: a chunked start body (dockerd decodes those
// whatever their size) is read whole before the decision.
func TestProxyStartChunked(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	got := rawExchange(t, p.sock, "POST /v1.23/containers/4b2f/start HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n"+
		"Content-Type: application/json\r\nConnection: close\r\n\r\n7\r\n{\"Memor\r\n5\r\ny\":0}\r\n0\r\n\r\n")
	want := errorResponse(400, `envbox adopt-proxy: POST /v1.23/containers/4b2f/start from pid 4242 refused: a start body is a HostConfig `+
		`(API < 1.24) that would replace the one the container was adopted with: body sets "Memory"; set configuration at create`, true)
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if n := len(up.recorded()); n != 0 {
		t.Errorf("dockerd received %d requests, want 0", n)
	}
}

// TestProxyBuildFormBody: dockerd's r.FormValue prefers a form body to the
// query, so a build with one is refused; the query-only build is adopted.
func TestProxyBuildFormBody(t *testing.T) {
	t.Parallel()
	refused := func(mt string) string {
		return `envbox adopt-proxy: build from pid 4242 refused: a body of type ` + mt + `: dockerd would read build options, cgroupparent ` +
			`included, from it before the query; send them in the query and the context as application/x-tar`
	}
	tests := []struct{ name, contentType, body, want string }{
		{name: "urlencoded", contentType: "Content-Type: application/x-www-form-urlencoded\r\n", body: "cgroupparent=%2Fevil",
			want: errorResponse(400, refused("application/x-www-form-urlencoded"), false)},
		{name: "urlencoded_odd_spelling", contentType: "Content-Type:  Application/X-WWW-Form-Urlencoded ;=bad\r\n", body: "cgroupparent=%2Fevil",
			want: errorResponse(400, refused("application/x-www-form-urlencoded"), false)},
		{name: "multipart", contentType: "Content-Type: multipart/form-data; boundary=x\r\n",
			body: "--x\r\nContent-Disposition: form-data; name=\"cgroupparent\"\r\n\r\n/evil\r\n--x--\r\n",
			want: errorResponse(400, refused("multipart/form-data"), false)},
		// mime.ParseMediaType, which net/http uses, trims Unicode white
		// space (U+00A0, U+0085), which header values may carry.
		{name: "urlencoded_trailing_nbsp", contentType: "Content-Type: application/x-www-form-urlencoded\u00a0\r\n", body: "cgroupparent=%2Fevil",
			want: errorResponse(400, refused("application/x-www-form-urlencoded"), false)},
		{name: "multipart_leading_nel", contentType: "Content-Type: \u0085multipart/form-data; boundary=x\r\n",
			body: "--x\r\nContent-Disposition: form-data; name=\"cgroupparent\"\r\n\r\n/evil\r\n--x--\r\n",
			want: errorResponse(400, refused("multipart/form-data"), false)},
		{name: "two_content_types", contentType: "Content-Type: application/x-tar\r\nContent-Type: application/x-www-form-urlencoded\r\n",
			body: "cgroupparent=%2Fevil", want: errorResponse(400, "envbox adopt-proxy: build from pid 4242 refused: 2 Content-Type headers", false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := startFakeDockerd(t, "cgroupfs")
			p := startProxy(t, up, cgroupV2Pod, nil)
			// The refusal is followed, on the same connection, by a ping:
			// the body was drained and the connection carries on.
			got := rawExchange(t, p.sock, fmt.Sprintf("POST /v1.47/build?remote=https://x/y.git HTTP/1.1\r\nHost: d\r\n%sContent-Length: %d\r\n\r\n%s"+
				"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n", tt.contentType, len(tt.body), tt.body))
			if !strings.HasPrefix(got, tt.want) || !strings.HasSuffix(got, "\r\n\r\nOK") {
				t.Errorf("got %q\nwant %q then the ping's OK", got, tt.want)
			}
		})
	}

	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	code, body := do(t, client(p.sock), "POST", "/v1.47/build?remote=https://x/y.git", "")
	if want := "{\"stream\":\"0 bytes sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 cgroupparent=/docker/3f1c9a\"}\n"; code != 200 || body != want {
		t.Errorf("query-only build = %d %q, want 200 %q", code, body, want)
	}
}

// TestProxyBuildKitQuery: POST /build?version=2 runs the build in dockerd's
// BuildKit, which takes its context from the request body (no /session
// needed) and ignores cgroupparent: its RUN steps would land in dockerd's
// cgroup, so the proxy refuses it and dockerd never sees it.
func TestProxyBuildKitQuery(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	got := rawExchange(t, p.sock, "POST /v1.47/build?t=x&version=2 HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"+
		"Content-Length: 5\r\n\r\nhello"+"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
	want := errorResponse(400, "envbox adopt-proxy: build from pid 4242 refused: version=2 selects BuildKit, which ignores cgroupparent "+
		"and runs RUN steps in dockerd's own cgroup; use the classic builder (omit version, or version=1)", false)
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "\r\n\r\nOK") {
		t.Errorf("got %q\nwant %q then the ping's OK", got, want)
	}
}

// TestProxyUpdate: an update naming a cgroup parent is refused; a limits
// update reaches dockerd unchanged.
func TestProxyUpdate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		wantCode   int
		wantBody   string
		want       []string
	}{
		{name: "limits", body: `{"Memory":1048576,"RestartPolicy":{"Name":"no"}}`, wantCode: 200,
			want: []string{`POST /v1.47/containers/4b2f/update length=48 {"Memory":1048576,"RestartPolicy":{"Name":"no"}}`}},
		{name: "empty_parent", body: `{"CgroupParent":"","Memory":1}`, wantCode: 200,
			want: []string{`POST /v1.47/containers/4b2f/update length=30 {"CgroupParent":"","Memory":1}`}},
		{name: "parent", body: `{"CgroupParent":"/evil"}`, wantCode: 400,
			wantBody: `{"message":"envbox adopt-proxy: POST /v1.47/containers/4b2f/update from pid 4242 refused: CgroupParent \"/evil\": ` +
				`a container's cgroup parent is set at create, by the proxy"}` + "\n"},
		{name: "case_folded", body: `{"cgroupparent":"/evil"}`, wantCode: 400,
			wantBody: `{"message":"envbox adopt-proxy: POST /v1.47/containers/4b2f/update from pid 4242 refused: CgroupParent \"/evil\": ` +
				`a container's cgroup parent is set at create, by the proxy"}` + "\n"},
		{name: "duplicate", body: `{"CgroupParent":"","CGROUPPARENT":"/evil"}`, wantCode: 400,
			wantBody: `{"message":"envbox adopt-proxy: POST /v1.47/containers/4b2f/update from pid 4242 refused: parse body ` +
				`\"{\\\"CgroupParent\\\":\\\"\\\",\\\"CGROUPPARENT\\\":\\\"/evil\\\"}\": member \"CgroupParent\" appears twice (as \"CgroupParent\" and \"CGROUPPARENT\")"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := startFakeDockerd(t, "cgroupfs")
			p := startProxy(t, up, cgroupV2Pod, nil)
			code, body := do(t, client(p.sock), "POST", "/v1.47/containers/4b2f/update", tt.body)
			if code != tt.wantCode || tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("update %s = %d %q, want %d %q", tt.body, code, body, tt.wantCode, tt.wantBody)
			}
			if got := up.recorded(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("dockerd received %q, want %q", got, tt.want)
			}
		})
	}
}

// TestProxyRefusedRoutes: routes that would place a container where the
// proxy cannot check it get one line naming the route and the reason.
func TestProxyRefusedRoutes(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	hc := client(p.sock)
	tests := []struct{ method, path, want string }{
		{"POST", "/v1.47/services/create", "envbox adopt-proxy: refused POST /v1.47/services/create: " + whySwarm},
		{"POST", "//containers/create", "envbox adopt-proxy: refused POST //containers/create: path is not in clean form (dockerd would redirect it)"},
		{"POST", "/v1.47/containers/4b2f%2Fstart", "envbox adopt-proxy: refused POST /v1.47/containers/4b2f%2Fstart: an encoded slash in the path is ambiguous"},
		{"POST", "/v1.47/grpc", "envbox adopt-proxy: refused POST /v1.47/grpc: " + whyBuildKit},
		{"POST", "/v1.99/containers/frobnicate", "envbox adopt-proxy: refused POST /v1.99/containers/frobnicate: not a route the proxy models, " +
			"so it cannot tell whether it carries a HostConfig or a cgroup parent"},
	}
	for _, tt := range tests {
		code, body := do(t, hc, tt.method, tt.path, `{"TaskTemplate":{}}`)
		if want := errorResponse(400, tt.want, false); code != 400 || !strings.HasSuffix(want, body) {
			t.Errorf("%s %s = %d %q, want 400 %q", tt.method, tt.path, code, body, tt.want)
		}
	}
	if got := up.recorded(); len(got) != 0 || up.creates.Load() != 0 {
		t.Errorf("dockerd received %q and %d creates, want nothing", got, up.creates.Load())
	}
}

// TestProxyHostileCreate: duplicate and case-folded keys (Unicode folding
// included, as Go's decoder does), HostConfig members at the top level,
// and smuggling framings never reach dockerd.
func TestProxyHostileCreate(t *testing.T) {
	t.Parallel()
	conflict := func(field, omit string) string {
		return `{"message":"envbox adopt-proxy: container create from pid 4242 refused: ` + field + ` \"/evil\" conflicts with the cgroup of the ` +
			`calling process \"/docker/3f1c9a\": envbox adopt-proxy places containers in their creator's cgroup; omit ` + omit + ` or set it to \"/docker/3f1c9a\""}` + "\n"
	}
	tests := []struct{ name, body, want string }{
		{name: "top_level_parent", body: `{"Image":"a","CgroupParent":"/evil"}`, want: conflict("top-level CgroupParent", "top-level CgroupParent")},
		{name: "long_s_host_config", body: `{"Image":"a","Ho\u017ftConfig":{"CgroupParent":"/evil"}}`, want: conflict("HostConfig.CgroupParent", "CgroupParent")},
		{name: "escaped_key", body: `{"Image":"a","Host\u0043onfig":{"cgroupPARENT":"/evil"}}`, want: conflict("HostConfig.CgroupParent", "CgroupParent")},
		{name: "duplicate_parent", body: `{"Image":"a","HostConfig":{"CgroupParent":"","CgroupParent":"/evil"}}`,
			want: `{"message":"envbox adopt-proxy: container create from pid 4242 refused: parse container create body: HostConfig: ` +
				`member \"CgroupParent\" appears twice (as \"CgroupParent\" and \"CgroupParent\")"}` + "\n"},
		{name: "trailing_object", body: `{"Image":"a"}{"HostConfig":{"CgroupParent":"/evil"}}`,
			want: `{"message":"envbox adopt-proxy: container create from pid 4242 refused: parse container create body: data after the object: { \u003cnil\u003e"}` + "\n"},
		{name: "host_config_not_object", body: `{"Image":"a","HostConfig":"x"}`,
			want: `{"message":"envbox adopt-proxy: container create from pid 4242 refused: parse container create body: HostConfig: want a JSON object, got x"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := startFakeDockerd(t, "cgroupfs")
			p := startProxy(t, up, cgroupV2Pod, nil)
			code, body := do(t, client(p.sock), "POST", "/v1.47/containers/create", tt.body)
			if code != 400 || body != tt.want {
				t.Errorf("create %s = %d\n%s\nwant 400\n%s", tt.body, code, body, tt.want)
			}
			if n := up.creates.Load(); n != 0 {
				t.Errorf("dockerd saw %d creates, want 0", n)
			}
		})
	}
}

// TestProxySmuggling: framings net/http could read differently are
// refused before anything reaches dockerd, and a request pipelined after a
// refused one is answered in order.
func TestProxySmuggling(t *testing.T) {
	t.Parallel()
	create := `{"Image":"a","HostConfig":{"CgroupParent":"/evil"}}`
	tests := []struct{ name, in, want string }{
		{name: "length_and_chunked", in: "POST /v1.47/containers/4b2f/start HTTP/1.1\r\nHost: d\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"0\r\n\r\nPOST /v1.47/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 51\r\n\r\n" + create,
			want: errorResponse(400, "envbox adopt-proxy: parse request: both Content-Length and Transfer-Encoding: refused (request smuggling)", true)},
		{name: "space_before_colon", in: "POST /v1.47/containers/4b2f/kill HTTP/1.1\r\nHost: d\r\nContent-Length : 51\r\n\r\n" + create,
			want: errorResponse(400, `envbox adopt-proxy: parse request: malformed header line "Content-Length : 51"`, true)},
		{name: "expect_continue_refused_route", in: "POST /v1.47/services/create HTTP/1.1\r\nHost: d\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
			want: errorResponse(400, "envbox adopt-proxy: refused POST /v1.47/services/create: "+whySwarm, true)},
		{name: "pipelined_after_refusal", in: "POST /v1.47/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 51\r\n\r\n" + create +
			"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
			want: errorResponse(400, `envbox adopt-proxy: container create from pid 4242 refused: HostConfig.CgroupParent "/evil" conflicts with the `+
				`cgroup of the calling process "/docker/3f1c9a": envbox adopt-proxy places containers in their creator's cgroup; omit CgroupParent `+
				`or set it to "/docker/3f1c9a"`, false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := startFakeDockerd(t, "cgroupfs")
			p := startProxy(t, up, cgroupV2Pod, nil)
			got := rawExchange(t, p.sock, tt.in)
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
			if tt.name == "pipelined_after_refusal" && !strings.HasSuffix(got, "\r\n\r\nOK") {
				t.Errorf("got %q, want the pipelined ping answered after the refusal", got)
			}
			if up.creates.Load() != 0 || len(up.recorded()) != 0 {
				t.Errorf("dockerd saw %d creates and %q, want nothing", up.creates.Load(), up.recorded())
			}
		})
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestProxyNoLeakOnBodyErrors: clients that break their request body (a bad
// chunk line, a hang-up inside a Content-Length body) leave no connection
// pair behind: descriptors are back to the baseline within 1 s.
// Not parallel: it counts the process's descriptors.
func TestProxyNoLeakOnBodyErrors(t *testing.T) {
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	if code, _ := do(t, client(p.sock), "GET", "/info", ""); code != 200 { // the driver lookup, done once
		t.Fatalf("info = %d", code)
	}
	http.DefaultClient.CloseIdleConnections()
	base := openFDs(t)
	for i := range 100 {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: p.sock, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			_, _ = io.WriteString(c, "POST /v1.47/images/load HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
		} else {
			_, _ = io.WriteString(c, "POST /v1.47/images/load HTTP/1.1\r\nHost: d\r\nContent-Length: 100\r\n\r\nonly part")
		}
		// Wait until the proxy has forwarded the start of the body.
		time.Sleep(time.Millisecond)
		c.Close()
	}
	deadline := time.Now().Add(time.Second)
	for openFDs(t) > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open 1 s after 100 bad clients, baseline %d", openFDs(t), base)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProxyClientGoneBeforeResponse: a client that hangs up while dockerd
// works on a request without a body (stop?t=-1, which can last for ever)
// is seen by dockerd as gone, as it would be without the proxy, and the
// pair is closed: nothing is left behind.
func TestProxyClientGoneBeforeResponse(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	c, _ := rawConn(t, p.sock)
	_, _ = io.WriteString(c, "POST /v1.47/containers/4b2f/stop?t=-1 HTTP/1.1\r\nHost: d\r\n\r\n")
	select {
	case <-up.held:
	case <-timeout():
		t.Fatal("dockerd never received the stop")
	}
	c.Close()
	select {
	case <-up.letGo:
	case <-time.After(time.Second):
		t.Errorf("dockerd still serves the stop 1 s after its client hung up; %d proxied connections open", p.open.Load())
	}
	deadline := time.Now().Add(time.Second)
	for p.open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d proxied connections open 1 s after the client hung up, want 0", p.open.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProxyTimeouts: a client that stops inside a head or a body, or stays
// idle, is disconnected after the timeout, and its pair closed.
func TestProxyTimeouts(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in string }{
		{name: "idle", in: ""},
		{name: "head", in: "GET /_ping HTTP/1.1\r\nHo"},
		{name: "body", in: "POST /v1.47/images/load HTTP/1.1\r\nHost: d\r\nContent-Length: 100\r\n\r\nonly part"},
		{name: "idle_after_request", in: "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := startFakeDockerd(t, "cgroupfs")
			p := startProxy(t, up, cgroupV2Pod, func(p *Proxy) {
				p.IdleTimeout, p.HeaderTimeout, p.BodyTimeout = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
			})
			c, br := rawConn(t, p.sock)
			_, _ = io.WriteString(c, tt.in)
			start := time.Now()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := io.Copy(io.Discard, br)
			if took := time.Since(start); err != nil || took > 2*time.Second {
				t.Errorf("connection ended after %v with %v; want EOF after about 200ms", took, err)
			}
		})
	}
}

// TestProxyMaxConns: past the bound a connection gets a 503 naming it,
// and a connection freed makes room again.
func TestProxyMaxConns(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, func(p *Proxy) { p.MaxConns = 2 })
	held := make([]*net.UnixConn, 2)
	for i := range held {
		c, br := rawConn(t, p.sock)
		_, _ = io.WriteString(c, "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection %d: %v %v", i, resp, err)
		}
		held[i] = c
	}
	got := rawExchange(t, p.sock, "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
	if want := errorResponse(503, "envbox adopt-proxy: 2 connections open, the limit: try again later", true); got != want {
		t.Errorf("third connection got %q\nwant %q", got, want)
	}
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := rawExchange(t, p.sock, "GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
		if strings.HasSuffix(got, "\r\n\r\nOK") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing one, a new connection still gets %q", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCredsOf: SO_PEERPIDFD errors fail closed, EINVAL included (kernels
// 6.5 to about 6.15 for a reaped peer); only ENOPROTOOPT (no such option)
// falls back to the pid alone.
func TestCredsOf(t *testing.T) {
	t.Parallel()
	cred := &unix.Ucred{Pid: 4242, Uid: 1000, Gid: 1000}
	kernel := func() string { return "6.8.0-test" }
	tests := []struct {
		name    string
		pidfd   int
		err     error
		want    Creds
		wantErr string
	}{
		{name: "pidfd", pidfd: 7, want: Creds{PID: 4242, UID: 1000, GID: 1000, PidFD: 7}},
		{name: "no_such_option", pidfd: -1, err: unix.ENOPROTOOPT, want: Creds{PID: 4242, UID: 1000, GID: 1000, PidFD: -1}},
		{name: "einval", pidfd: -1, err: unix.EINVAL, wantErr: "getsockopt SO_PEERPIDFD for pid 4242 on kernel 6.8.0-test: invalid argument: " +
			"the calling process cannot be told from one reusing its pid"},
		{name: "esrch", pidfd: -1, err: unix.ESRCH, wantErr: "getsockopt SO_PEERPIDFD for pid 4242 on kernel 6.8.0-test: no such process: " +
			"the calling process cannot be told from one reusing its pid"},
	}
	for _, tt := range tests {
		got, err := credsOf(cred, tt.pidfd, tt.err, kernel)
		if got != tt.want || errString(err) != tt.wantErr {
			t.Errorf("%s: credsOf = %+v, %v; want %+v, %q", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestProxyPeerEINVAL: a peer whose pidfd the kernel refuses with EINVAL
// creates nothing.
func TestProxyPeerEINVAL(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, func(p *Proxy) {
		p.Creds = func(*net.UnixConn) (Creds, error) {
			return credsOf(&unix.Ucred{Pid: 4242}, -1, unix.EINVAL, func() string { return "6.8.0-test" })
		}
	})
	code, body := do(t, client(p.sock), "POST", "/v1.47/containers/create", `{"Image":"debian"}`)
	want := `{"message":"envbox adopt-proxy: container create from pid 0 refused: identify the calling process: getsockopt SO_PEERPIDFD for ` +
		`pid 4242 on kernel 6.8.0-test: invalid argument: the calling process cannot be told from one reusing its pid"}` + "\n"
	if code != 403 || body != want {
		t.Errorf("create = %d %q, want 403 %q", code, body, want)
	}
	if n := up.creates.Load(); n != 0 {
		t.Errorf("dockerd saw %d creates, want 0", n)
	}
}

// TestProxyFixedUploadSpliced: a Content-Length body large enough to be
// spliced arrives whole, and the connection carries on.
func TestProxyFixedUploadSpliced(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	hc := client(p.sock)
	ctx := make([]byte, 3<<20+17)
	for i := range ctx {
		ctx[i] = byte(i * 7)
	}
	sum := sha256.Sum256(ctx)
	code, body := do(t, hc, "POST", "/v1.47/build?t=x", string(ctx))
	want := fmt.Sprintf("{\"stream\":\"%d bytes sha256:%s cgroupparent=/docker/3f1c9a\"}\n", len(ctx), hex.EncodeToString(sum[:]))
	if code != 200 || body != want {
		t.Errorf("build = %d %q, want 200 %q", code, body, want)
	}
	if code, body := do(t, hc, "GET", "/_ping", ""); code != 200 || body != "OK" {
		t.Errorf("ping after the upload = %d %q, want 200 OK", code, body)
	}
}

// TestProxyReusesDockerdConnection: a client that leaves at a request
// boundary leaves its dockerd connection to the next client; one that
// leaves a stream, or asks to close, does not.
func TestProxyReusesDockerdConnection(t *testing.T) {
	t.Parallel()
	up := startFakeDockerd(t, "cgroupfs")
	p := startProxy(t, up, cgroupV2Pod, nil)
	ping := "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n"
	for i := range 3 {
		c, br := rawConn(t, p.sock)
		_, _ = io.WriteString(c, ping)
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("ping %d: %v %v", i, resp, err)
		}
		c.Close()
	}
	// The third client may come before the second's connection is kept.
	if n := up.conns.Load(); n > 2 {
		t.Errorf("dockerd saw %d connections for 3 clients one after the other, want at most 2", n)
	}
	// A stream left by its client half-closes dockerd's side: never kept.
	c, br := rawConn(t, p.sock)
	_, _ = io.WriteString(c, "GET /v1.47/events HTTP/1.1\r\nHost: d\r\n\r\n")
	if _, err := http.ReadResponse(br, nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case <-up.evDone:
	case <-timeout():
		t.Fatal("dockerd's /events handler still running 10s after the client hung up")
	}
	for i := range 3 {
		if code, body := do(t, oneShot(p.sock), "GET", "/_ping", ""); code != 200 || body != "OK" {
			t.Errorf("ping %d after the stream = %d %q", i, code, body)
		}
	}
}

// TestQuiet: a kept dockerd connection is reused only when dockerd has
// neither written nor closed it.
func TestQuiet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		do   func(peer *net.UnixConn)
		want bool
	}{
		{name: "idle", do: func(*net.UnixConn) {}, want: true},
		{name: "data", do: func(peer *net.UnixConn) { _, _ = peer.Write([]byte("HTTP/1.1 400")) }},
		{name: "closed", do: func(peer *net.UnixConn) { peer.Close() }},
	}
	for _, tt := range tests {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		a, b := fileConn(t, fds[0]), fileConn(t, fds[1])
		tt.do(b)
		if got := quiet(a); got != tt.want {
			t.Errorf("%s: quiet = %v, want %v", tt.name, got, tt.want)
		}
		a.Close()
		b.Close()
	}
	closed := func() *net.UnixConn {
		fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		_ = unix.Close(fds[1])
		c := fileConn(t, fds[0])
		c.Close()
		return c
	}()
	if quiet(closed) {
		t.Errorf("quiet(a closed connection) = true, want false")
	}
}

func fileConn(t *testing.T, fd int) *net.UnixConn {
	t.Helper()
	f := os.NewFile(uintptr(fd), "socketpair")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.UnixConn)
}

// TestProxyClientGoneDuringSplitHead: dockerd begins its answer at once
// but the rest of the head is slow (a head written in two parts): the
// proxy then waits inside readHead, and a client that hangs up meanwhile
// must still be passed on to dockerd as a half-close.
func TestProxyClientGoneDuringSplitHead(t *testing.T) {
	t.Parallel()
	req := "POST /v1.47/containers/4b2f/stop?t=-1 HTTP/1.1\r\nHost: d\r\n\r\n"
	dir := shortDir(t)
	ln, err := net.Listen("unix", dir+"/raw.sock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	received, hangUp := make(chan struct{}), make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			hangUp <- err
			return
		}
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, len(req))); err != nil {
			hangUp <- err
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 204 No Content\r\n") // the rest never comes
		close(received)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		hangUp <- err
	}()
	p := startProxy(t, &fakeDockerd{sock: dir + "/raw.sock"}, cgroupV2Pod, nil)
	c, _ := rawConn(t, p.sock)
	_, _ = io.WriteString(c, req)
	select {
	case <-received:
	case err := <-hangUp:
		t.Fatalf("dockerd: %v", err)
	case <-timeout():
		t.Fatal("dockerd never received the stop")
	}
	time.Sleep(50 * time.Millisecond) // past watchGrace
	c.Close()
	start := time.Now()
	err = <-hangUp
	if !errors.Is(err, io.EOF) || time.Since(start) > time.Second {
		t.Errorf("dockerd saw %v after %v, want EOF (the client's hang-up) at once", err, time.Since(start))
	}
}
