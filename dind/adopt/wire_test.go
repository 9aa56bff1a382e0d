package adopt

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
	"time"
)

func TestWithLength(t *testing.T) {
	t.Parallel()
	in := "POST /v1.47/containers/create?name=a HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n" +
		"content-length: 3\r\nExpect: 100-continue\r\nX-Odd:  a \r\nUser-Agent: Docker-Client/28.2.2 (linux)\r\n\r\n"
	want := "POST /v1.47/containers/create?name=a HTTP/1.1\r\nHost: docker\r\nX-Odd:  a \r\n" +
		"User-Agent: Docker-Client/28.2.2 (linux)\r\nContent-Length: 42\r\n\r\n"
	if got := string(withLength([]byte(in), 42)); got != want {
		t.Errorf("withLength(%q) =\n%q\nwant\n%q", in, got, want)
	}
}

// TestClassify: the route table read as dockerd's router reads paths, and
// every path variant the proxy cannot be sure dockerd routes the same way
// refused.
func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, target string
		want           treatment
		wantErr        string
	}{
		{method: "POST", target: "/containers/create", want: adoptCreate},
		{method: "POST", target: "/v1.47/containers/create?name=web", want: adoptCreate},
		{method: "POST", target: "/v1/containers/create", want: adoptCreate},
		{method: "POST", target: "/v1.2.3/containers/create", want: adoptCreate},
		{method: "POST", target: "/v1.47/containers/%63reate", want: adoptCreate},
		{method: "POST", target: "/v1.23/containers/4b2f/start", want: emptyStart},
		{method: "POST", target: "/containers/a/b/start?checkpoint=c", want: emptyStart},
		{method: "POST", target: "/v1.47/containers/%34b2f/st%61rt", want: emptyStart},
		{method: "POST", target: "/v1.47/containers/4b2f/update", want: checkUpdate},
		{method: "POST", target: "/v1.47/build?t=x", want: adoptBuild},
		{method: "POST", target: "/v1.47/build/prune", want: pass},
		{method: "POST", target: "/v1.47/containers/4b2f/attach?stream=1", want: pass},
		{method: "POST", target: "/v1.47/exec/9e/start", want: pass},
		{method: "PUT", target: "/v1.47/containers/4b2f/archive?path=/", want: pass},
		{method: "GET", target: "/anything/at/all", want: pass},
		{method: "HEAD", target: "/v1.47/containers/4b2f/archive", want: pass},
		{method: "DELETE", target: "/v1.47/containers/4b2f?force=1", want: pass},
		{method: "post", target: "/v1.47/containers/create", wantErr: `method "post" is not one the Docker API uses`},
		{method: "OPTIONS", target: "/v1.47/containers/create", wantErr: `method "OPTIONS" is not one the Docker API uses`},
		{method: "PATCH", target: "/v1.47/containers/create", wantErr: `method "PATCH" is not one the Docker API uses`},
		{method: "POST", target: "//containers/create", wantErr: "POST //containers/create: path is not in clean form (dockerd would redirect it)"},
		{method: "POST", target: "/v1.23/../containers/create", wantErr: "POST /v1.23/../containers/create: path is not in clean form (dockerd would redirect it)"},
		{method: "POST", target: "/v1.23/x/%2e%2e/containers/4b2f/start", wantErr: "POST /v1.23/x/%2e%2e/containers/4b2f/start: path is not in clean form (dockerd would redirect it)"},
		{method: "POST", target: "/containers/create/", wantErr: "POST /containers/create/: path is not in clean form (dockerd would redirect it)"},
		{method: "POST", target: "/v1.47/containers%2Fcreate", wantErr: "POST /v1.47/containers%2Fcreate: an encoded slash in the path is ambiguous"},
		{method: "POST", target: "/v1.47/containers/4b2f%2fstart", wantErr: "POST /v1.47/containers/4b2f%2fstart: an encoded slash in the path is ambiguous"},
		{method: "POST", target: "/V1.47/containers/create", wantErr: "POST /V1.47/containers/create: not a route the proxy models, so it cannot tell whether it carries a HostConfig or a cgroup parent"},
		{method: "POST", target: "/v1.47/Containers/create", wantErr: "POST /v1.47/Containers/create: not a route the proxy models, so it cannot tell whether it carries a HostConfig or a cgroup parent"},
		{method: "POST", target: "/v1.47/v1.47/containers/create", wantErr: "POST /v1.47/v1.47/containers/create: not a route the proxy models, so it cannot tell whether it carries a HostConfig or a cgroup parent"},
		{method: "POST", target: "/v1.47/containers/createx", wantErr: "POST /v1.47/containers/createx: not a route the proxy models, so it cannot tell whether it carries a HostConfig or a cgroup parent"},
		{method: "PUT", target: "/v1.47/containers/create", wantErr: "PUT /v1.47/containers/create: not a route the proxy models, so it cannot tell whether it carries a HostConfig or a cgroup parent"},
		{method: "POST", target: "/v1.47/services/create", wantErr: "POST /v1.47/services/create: " + whySwarm},
		{method: "POST", target: "/v1.47/services/abc/update?version=3", wantErr: "POST /v1.47/services/abc/update?version=3: " + whySwarm},
		{method: "POST", target: "/v1.47/swarm/init", wantErr: "POST /v1.47/swarm/init: " + whySwarm},
		{method: "POST", target: "/v1.47/plugins/pull?remote=x", wantErr: "POST /v1.47/plugins/pull?remote=x: " + whyPlugin},
		{method: "POST", target: "/v1.47/plugins/x/set", wantErr: "POST /v1.47/plugins/x/set: " + whyPlugin},
		{method: "POST", target: "/v1.47/grpc", wantErr: "POST /v1.47/grpc: " + whyBuildKit},
		{method: "POST", target: "/session", wantErr: "POST /session: " + whyBuildKit},
	}
	for _, tt := range tests {
		rt, err := classify([]byte(tt.method), []byte(tt.target))
		if errString(err) != tt.wantErr || err == nil && rt.treat != tt.want {
			t.Errorf("classify(%s %s) = %+v, %v; want treatment %d, error %q", tt.method, tt.target, rt, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     framing
		close    bool
		wantErr  string
	}{
		{name: "get", in: "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n", want: framing{kind: noBody}},
		{name: "length", in: "POST /build HTTP/1.1\r\nHost: d\r\ncontent-length:  05 \r\n\r\n", want: framing{kind: fixedBody, n: 5}},
		{name: "chunked", in: "POST /build HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: Chunked\r\n\r\n", want: framing{kind: chunkedBody}},
		{name: "http10_closes", in: "GET / HTTP/1.0\r\n\r\n", want: framing{kind: noBody}, close: true},
		{name: "http10_keep_alive", in: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", want: framing{kind: noBody}},
		{name: "connection_close", in: "GET / HTTP/1.1\r\nHost: d\r\nConnection: te, close\r\n\r\n", want: framing{kind: noBody}, close: true},
		{name: "space_before_colon", in: "POST / HTTP/1.1\r\nHost: d\r\nContent-Length : 5\r\n\r\n", wantErr: `malformed header line "Content-Length : 5"`},
		{name: "length_and_chunked", in: "POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
			wantErr: "both Content-Length and Transfer-Encoding: refused (request smuggling)"},
		{name: "two_lengths", in: "POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", wantErr: "more than one Content-Length"},
		{name: "signed_length", in: "POST / HTTP/1.1\r\nHost: d\r\nContent-Length: +5\r\n\r\n", wantErr: `bad Content-Length "+5"`},
		{name: "list_length", in: "POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 5, 5\r\n\r\n", wantErr: `bad Content-Length "5, 5"`},
		{name: "19_digit_length", in: "POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 0000000000000000005\r\n\r\n", wantErr: `bad Content-Length "0000000000000000005"`},
		{name: "two_transfer_encodings", in: "POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
			wantErr: `unsupported Transfer-Encoding "chunked" (want one "chunked" on HTTP/1.1)`},
		{name: "gzip_chunked", in: "POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
			wantErr: `unsupported Transfer-Encoding "gzip, chunked" (want one "chunked" on HTTP/1.1)`},
		{name: "chunked_on_http10", in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
			wantErr: `unsupported Transfer-Encoding "chunked" (want one "chunked" on HTTP/1.1)`},
		{name: "bare_lf", in: "GET / HTTP/1.1\nHost: d\n\n", wantErr: `line not ending in CRLF in "GET / HTTP/1.1\nHost: d\n\n"`},
		{name: "stray_cr", in: "GET / HTTP/1.1\r\nA: b\rc\r\nHost: d\r\n\r\n", wantErr: `stray CR in line "A: b\rc"`},
		{name: "obs_fold", in: "GET / HTTP/1.1\r\nHost: d\r\nX: a\r\n b\r\n\r\n", wantErr: `malformed header line " b"`},
		{name: "nul_in_value", in: "GET / HTTP/1.1\r\nHost: d\r\nX: a\x00b\r\n\r\n", wantErr: `header "X": control character in value`},
		{name: "absolute_form", in: "POST http://docker/build?cgroupparent=/ HTTP/1.1\r\nHost: d\r\n\r\n", wantErr: `malformed request line "POST http://docker/build?cgroupparent=/ HTTP/1.1"`},
		{name: "http2", in: "GET / HTTP/2.0\r\nHost: d\r\n\r\n", wantErr: `unsupported protocol "HTTP/2.0"`},
		{name: "no_host", in: "GET / HTTP/1.1\r\n\r\n", wantErr: "want exactly one Host header, got 0"},
		{name: "two_hosts", in: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", wantErr: "want exactly one Host header, got 2"},
		{name: "bad_host", in: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", wantErr: `malformed Host "a b"`},
		{name: "leading_blank_line", in: "\r\nGET / HTTP/1.1\r\nHost: d\r\n\r\n", wantErr: `malformed request line ""`},
		{name: "double_space", in: "GET  / HTTP/1.1\r\nHost: d\r\n\r\n", wantErr: `malformed request line "GET  / HTTP/1.1"`},
		{name: "space_in_target", in: "GET /a b HTTP/1.1\r\nHost: d\r\n\r\n", wantErr: `unsupported protocol "b HTTP/1.1"`},
	}
	for _, tt := range tests {
		var h reqHead
		err := parseRequest([]byte(tt.in), &h)
		if errString(err) != tt.wantErr || err == nil && (h.framing != tt.want || h.close != tt.close) {
			t.Errorf("%s: parseRequest(%q) = %+v close %v, %v; want %+v close %v, %q", tt.name, tt.in, h.framing, h.close, err, tt.want, tt.close, tt.wantErr)
		}
	}
}

func TestParseRequestAllocs(t *testing.T) {
	head := []byte("POST /v1.47/containers/4b2f/attach?stream=1&stdin=1 HTTP/1.1\r\nHost: api.moby.localhost\r\n" +
		"User-Agent: Docker-Client/28.2.2 (linux)\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\n")
	var h reqHead
	var rh respHead
	br := bufio.NewReader(bytes.NewReader(nil))
	buf := make([]byte, 0, 512)
	src := bytes.NewReader(nil)
	if n := testing.AllocsPerRun(100, func() {
		src.Reset(head)
		br.Reset(src)
		got, err := readHead(br, buf)
		if err != nil || parseRequest(got, &h) != nil || parseResponse(resp, &rh) != nil {
			t.Fatal("parse failed")
		}
	}); n != 0 {
		t.Errorf("reading and parsing a head allocates %v times, want 0", n)
	}
}

func TestChunkSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "1a\r\n", want: 26},
		{in: "0\r\n", want: 0},
		{in: "10;name=val\r\n", want: 16},
		{in: "F \t\r\n", want: 15},
		{in: "000000000000000f\r\n", want: 15},
		{in: "5 ;x\r\n", wantErr: `parse chunk size line "5 ;x\r\n": not 1 to 16 hex digits`},
		{in: "00000000000000005\r\n", wantErr: `parse chunk size line "00000000000000005\r\n": not 1 to 16 hex digits`},
		{in: " 5\r\n", wantErr: `parse chunk size line " 5\r\n": not 1 to 16 hex digits`},
		{in: "+5\r\n", wantErr: `parse chunk size line "+5\r\n": not 1 to 16 hex digits`},
		{in: "0x5\r\n", wantErr: `parse chunk size line "0x5\r\n": not 1 to 16 hex digits`},
		{in: "\r\n", wantErr: `parse chunk size line "\r\n": not 1 to 16 hex digits`},
		{in: "fffffffffffffffff\r\n", wantErr: `parse chunk size line "fffffffffffffffff\r\n": not 1 to 16 hex digits`},
		{in: "ffffffffffffffff\r\n", wantErr: `parse chunk size line "ffffffffffffffff\r\n": chunk too large`},
	}
	for _, tt := range tests {
		got, err := chunkSize([]byte(tt.in))
		if got != tt.want || errString(err) != tt.wantErr {
			t.Errorf("chunkSize(%q) = %d, %v; want %d, %q", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestReadHead(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want, wantErr string }{
		{name: "request", in: "GET / HTTP/1.1\r\nHost: d\r\n\r\nnext", want: "GET / HTTP/1.1\r\nHost: d\r\n\r\n"},
		{name: "long_line", in: "GET / HTTP/1.1\r\nX: 0123456789abcdef0123\r\n\r\n", want: "GET / HTTP/1.1\r\nX: 0123456789abcdef0123\r\n\r\n"},
		{name: "bare_lf_ends_it_for_the_parser_to_refuse", in: "GET / HTTP/1.1\nHost: d\n\nx", want: "GET / HTTP/1.1\nHost: d\n\n"},
		{name: "clean_eof", in: "", wantErr: "EOF"},
		{name: "cut_short", in: "GET / HTTP/1.1\r\nHo", wantErr: "read message head after 18 bytes: unexpected EOF"},
	}
	for _, tt := range tests {
		got, err := readHead(bufio.NewReaderSize(strings.NewReader(tt.in), 16), nil)
		if string(got) != tt.want || errString(err) != tt.wantErr {
			t.Errorf("%s: readHead(%q) = %q, %v; want %q, %q", tt.name, tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// FuzzCopyChunked: the proxy and net/http (dockerd's parser) agree on where
// a chunked body ends and what it holds, and the proxy passes on exactly the
// bytes it consumed: no request can be smuggled past the create check.
func FuzzCopyChunked(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\nGET", "3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n", "0\r\n\r\n", " 5\r\nhello\r\n0\r\n\r\n",
		"5 \r\nhello\r\n0\r\n\r\n", "5\nhello\n0\n\n", "1\r\nab\r\n0\r\n\r\n", "5 ;x\r\nhello\r\n0\r\n\r\n",
		"00000000000000005\r\nhello\r\n0\r\n\r\n", "0000000000000005\r\nhello\r\n0\r\n\r\n", "5\t;x\r\nhello\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var raw, data bytes.Buffer
		src := bufio.NewReader(bytes.NewReader(in))
		if err := copyBody(&raw, src, framing{kind: chunkedBody}, &data, nil, nil); err != nil {
			return
		}
		// What net/http reads from the same bytes as a request body.
		req := "POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n"
		if !bytes.HasPrefix(in, raw.Bytes()) {
			t.Fatalf("copyChunked(%q) passed on %q, not a prefix of its input", in, raw.Bytes())
		}
		hr, err := http.ReadRequest(bufio.NewReader(io.MultiReader(strings.NewReader(req), bytes.NewReader(raw.Bytes()))))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(hr.Body)
		if err != nil || !bytes.Equal(got, data.Bytes()) {
			t.Fatalf("copyChunked(%q) decoded %q; net/http decodes %q, %v", in, data.Bytes(), got, err)
		}
		if _, herr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(raw.Bytes()))); herr != nil {
			t.Fatalf("copyChunked(%q) accepted what httputil rejects: %v", in, herr)
		}
	})
}

// TestRefusedByBoth: the inputs a review found the old parser accepting are
// refused by the proxy and by net/http's server alike.
func TestRefusedByBoth(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"POST / HTTP/1.1\r\nHost: d\r\nContent-Length : 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n5 ;x\r\nhello\r\n0\r\n\r\n",
	} {
		br := bufio.NewReader(strings.NewReader(in))
		head, err := readHead(br, nil)
		var h reqHead
		if err == nil {
			if err = parseRequest(head, &h); err == nil {
				err = copyBody(io.Discard, br, h.framing, nil, nil, nil)
			}
		}
		if err == nil {
			t.Errorf("proxy accepted %q", in)
		}
		if s, ok := serverReads(t, []byte(in)); ok && !strings.HasPrefix(s.body, "ERROR ") {
			t.Errorf("net/http's server read %q as %+v", in, s)
		}
	}
}

// seen is what net/http's server made of a request.
type seen struct {
	method, uri  string
	length       int64
	chunked      bool
	body         string
	headerFields int
}

// serverReads feeds raw to a real net/http server, dockerd's, over a pipe
// and reports the first request it handed to its handler, or false when it
// refused the input.
func serverReads(t *testing.T, raw []byte) (seen, bool) {
	t.Helper()
	cli, srvEnd := net.Pipe()
	defer cli.Close()
	got := make(chan seen, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		s := seen{method: r.Method, uri: r.RequestURI, length: r.ContentLength, chunked: len(r.TransferEncoding) > 0, body: string(b), headerFields: len(r.Header)}
		if err != nil {
			s.body = "ERROR " + err.Error()
		}
		got <- s
		w.Header().Set("Connection", "close")
		w.WriteHeader(299)
	}), ReadHeaderTimeout: time.Second, ErrorLog: nil}
	ln := &oneConn{c: srvEnd, done: make(chan struct{})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	go func() { _, _ = cli.Write(raw); _, _ = cli.Write([]byte("\r\n\r\n")) }()
	_ = cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(cli), nil)
	if err != nil || resp.StatusCode != 299 {
		return seen{}, false
	}
	return <-got, true
}

type oneConn struct {
	c    net.Conn
	done chan struct{}
	used bool
}

func (l *oneConn) Accept() (net.Conn, error) {
	if !l.used {
		l.used = true
		return l.c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}
func (l *oneConn) Close() error {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return nil
}
func (l *oneConn) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "unix"} }

