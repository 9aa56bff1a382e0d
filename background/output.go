package background

import (
	"bufio"
	"io"
	"strings"
	"sync"
)

// maxLine bounds one logged line; longer output is split, never buffered
// without limit.
const maxLine = 64 * 1024

func scanLines(r io.Reader, fn func(string)) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 4096), maxLine)
	for s.Scan() {
		fn(s.Text())
	}
	// A line over maxLine stops the scanner; drain so the child never blocks.
	_, _ = io.Copy(io.Discard, r)
}

// ring keeps the last max bytes of output, cut at line boundaries.
type ring struct {
	mu    sync.Mutex
	max   int
	lines []string
	size  int
}

func (r *ring) WriteLine(l string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(l) > r.max {
		l = l[len(l)-r.max:]
	}
	r.lines = append(r.lines, l)
	r.size += len(l) + 1
	for r.size > r.max && len(r.lines) > 1 {
		r.size -= len(r.lines[0]) + 1
		r.lines = r.lines[1:]
	}
}

func (r *ring) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}
