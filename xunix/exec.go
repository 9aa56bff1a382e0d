package xunix

import (
	"context"
	"io"
	"os/exec"
	"slices"
)

// Execer creates commands. OSExecer runs real ones; tests use
// xunixfake.Execer, which records every argv and plays back scripted
// results.
type Execer interface {
	CommandContext(ctx context.Context, name string, args ...string) Cmd
}

// Cmd is the part of *exec.Cmd that envbox uses.
type Cmd interface {
	// Argv is the full command line: name first.
	Argv() []string
	SetEnv(env []string)
	SetStdin(r io.Reader)
	SetStdout(w io.Writer)
	SetStderr(w io.Writer)
	Start() error
	Wait() error
	Run() error
	Output() ([]byte, error)
	CombinedOutput() ([]byte, error)
}

// OSExecer runs commands with os/exec.
type OSExecer struct{}

var _ Execer = OSExecer{}

// CommandContext wraps exec.CommandContext.
func (OSExecer) CommandContext(ctx context.Context, name string, args ...string) Cmd {
	return osCmd{exec.CommandContext(ctx, name, args...)}
}

type osCmd struct{ *exec.Cmd }

func (c osCmd) Argv() []string        { return slices.Clone(c.Args) }
func (c osCmd) SetEnv(env []string)   { c.Env = env }
func (c osCmd) SetStdin(r io.Reader)  { c.Stdin = r }
func (c osCmd) SetStdout(w io.Writer) { c.Stdout = w }
func (c osCmd) SetStderr(w io.Writer) { c.Stderr = w }
