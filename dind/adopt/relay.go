package adopt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
)

// Reader sizes: a body is relayed a read buffer at a time, so the client
// side (build contexts, image loads) gets a large one.
const (
	clientBuf = 64 << 10
	upBuf     = 32 << 10
)

// copyBody writes prefix (a message head) and then one body framed by f
// from src to raw, verbatim (chunk sizes and trailers included), and the
// decoded payload to data when data is not nil. Each read of src is
// written on at once, in one write with what is pending, so a stream is
// never held back. before, when not nil, runs before each read that may
// wait (to set a deadline). An untilClose body needs the whole connection:
// the caller splices it.
func copyBody(raw io.Writer, src *bufio.Reader, f framing, data io.Writer, prefix []byte, before func()) error {
	var sc chunkScanner
	left := f.n
	pending := prefix
	for {
		switch {
		case f.kind == noBody, f.kind == fixedBody && left == 0, f.kind == chunkedBody && sc.state == chunkDone:
			return writeAll(raw, pending, nil)
		case f.kind == untilClose:
			return fmt.Errorf("copy body: framing %d needs the connection", f.kind)
		}
		if src.Buffered() == 0 {
			if err := writeAll(raw, pending, nil); err != nil {
				return err
			}
			pending = nil
			if before != nil {
				before()
			}
			if _, err := src.Peek(1); err != nil {
				return cutShort(f, left, err)
			}
		}
		b, _ := src.Peek(src.Buffered())
		var n int
		if f.kind == fixedBody {
			n = int(min(int64(len(b)), left))
			left -= int64(n)
			if data != nil {
				if _, err := data.Write(b[:n]); err != nil {
					return err
				}
			}
		} else {
			var err error
			if n, err = sc.feed(b, data); err != nil {
				return err
			}
		}
		if n == 0 {
			// A chunk line split across reads: wait for more of it.
			if err := writeAll(raw, pending, nil); err != nil {
				return err
			}
			pending = nil
			if before != nil {
				before()
			}
			if _, err := src.Peek(len(b) + 1); err != nil {
				if errors.Is(err, bufio.ErrBufferFull) {
					return fmt.Errorf("chunk line longer than %d bytes", maxChunkLine)
				}
				return cutShort(f, left, err)
			}
			continue
		}
		if err := writeAll(raw, pending, b[:n]); err != nil {
			return err
		}
		pending = nil
		_, _ = src.Discard(n)
	}
}

func cutShort(f framing, left int64, err error) error {
	if f.kind == fixedBody {
		return fmt.Errorf("body cut short with %d bytes to go: %w", left, noEOF(err))
	}
	return fmt.Errorf("chunked body cut short: %w", noEOF(err))
}

// writeAll writes a and b in one write (writev on a connection).
func writeAll(w io.Writer, a, b []byte) error {
	switch {
	case len(a) == 0 && len(b) == 0:
		return nil
	case len(a) == 0:
		_, err := w.Write(b)
		return err
	case len(b) == 0:
		_, err := w.Write(a)
		return err
	}
	if s, ok := w.(sockIO); ok {
		_, err := s.writev(a, b)
		return err
	}
	bufs := net.Buffers{a, b}
	_, err := bufs.WriteTo(w)
	return err
}

// chunkScanner follows a chunked body (RFC 9112 7.1) through the bytes
// that pass, parsing each chunk-size line as net/http does (chunkSize).
type chunkScanner struct {
	state chunkState
	left  int64 // chunkData: bytes of the chunk still to come
}

type chunkState int

const (
	chunkSizeLine chunkState = iota
	chunkData
	chunkDataEnd // the CRLF after a chunk's data
	chunkTrailer
	chunkDone
)

// feed consumes what it can of b: it returns how many bytes belong to the
// body (0 when a line is not complete yet) and writes the payload among
// them to data when data is not nil.
func (s *chunkScanner) feed(b []byte, data io.Writer) (int, error) {
	n := 0
	for n < len(b) && s.state != chunkDone {
		if s.state == chunkData {
			k := int(min(int64(len(b)-n), s.left))
			if data != nil {
				if _, err := data.Write(b[n : n+k]); err != nil {
					return 0, err
				}
			}
			n += k
			if s.left -= int64(k); s.left == 0 {
				s.state = chunkDataEnd
			}
			continue
		}
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 {
			if len(b)-n >= maxChunkLine {
				return 0, fmt.Errorf("chunk line longer than %d bytes", maxChunkLine)
			}
			return n, nil
		}
		line := b[n : n+i+1]
		if len(line) > maxChunkLine {
			return 0, fmt.Errorf("chunk line longer than %d bytes", maxChunkLine)
		}
		if bytes.IndexByte(line, '\r') != len(line)-2 {
			return 0, fmt.Errorf("chunk line %q does not end in its only CR and LF", line)
		}
		if err := s.line(line); err != nil {
			return 0, err
		}
		n += len(line)
	}
	return n, nil
}

func (s *chunkScanner) line(line []byte) error {
	switch s.state {
	case chunkSizeLine:
		size, err := chunkSize(line)
		if err != nil {
			return err
		}
		s.state, s.left = chunkData, size
		if size == 0 {
			s.state = chunkTrailer
		}
	case chunkDataEnd:
		if string(line) != "\r\n" {
			return fmt.Errorf("chunk data not followed by CRLF: %q", line)
		}
		s.state = chunkSizeLine
	case chunkTrailer:
		switch {
		case string(line) == "\r\n":
			s.state = chunkDone
		case !isHeaderLine(line):
			return fmt.Errorf("chunked trailer line %q is not a header field", line)
		}
	}
	return nil
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
	_, err := spliceConn(dst, src, -1, nil)
	return err
}
