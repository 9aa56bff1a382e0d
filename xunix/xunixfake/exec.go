package xunixfake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/envbox/envbox/xunix"
)

// Result is what a scripted command prints and returns.
type Result struct {
	Stdout, Stderr []byte
	Err            error
}

// Call is one command that was started.
type Call struct {
	Argv  []string
	Env   []string
	Stdin []byte
}

// Execer records commands and answers each argv with its scripted Result. A
// command nobody scripted fails with an error naming its argv, so a test
// never passes on a command it did not expect.
type Execer struct {
	mu      sync.Mutex
	results map[string][]Result
	calls   []Call
}

var _ xunix.Execer = (*Execer)(nil)

// NewExecer returns an Execer with nothing scripted.
func NewExecer() *Execer { return &Execer{results: map[string][]Result{}} }

// On scripts the result of the next run of argv. Several On calls for the
// same argv are played back in order; the last one repeats.
func (e *Execer) On(r Result, argv ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := key(argv)
	e.results[k] = append(e.results[k], r)
}

// Calls returns every command started so far, in order.
func (e *Execer) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// Argvs returns the argv of every command started so far, in order.
func (e *Execer) Argvs() [][]string {
	var out [][]string
	for _, c := range e.Calls() {
		out = append(out, c.Argv)
	}
	return out
}

// CommandContext returns a command that runs nothing.
func (e *Execer) CommandContext(ctx context.Context, name string, args ...string) xunix.Cmd {
	return &Cmd{ctx: ctx, e: e, argv: append([]string{name}, args...)}
}

func (e *Execer) run(c Call) Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, c)
	k := key(c.Argv)
	rs := e.results[k]
	if len(rs) == 0 {
		return Result{Err: fmt.Errorf("xunixfake: unscripted command %q", c.Argv)}
	}
	if len(rs) > 1 {
		e.results[k] = rs[1:]
	}
	return rs[0]
}

func key(argv []string) string { return strings.Join(argv, "\x00") }

// Cmd is a recorded command.
type Cmd struct {
	ctx            context.Context
	e              *Execer
	argv, env      []string
	stdin          io.Reader
	stdout, stderr io.Writer
	started        bool
	res            Result
}

// Argv is the full command line.
func (c *Cmd) Argv() []string { return slices.Clone(c.argv) }

// SetEnv sets the environment recorded with the call.
func (c *Cmd) SetEnv(env []string) { c.env = slices.Clone(env) }

// SetStdin sets the reader whose content is recorded with the call.
func (c *Cmd) SetStdin(r io.Reader) { c.stdin = r }

// SetStdout sets where the scripted stdout goes.
func (c *Cmd) SetStdout(w io.Writer) { c.stdout = w }

// SetStderr sets where the scripted stderr goes.
func (c *Cmd) SetStderr(w io.Writer) { c.stderr = w }

// Start records the call and writes the scripted output; the scripted error
// comes from Wait.
func (c *Cmd) Start() error {
	if c.started {
		return fmt.Errorf("xunixfake: %q already started", c.argv)
	}
	if err := c.ctx.Err(); err != nil {
		return err
	}
	c.started = true
	call := Call{Argv: c.Argv(), Env: c.env}
	if c.stdin != nil {
		b, err := io.ReadAll(c.stdin)
		if err != nil {
			return fmt.Errorf("xunixfake: read stdin of %q: %w", c.argv, err)
		}
		call.Stdin = b
	}
	c.res = c.e.run(call)
	return writeAll(c.stdout, c.res.Stdout, c.stderr, c.res.Stderr)
}

// Wait returns the scripted error.
func (c *Cmd) Wait() error {
	if !c.started {
		return fmt.Errorf("xunixfake: %q not started", c.argv)
	}
	return c.res.Err
}

// Run is Start then Wait.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Output runs the command and returns its scripted stdout.
func (c *Cmd) Output() ([]byte, error) {
	var out bytes.Buffer
	c.stdout = &out
	err := c.Run()
	return out.Bytes(), err
}

// CombinedOutput runs the command and returns stdout then stderr.
func (c *Cmd) CombinedOutput() ([]byte, error) {
	var out bytes.Buffer
	c.stdout, c.stderr = &out, &out
	err := c.Run()
	return out.Bytes(), err
}

func writeAll(stdout io.Writer, out []byte, stderr io.Writer, errOut []byte) error {
	for _, w := range []struct {
		w io.Writer
		b []byte
	}{{stdout, out}, {stderr, errOut}} {
		if w.w == nil || len(w.b) == 0 {
			continue
		}
		if _, err := w.w.Write(w.b); err != nil {
			return err
		}
	}
	return nil
}
