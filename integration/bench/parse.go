package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// results holds what one or more `go test -v -bench` outputs reported.
type results struct {
	// metrics by benchmark name (without "Benchmark" and the -GOMAXPROCS
	// suffix), then by unit ("ns/op", "wait_p50_µs", ...).
	metrics map[string]map[string]float64
	// skipped names a benchmark that called b.Skip, with its last log line.
	skipped map[string]string
	// failed names a benchmark reported as "--- FAIL", with its last log line.
	failed map[string]string
}

func newResults() *results {
	return &results{metrics: map[string]map[string]float64{}, skipped: map[string]string{}, failed: map[string]string{}}
}

var (
	// resultLine is "BenchmarkX/sub-2   \t  5\t  123 ns/op\t  4.5 ratio".
	resultLine = regexp.MustCompile(`^Benchmark(\S+)\s+(\d+)\s+(.*)$`)
	procsSufx  = regexp.MustCompile(`-\d+$`)
	// logLine is a benchmark's log: "    file_test.go:12: message".
	logLine = regexp.MustCompile(`^\s+\S+\.go:\d+: (.*)$`)
)

// parse adds the results in r (the output of `go test -v -bench`) to rs.
// Lines that are not results, skips or failures are ignored.
func (rs *results) parse(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lastLog, n := "", 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if m := logLine.FindStringSubmatch(line); m != nil {
			lastLog = strings.TrimSpace(m[1])
			continue
		}
		trimmed := strings.TrimSpace(line)
		if name, ok := strings.CutPrefix(trimmed, "--- SKIP: Benchmark"); ok {
			rs.skipped[benchName(name)] = lastLog
			continue
		}
		if name, ok := strings.CutPrefix(trimmed, "--- FAIL: Benchmark"); ok {
			rs.failed[benchName(name)] = lastLog
			continue
		}
		m := resultLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		metrics, err := parseMetrics(m[3])
		if err != nil {
			return fmt.Errorf("parse line %d %q: %w", n, line, err)
		}
		rs.metrics[benchName(m[1])] = metrics
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("parse line %d: %w", n+1, err)
	}
	return nil
}

// benchName strips the -GOMAXPROCS suffix and anything after the name
// (" (1.23s)" on a FAIL line).
func benchName(s string) string {
	s, _, _ = strings.Cut(s, " ")
	return procsSufx.ReplaceAllString(s, "")
}

// parseMetrics parses "123 ns/op\t4.5 ratio" into {"ns/op": 123, "ratio": 4.5}.
func parseMetrics(s string) (map[string]float64, error) {
	f := strings.Fields(s)
	if len(f)%2 != 0 {
		return nil, fmt.Errorf("odd number of fields %q: want value unit pairs", s)
	}
	out := make(map[string]float64, len(f)/2)
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil, fmt.Errorf("value %q of unit %q: %w", f[i], f[i+1], err)
		}
		out[f[i+1]] = v
	}
	return out, nil
}

// status is why a benchmark has no value: "skipped: reason", "failed: reason" or
// "not run". A skip or failure of a parent benchmark covers its children.
func (rs *results) status(name string) string {
	for n := name; n != ""; {
		if reason, ok := rs.skipped[n]; ok {
			return "skipped: " + reason
		}
		if reason, ok := rs.failed[n]; ok {
			return "failed: " + reason
		}
		i := strings.LastIndex(n, "/")
		if i < 0 {
			break
		}
		n = n[:i]
	}
	return "not run"
}
