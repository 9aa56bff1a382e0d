package background

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"sync"
)

const (
	// maxLine bounds one logged line; longer output is cut into pieces of
	// this size, never buffered without limit.
	maxLine = 64 * 1024
	// tailSize bounds the output kept for the error that reports a death.
	tailSize = 4096
)

// scanLines calls fn for every line read from r, without its "\n" or
// "\r\n"; a line longer than max arrives as several pieces. It returns at
// EOF or on the first read error.
func scanLines(r io.Reader, max int, fn func(string)) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, min(4096, max+1)), max+1) // room for a full line and its "\n"
	s.Split(splitLines(max))
	for s.Scan() {
		fn(s.Text())
	}
}

// splitLines is bufio.ScanLines with a bound: a token never exceeds max
// bytes, so the scanner never fails with ErrTooLong and stops reading.
func splitLines(max int) bufio.SplitFunc {
	return func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 && i <= max {
			return i + 1, bytes.TrimSuffix(data[:i], []byte{'\r'}), nil
		}
		if len(data) >= max {
			return max, data[:max], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), bytes.TrimSuffix(data, []byte{'\r'}), nil
		}
		return 0, nil, nil
	}
}

// ring keeps the last max bytes of output (counting one "\n" per line), cut
// at line boundaries; a single line longer than max keeps its end.
type ring struct {
	mu    sync.Mutex
	max   int
	lines []string
	size  int
}

func newRing(max int) *ring { return &ring{max: max} }

func (r *ring) WriteLine(l string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(l) >= r.max {
		l = l[len(l)-r.max+1:]
	}
	r.lines = append(r.lines, l)
	r.size += len(l) + 1
	for r.size > r.max {
		r.size -= len(r.lines[0]) + 1
		r.lines = r.lines[1:]
	}
}

// String returns the kept lines joined by "\n".
func (r *ring) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}
