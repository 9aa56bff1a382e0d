package adopt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// maxHead bounds a request or response head; dockerd's own limit is 1 MiB.
const maxHead = 1 << 20

// errHeadTooLarge is a message head beyond maxHead.
var errHeadTooLarge = errors.New("message head larger than 1 MiB")

// readHead reads one HTTP message head (start line, headers, blank line)
// exactly as it came, so it can be passed on byte for byte. It returns
// io.EOF when the connection ended cleanly before a head started.
func readHead(br *bufio.Reader) ([]byte, error) {
	var head, line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if len(head)+len(line) > maxHead {
			return nil, errHeadTooLarge
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(head) == 0 && len(line) == 0 {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("read message head after %d bytes: %w", len(head)+len(line), noEOF(err))
		}
		blank := len(bytes.TrimRight(line, "\r\n")) == 0
		if blank && len(head) == 0 {
			line = line[:0] // RFC 9112 2.2: ignore empty lines before a request
			continue
		}
		head = append(head, line...)
		line = line[:0]
		if blank {
			return head, nil
		}
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// headReaders are the readers net/http parses a captured head from.
var headReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

func parseRequestHead(head []byte) (*http.Request, error) {
	br := headReaders.Get().(*bufio.Reader)
	defer headReaders.Put(br)
	br.Reset(bytes.NewReader(head))
	return http.ReadRequest(br)
}

func parseResponseHead(head []byte, req *http.Request) (*http.Response, error) {
	br := headReaders.Get().(*bufio.Reader)
	defer headReaders.Put(br)
	br.Reset(bytes.NewReader(head))
	return http.ReadResponse(br, req)
}

// framing is how a message body is delimited on the wire.
type framing struct {
	kind framingKind
	n    int64 // fixed: the Content-Length
}

type framingKind int

const (
	noBody framingKind = iota
	fixedBody
	chunkedBody
	untilClose
)

// requestFraming follows RFC 9112 6.3 for requests, as net/http parsed it.
func requestFraming(req *http.Request) framing {
	switch {
	case isChunked(req.TransferEncoding):
		return framing{kind: chunkedBody}
	case req.ContentLength > 0:
		return framing{kind: fixedBody, n: req.ContentLength}
	}
	return framing{kind: noBody}
}

// responseFraming follows RFC 9112 6.3 for responses to method.
func responseFraming(resp *http.Response, method string) framing {
	code := resp.StatusCode
	switch {
	case method == http.MethodHead, code/100 == 1, code == http.StatusNoContent, code == http.StatusNotModified:
		return framing{kind: noBody}
	case isChunked(resp.TransferEncoding):
		return framing{kind: chunkedBody}
	case resp.ContentLength == 0:
		return framing{kind: noBody}
	case resp.ContentLength > 0:
		return framing{kind: fixedBody, n: resp.ContentLength}
	}
	return framing{kind: untilClose}
}

func isChunked(te []string) bool {
	return len(te) > 0 && strings.EqualFold(te[len(te)-1], "chunked")
}

// maxChunkLine bounds a chunk-size line (size, extensions) or trailer line,
// as net/http does.
const maxChunkLine = 4096

// isHeaderLine accepts "name: value" with name an RFC 9110 token; continuation
// lines are refused (stricter than net/http, so never looser).
func isHeaderLine(line []byte) bool {
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 {
		return false
	}
	for _, b := range name {
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0) {
			return false
		}
	}
	return true
}

func chunkSize(line []byte) (int64, error) {
	// Parse as net/http (dockerd's parser) does, so both ends agree on
	// where the body stops: hex digits only, whitespace before ';' or the
	// line end.
	s := strings.TrimRight(string(bytes.TrimRight(line, "\r\n")), " \t")
	s, _, _ = strings.Cut(s, ";")
	s = strings.TrimRight(s, " \t")
	n, err := strconv.ParseInt(s, 16, 64)
	if err != nil || strings.IndexFunc(s, notHex) >= 0 {
		return 0, fmt.Errorf("parse chunk size line %q: not a hex size", line)
	}
	return n, nil
}

func notHex(r rune) bool {
	return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F')
}

// readLine returns one CRLF-terminated line, bounded by maxChunkLine. A bare
// LF or a stray CR is an error, as in net/http: both ends must agree on
// framing.
func readLine(src *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := src.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > maxChunkLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxChunkLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, noEOF(err)
		}
		if bytes.IndexByte(line, '\r') != len(line)-2 {
			return nil, fmt.Errorf("line %q does not end in its only CR and LF", line)
		}
		return line, nil
	}
}

// withLength rewrites a request head for a new body of n bytes: drops
// Content-Length, Transfer-Encoding and Expect (with their continuation
// lines) and adds Content-Length: n. Every other line keeps its bytes.
func withLength(head []byte, n int) []byte {
	lines := bytes.SplitAfter(head, []byte("\n"))
	out := make([]byte, 0, len(head)+24)
	out = append(out, lines[0]...)
	dropping := false
	for _, l := range lines[1:] {
		if len(bytes.TrimRight(l, "\r\n")) == 0 {
			break
		}
		if l[0] == ' ' || l[0] == '\t' {
			if !dropping {
				out = append(out, l...)
			}
			continue
		}
		name, _, _ := bytes.Cut(l, []byte(":"))
		switch strings.ToLower(string(bytes.TrimSpace(name))) {
		case "content-length", "transfer-encoding", "expect":
			dropping = true
		default:
			dropping = false
			out = append(out, l...)
		}
	}
	return append(out, "Content-Length: "+strconv.Itoa(n)+"\r\n\r\n"...)
}
