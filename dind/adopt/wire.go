package adopt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// maxHead bounds a request or response head; dockerd's own limit is 1 MiB.
const maxHead = 1 << 20

// errHeadTooLarge is a message head beyond maxHead.
var errHeadTooLarge = errors.New("message head larger than 1 MiB")

// readHead reads one HTTP message head (start line, headers, blank line)
// exactly as it came into buf (reused), so it can be passed on byte for
// byte. It returns io.EOF when the connection ended cleanly before a head
// started. Line endings are checked by the parsers, not here.
func readHead(br *bufio.Reader, buf []byte) ([]byte, error) {
	head, start := buf[:0], 0
	for {
		frag, err := br.ReadSlice('\n')
		if len(head)+len(frag) > maxHead {
			return nil, errHeadTooLarge
		}
		head = append(head, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(head) == 0 {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("read message head after %d bytes: %w", len(head), noEOF(err))
		}
		if line := head[start:]; len(line) == 1 || len(line) == 2 && line[0] == '\r' {
			return head, nil
		}
		start = len(head)
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// reqHead is a request head parsed in place: its slices point into the
// head they were parsed from.
type reqHead struct {
	method, target []byte
	framing        framing
	// close: the client ends the connection after this exchange
	// (Connection: close, or HTTP/1.0 without keep-alive).
	close     bool
	expect100 bool
	// contentType is the first Content-Type value; contentTypes counts them.
	contentType  []byte
	contentTypes int
}

// respHead is a response head parsed in place.
type respHead struct {
	status int
	close  bool
	length int64 // -1: none given
	chunk  bool
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

// badHead says why a head is refused; parsing allocates only then.
func badHead(format string, args ...any) error { return fmt.Errorf(format, args...) }

// parseRequest parses a request head as strictly as net/http's server or
// more: CRLF line endings only, no obs-fold, token header names, no control
// characters in values, origin-form targets, HTTP/1.0 or 1.1, exactly one
// Host on HTTP/1.1, at most one Content-Length (plain digits), at most one
// Transfer-Encoding (exactly chunked, HTTP/1.1 only) and never both. It
// does not allocate unless it fails.
func parseRequest(head []byte, h *reqHead) error {
	*h = reqHead{}
	line, rest, err := nextLine(head)
	if err != nil {
		return err
	}
	method, rest1, ok := bytes.Cut(line, []byte(" "))
	target, proto, ok2 := bytes.Cut(rest1, []byte(" "))
	if !ok || !ok2 || !isToken(method) || len(target) == 0 || target[0] != '/' {
		return badHead("malformed request line %q", line)
	}
	for i, b := range target {
		// A '%' not followed by two hex digits: net/http's server refuses
		// it in the path (url.ParseRequestURI); refused in the query too.
		if b <= ' ' || b >= 0x7f || b == '%' && (i+2 >= len(target) || !isHex(target[i+1]) || !isHex(target[i+2])) {
			return badHead("malformed request target %q", target)
		}
	}
	var http10 bool
	switch string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		http10 = true
	default:
		return badHead("unsupported protocol %q", proto)
	}
	h.method, h.target = method, target
	var f fields
	if err := f.parse(rest, http10); err != nil {
		return err
	}
	if !http10 && f.hosts != 1 || f.hosts > 1 {
		return badHead("want exactly one Host header, got %d", f.hosts)
	}
	h.framing = framing{kind: noBody}
	switch {
	case f.chunked:
		h.framing = framing{kind: chunkedBody}
	case f.length > 0:
		h.framing = framing{kind: fixedBody, n: f.length}
	}
	h.close = f.close || http10 && !f.keepAlive
	h.expect100, h.contentType, h.contentTypes = f.expect100, f.contentType, f.contentTypes
	return nil
}

// parseResponse parses a response head from dockerd with the same rules.
func parseResponse(head []byte, h *respHead) error {
	*h = respHead{}
	line, rest, err := nextLine(head)
	if err != nil {
		return err
	}
	proto, status, _ := bytes.Cut(line, []byte(" "))
	code, _, _ := bytes.Cut(status, []byte(" "))
	var http10 bool
	switch string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		http10 = true
	default:
		return badHead("malformed status line %q", line)
	}
	if len(code) != 3 || !isDigits(code) || code[0] == '0' {
		return badHead("malformed status line %q", line)
	}
	h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	var f fields
	if err := f.parse(rest, http10); err != nil {
		return err
	}
	h.close = f.close || http10 && !f.keepAlive
	h.length, h.chunk = f.length, f.chunked
	return nil
}

// fields is what the proxy needs from header fields.
type fields struct {
	length                  int64 // -1: no Content-Length
	chunked                 bool
	close, keepAlive        bool
	expect100               bool
	hosts                   int
	contentType             []byte
	contentTypes            int
	sawLength, sawTransfers bool
}

func (f *fields) parse(rest []byte, http10 bool) error {
	f.length = -1
	for {
		line, next, err := nextLine(rest)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			if len(next) != 0 {
				return badHead("data after the message head")
			}
			break
		}
		rest = next
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !isToken(name) {
			return badHead("malformed header line %q", line)
		}
		value = trimOWS(value)
		for _, b := range value {
			if b < ' ' && b != '\t' || b == 0x7f {
				return badHead("header %q: control character in value", name)
			}
		}
		if err := f.field(name, value, http10); err != nil {
			return err
		}
	}
	if f.sawLength && f.sawTransfers {
		return badHead("both Content-Length and Transfer-Encoding: refused (request smuggling)")
	}
	return nil
}

func (f *fields) field(name, value []byte, http10 bool) error {
	switch {
	case asciiEqualFold(name, "content-length"):
		if f.sawLength {
			return badHead("more than one Content-Length")
		}
		f.sawLength = true
		if len(value) == 0 || len(value) > 18 || !isDigits(value) {
			return badHead("bad Content-Length %q", value)
		}
		f.length = 0
		for _, c := range value { // 18 digits always fit
			f.length = f.length*10 + int64(c-'0')
		}
	case asciiEqualFold(name, "transfer-encoding"):
		if f.sawTransfers || http10 || !asciiEqualFold(value, "chunked") {
			return badHead("unsupported Transfer-Encoding %q (want one \"chunked\" on HTTP/1.1)", value)
		}
		f.sawTransfers, f.chunked = true, true
	case asciiEqualFold(name, "connection"):
		for rest := value; len(rest) > 0; {
			var tok []byte
			tok, rest, _ = bytes.Cut(rest, []byte(","))
			switch tok = trimOWS(tok); {
			case asciiEqualFold(tok, "close"):
				f.close = true
			case asciiEqualFold(tok, "keep-alive"):
				f.keepAlive = true
			}
		}
	case asciiEqualFold(name, "expect"):
		f.expect100 = asciiEqualFold(value, "100-continue")
	case asciiEqualFold(name, "host"):
		f.hosts++
		for _, b := range value {
			if !isHostByte(b) {
				return badHead("malformed Host %q", value)
			}
		}
	case asciiEqualFold(name, "content-type"):
		if f.contentTypes == 0 {
			f.contentType = value
		}
		f.contentTypes++
	}
	return nil
}

// nextLine splits off one CRLF-terminated line; a bare LF or CR is refused.
func nextLine(b []byte) (line, rest []byte, err error) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, badHead("line not ending in CRLF in %q", clip(b))
	}
	line = b[:i-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, nil, badHead("stray CR in line %q", line)
	}
	return line, b[i+1:], nil
}