// FuzzParseRequest: a request head the proxy accepts is one net/http's
// server accepts too, with the same method, target and framing, and its
// body is what the server reads: no request can be smuggled past the
// proxy's checks, on either side of a body boundary.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: d\r\n\r\n", "POST /containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\n\r\n{}",
		"POST /build HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "GET / HTTP/1.1\nA: b\n\n",
		"GET / HTTP/1.1\r\nHost: d\r\nA: b\r\r\n\r\n", "POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"POST / HTTP/1.1\r\nHost: d\r\nContent-Length : 5\r\n\r\nhello", "POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n5 ;x\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", "GET / HTTP/1.1\r\nHost: d\r\nX: a\r\n b\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		head, err := readHead(bufio.NewReader(bytes.NewReader(in)), nil)
		if err != nil {
			return
		}
		var h reqHead
		if parseRequest(head, &h) != nil {
			return // refused with 400
		}
		rest := bufio.NewReader(bytes.NewReader(in[len(head):]))
		var body bytes.Buffer
		if copyBody(io.Discard, rest, h.framing, &body, nil, nil) != nil {
			return // the body is refused: the connection closes
		}
		s, ok := serverReads(t, in[:len(in)-rest.Buffered()])
		if !ok {
			t.Fatalf("proxy accepted %q that net/http's server refuses", in)
		}
		chunked := h.framing.kind == chunkedBody
		if s.method != string(h.method) || s.uri != string(h.target) || s.chunked != chunked || !chunked && s.length != max(h.framing.n, 0) ||
			s.body != body.String() {
			t.Fatalf("%q: proxy reads %s %s %+v body %q, net/http %+v", in, h.method, h.target, h.framing, body.String(), s)
		}
	})
}
