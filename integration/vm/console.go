package vm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Console is what the guest reported on the serial console.
type Console struct {
	// Results maps a scenario name to its key/value results, from lines
	// `RESULT <scenario> <json object of strings>`.
	Results map[string]map[string]string
	// Done is set when the guest printed DONE: every scenario ran.
	Done bool
}

// ConsoleError names the console line that could not be parsed.
type ConsoleError struct {
	Line    int
	Content string
	Err     error
}

func (e *ConsoleError) Error() string {
	return fmt.Sprintf("parse console line %d %q: %v", e.Line, e.Content, e.Err)
}

func (e *ConsoleError) Unwrap() error { return e.Err }

// ParseConsole reads RESULT and DONE lines; other lines (firmware, kernel)
// are ignored. The serial console ends lines with "\r\n".
func ParseConsole(out []byte) (Console, error) {
	c := Console{Results: map[string]map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "DONE" {
			c.Done = true
			continue
		}
		rest, ok := strings.CutPrefix(line, "RESULT ")
		if !ok {
			continue
		}
		name, js, ok := strings.Cut(rest, " ")
		if !ok || name == "" {
			return c, &ConsoleError{Line: n, Content: line, Err: fmt.Errorf(`want "RESULT <scenario> <json>"`)}
		}
		var kv map[string]string
		if err := json.Unmarshal([]byte(js), &kv); err != nil {
			return c, &ConsoleError{Line: n, Content: line, Err: err}
		}
		if _, dup := c.Results[name]; dup {
			return c, &ConsoleError{Line: n, Content: line, Err: fmt.Errorf("second result for scenario %q", name)}
		}
		c.Results[name] = kv
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("read console: %w", err)
	}
	return c, nil
}
