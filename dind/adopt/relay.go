package adopt

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
)

// relayBuf is the copy and write-coalescing size, io.Copy's own.
const relayBuf = 32 << 10

var relayPool = sync.Pool{New: func() any {
	return &relay{dst: bufio.NewWriterSize(nil, relayBuf), buf: make([]byte, relayBuf)}
}}

// relay copies one message body from src to dst verbatim. It coalesces
// writes only while more input is already at hand and flushes before any
// read that could wait, so nothing is held back from a stream.
type relay struct {
	src    *bufio.Reader
	dst    *bufio.Writer
	data   io.Writer // receives the decoded payload when not nil
	before func()    // runs before a read that may wait, when not nil
	buf    []byte
}

// copyBody writes prefix (a message head) and then one body framed by f
// from src to raw, verbatim (chunk sizes and trailers included), and the
// decoded payload to data when data is not nil. before, when not nil, runs
// before each read that may wait (to set a deadline). An untilClose body
// needs the whole connection: the caller splices it.
func copyBody(raw io.Writer, src *bufio.Reader, f framing, data io.Writer, prefix []byte, before func()) error {
	r := relayPool.Get().(*relay)
	r.src, r.data, r.before = src, data, before
	r.dst.Reset(raw)
	defer func() {
		r.src, r.data, r.before = nil, nil, nil
		r.dst.Reset(nil)
		relayPool.Put(r)
	}()
	_, _ = r.dst.Write(prefix) // a bufio.Writer error comes back from Flush
	var err error
	switch f.kind {
	case noBody:
	case fixedBody:
		err = r.copyN(f.n)
	case chunkedBody:
		err = r.copyChunked()
	default:
		err = fmt.Errorf("copy body: framing %d needs the connection", f.kind)
	}
	if err != nil {
		return err
	}
	return r.dst.Flush()
}

// willBlock flushes when the next read may wait for input.
func (r *relay) willBlock(needLine bool) error {
	b, _ := r.src.Peek(r.src.Buffered())
	if len(b) == 0 || needLine && bytes.IndexByte(b, '\n') < 0 {
		if r.before != nil {
			r.before()
		}
		return r.dst.Flush()
	}
	return nil
}

func (r *relay) copyN(n int64) error {
	for n > 0 {
		if err := r.willBlock(false); err != nil {
			return err
		}
		m, err := r.src.Read(r.buf[:min(n, int64(len(r.buf)))])
		if m > 0 {
			n -= int64(m)
			if _, werr := r.dst.Write(r.buf[:m]); werr != nil {
				return werr
			}
			if r.data != nil {
				if _, werr := r.data.Write(r.buf[:m]); werr != nil {
					return werr
				}
			}
		}
		if err != nil && n > 0 {
			return fmt.Errorf("body cut short with %d bytes to go: %w", n, noEOF(err))
		}
	}
	return nil
}

func (r *relay) line() ([]byte, error) {
	if err := r.willBlock(true); err != nil {
		return nil, err
	}
	return readLine(r.src)
}

// copyChunked copies a chunked body (RFC 9112 7.1) chunk by chunk, so a
// stream such as GET /events reaches the client as dockerd writes it.
func (r *relay) copyChunked() error {
	for {
		line, err := r.line()
		if err != nil {
			return fmt.Errorf("read chunk size: %w", err)
		}
		size, err := chunkSize(line)
		if err != nil {
			return err
		}
		_, _ = r.dst.Write(line)
		if size == 0 {
			return r.copyTrailers()
		}
		if err := r.copyN(size); err != nil {
			return fmt.Errorf("copy chunk of %d bytes: %w", size, err)
		}
		crlf, err := r.line()
		if err != nil || string(crlf) != "\r\n" {
			return fmt.Errorf("chunk of %d bytes not followed by CRLF: %q %v", size, crlf, err)
		}
		_, _ = r.dst.Write(crlf)
	}
}

func (r *relay) copyTrailers() error {
	for {
		line, err := r.line()
		if err != nil {
			return fmt.Errorf("read chunked trailer: %w", err)
		}
		blank := string(line) == "\r\n"
		if !blank && !isHeaderLine(line) {
			return fmt.Errorf("chunked trailer line %q is not a header field", line)
		}
		_, _ = r.dst.Write(line)
		if blank {
			return nil
		}
	}
}

// relayStream copies a hijacked stream from src (whose first bytes may sit
// in buffered) to dst until src ends.
func relayStream(dst, src *net.UnixConn, buffered *bufio.Reader) error {
	if n := buffered.Buffered(); n > 0 {
		b, _ := buffered.Peek(n)
		if _, err := dst.Write(b); err != nil {
			return err
		}
		_, _ = buffered.Discard(n)
	}
	_, err := io.Copy(dst, src)
	return err
}