func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTchar(c) {
			return false
		}
	}
	return true
}

// isTchar is RFC 9110's tchar.
func isTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// isHostByte is a subset of what net/http's server accepts in Host.
func isHostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		bytes.IndexByte([]byte("-._~:[]%!$&'()*+,;="), c) >= 0
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// asciiEqualFold compares b with lower, an ASCII lower-case string.
func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
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

// responseFraming follows RFC 9112 6.3 for a response to method.
func responseFraming(h *respHead, method []byte) framing {
	switch {
	case string(method) == "HEAD", h.status/100 == 1, h.status == 204, h.status == 304:
		return framing{kind: noBody}
	case h.chunk:
		return framing{kind: chunkedBody}
	case h.length == 0:
		return framing{kind: noBody}
	case h.length > 0:
		return framing{kind: fixedBody, n: h.length}
	}
	return framing{kind: untilClose}
}

// maxChunkLine bounds a chunk-size line (size, extensions) or trailer line,
// as net/http does.
const maxChunkLine = 4096

// isHeaderLine accepts "name: value" with name an RFC 9110 token and no
// control character in value; continuation lines are refused.
func isHeaderLine(line []byte) bool {
	name, value, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\r\n")), []byte(":"))
	if !ok || !isToken(name) {
		return false
	}
	for _, b := range value {
		if b < ' ' && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}

// chunkSize parses a chunk-size line exactly as net/http (dockerd's parser)
// does, so both ends agree on where the body stops: trailing whitespace is
// dropped, then any extension from ';', and what is left is 1 to 16 hex
// digits ("5 ;x" and 17 digits are refused, as there).
func chunkSize(line []byte) (int64, error) {
	s := bytes.TrimSuffix(line, []byte("\r\n"))
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	s, _, _ = bytes.Cut(s, []byte(";"))
	if len(s) == 0 || len(s) > 16 {
		return 0, fmt.Errorf("parse chunk size line %q: not 1 to 16 hex digits", line)
	}
	var n uint64
	for _, c := range s {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("parse chunk size line %q: not 1 to 16 hex digits", line)
		}
		n = n<<4 | uint64(d)
	}
	if n > 1<<62 {
		return 0, fmt.Errorf("parse chunk size line %q: chunk too large", line)
	}
	return int64(n), nil
}

// withLength rewrites a request head for a new body of n bytes: drops
// Content-Length, Transfer-Encoding and Expect and adds Content-Length: n.
// Every other line keeps its bytes. The head was accepted by parseRequest:
// CRLF lines, no continuation lines.
func withLength(head []byte, n int) []byte {
	out := make([]byte, 0, len(head)+24)
	line, rest, _ := bytes.Cut(head, []byte("\n"))
	out = append(append(out, line...), '\n')
	for len(rest) > 2 {
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		name, _, _ := bytes.Cut(line, []byte(":"))
		if asciiEqualFold(name, "content-length") || asciiEqualFold(name, "transfer-encoding") || asciiEqualFold(name, "expect") {
			continue
		}
		out = append(append(out, line...), '\n')
	}
	return append(out, "Content-Length: "+strconv.Itoa(n)+"\r\n\r\n"...)
}
