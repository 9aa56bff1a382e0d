package adopt

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
)

func TestWithLength(t *testing.T) {
	t.Parallel()
	in := "POST /v1.47/containers/create?name=a HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n" +
		"content-length: 3\r\nExpect: 100-continue\r\nX-Folded: a\r\n b\r\nUser-Agent: Docker-Client/28.2.2 (linux)\r\n\r\n"
	want := "POST /v1.47/containers/create?name=a HTTP/1.1\r\nHost: docker\r\nX-Folded: a\r\n b\r\n" +
		"User-Agent: Docker-Client/28.2.2 (linux)\r\nContent-Length: 42\r\n\r\n"
	if got := string(withLength([]byte(in), 42)); got != want {
		t.Errorf("withLength(%q) =\n%q\nwant\n%q", in, got, want)
	}
}

func TestIsCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, target string
		want           bool
	}{
		{"POST", "/containers/create", true},
		{"POST", "/v1.47/containers/create?name=web", true},
		{"POST", "/v1/containers/create", true},
		{"POST", "/v1.2.3/containers/create", true},
		{"post", "/v1.47/containers/create", true},
		{"POST", "//containers//create", true},
		{"POST", "/v1.47/containers/%63reate", true},
		{"POST", "/v1.47/x/../containers/create", true},
		{"POST", "/containers/create/", true},
		{"GET", "/v1.47/containers/create", false},
		{"POST", "/v1.47/containers/4b2f/start", false},
		{"POST", "/v1.47/containers/createx", false},
		{"POST", "/vx/containers/create", false},
	}
	for _, tt := range tests {
		req, err := parseRequestHead([]byte(tt.method + " " + tt.target + " HTTP/1.1\r\nHost: docker\r\n\r\n"))
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.target, err)
		}
		if got := isCreate(req); got != tt.want {
			t.Errorf("isCreate(%s %s) = %v, want %v", tt.method, tt.target, got, tt.want)
		}
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
		{in: " 5\r\n", wantErr: `parse chunk size line " 5\r\n": not a hex size`},
		{in: "+5\r\n", wantErr: `parse chunk size line "+5\r\n": not a hex size`},
		{in: "0x5\r\n", wantErr: `parse chunk size line "0x5\r\n": not a hex size`},
		{in: "\r\n", wantErr: `parse chunk size line "\r\n": not a hex size`},
		{in: "fffffffffffffffff\r\n", wantErr: `parse chunk size line "fffffffffffffffff\r\n": not a hex size`},
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
		{name: "leading_blank_lines", in: "\r\n\r\nGET / HTTP/1.1\r\n\r\n", want: "GET / HTTP/1.1\r\n\r\n"},
		{name: "bare_lf", in: "GET / HTTP/1.1\nHost: d\n\n", want: "GET / HTTP/1.1\nHost: d\n\n"},
		{name: "clean_eof", in: "", wantErr: "EOF"},
		{name: "cut_short", in: "GET / HTTP/1.1\r\nHo", wantErr: "read message head after 18 bytes: unexpected EOF"},
	}
	for _, tt := range tests {
		got, err := readHead(bufio.NewReaderSize(strings.NewReader(tt.in), 16))
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
		"5 \r\nhello\r\n0\r\n\r\n", "5\nhello\n0\n\n", "1\r\nab\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var raw, data bytes.Buffer
		src := bufio.NewReader(bytes.NewReader(in))
		err := copyBody(&raw, src, framing{kind: chunkedBody}, &data, nil)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(in, raw.Bytes()) {
			t.Fatalf("copyChunked(%q) passed on %q, not a prefix of its input", in, raw.Bytes())
		}
		// What net/http reads from the same input as a request body.
		req := "POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n"
		hr, herr := http.ReadRequest(bufio.NewReader(io.MultiReader(strings.NewReader(req), bytes.NewReader(raw.Bytes()))))
		if herr != nil {
			t.Fatal(herr)
		}
		got, herr := io.ReadAll(hr.Body)
		if herr != nil || !bytes.Equal(got, data.Bytes()) {
			t.Fatalf("copyChunked(%q) decoded %q; net/http decodes %q, %v", in, data.Bytes(), got, herr)
		}
		if _, herr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(raw.Bytes()))); herr != nil {
			t.Fatalf("copyChunked(%q) accepted what httputil rejects: %v", in, herr)
		}
	})
}

// FuzzReadHead: a request head the proxy accepts and forwards is the
// request net/http (dockerd) reads from it: it ends at the same byte, with
// the same target, headers and framing.
func FuzzReadHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: d\r\n\r\n", "\r\nPOST /containers/create HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
		"POST /build HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "GET / HTTP/1.1\nA: b\n\n",
		"GET / HTTP/1.1\r\nA: b\r\r\n\r\n", "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		head, err := readHead(bufio.NewReader(bytes.NewReader(in)))
		if err != nil {
			return
		}
		ours, err := parseRequestHead(head)
		if err != nil {
			return // refused with 400
		}
		// What dockerd receives: the head as forwarded, then the rest.
		const tail = "NEXT"
		fwd := append(append([]byte{}, head...), tail...)
		br := bufio.NewReaderSize(bytes.NewReader(fwd), len(fwd)+16)
		theirs, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("proxy accepted head %q that net/http rejects: %v", head, err)
		}
		if br.Buffered() != len(tail) {
			t.Fatalf("head %q: net/http's head ends %d bytes elsewhere", head, len(tail)-br.Buffered())
		}
		if ours.Method != theirs.Method || ours.RequestURI != theirs.RequestURI || ours.ContentLength != theirs.ContentLength ||
			isChunked(ours.TransferEncoding) != isChunked(theirs.TransferEncoding) || len(ours.Header) != len(theirs.Header) {
			t.Fatalf("head %q: proxy reads %s %s len %d te %q, net/http %s %s len %d te %q", head,
				ours.Method, ours.RequestURI, ours.ContentLength, ours.TransferEncoding,
				theirs.Method, theirs.RequestURI, theirs.ContentLength, theirs.TransferEncoding)
		}
	})
}
