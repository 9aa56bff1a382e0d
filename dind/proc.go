package dind

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"time"

	"cdr.dev/slog"

	"github.com/envbox/envbox/background"
)

// Proc is the part of background.Process that the supervisor and the
// workspace session drive; unit tests fake it.
type Proc interface {
	// Done is closed when the current run has exited and been reaped.
	Done() <-chan struct{}
	// Wait returns how the current run ended (nil: status 0).
	Wait() error
	// WaitIdentified returns nil once the current run has become its binary.
	WaitIdentified(ctx context.Context) error
	Pid() int
	// Tail is the last output of the current run.
	Tail() string
	Signal(sig os.Signal) error
	Stop(grace time.Duration) error
	Restart(grace time.Duration, binName, cmd string, args ...string) error
}

var _ Proc = (*background.Process)(nil)

// StartOptions are the per-process settings of a start.
type StartOptions struct {
	// Env is added to the inherited environment, after the command's own.
	Env []string
	// OnLine sees every output line (see background.Process.OnLine).
	OnLine func(line string)
	// Stdio hands the child envbox's stdin, stdout and stderr (a user's
	// command, whose output is its result).
	Stdio bool
	// IdentifyTimeout bounds the time the child may take to become its
	// binary (background.DefaultIdentifyTimeout when zero).
	IdentifyTimeout time.Duration
}

// Starter launches cmd under supervision and returns once it runs.
type Starter func(ctx context.Context, log slog.Logger, cmd Command, opts StartOptions) (Proc, error)

// StartBackground is the Starter of production: a background.Process.
func StartBackground(ctx context.Context, log slog.Logger, cmd Command, opts StartOptions) (Proc, error) {
	p, err := background.New(ctx, log, cmd.BinName, cmd.Path, cmd.Args...)
	if err != nil {
		return nil, err
	}
	p.Env = append(append([]string{}, cmd.Env...), opts.Env...)
	p.OnLine = opts.OnLine
	p.Stdio = opts.Stdio
	p.IdentifyTimeout = opts.IdentifyTimeout
	if err := p.Start(); err != nil {
		return nil, &StartError{Bin: cmd.BinName, Err: err}
	}
	return p, nil
}

// StartError is a command that could not be executed at all.
type StartError struct {
	Bin string
	Err error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// ExitCode is what a shell answers for the same failure: 127 when the
// binary does not exist, 126 when it exists but cannot be executed
// (EACCES, ENOEXEC, a directory).
func (e *StartError) ExitCode() int {
	if errors.Is(e.Err, exec.ErrNotFound) || errors.Is(e.Err, fs.ErrNotExist) {
		return 127
	}
	return 126
}

// ExitStatus is how a supervised child ended, as envbox's own exit status:
// the child's code, or 128+N when it was killed by signal N.
type ExitStatus struct {
	Code int
	Err  error
}

func (e *ExitStatus) Error() string { return e.Err.Error() }
func (e *ExitStatus) Unwrap() error { return e.Err }
func (e *ExitStatus) ExitCode() int { return e.Code }

// exitStatus turns a child's end (Proc.Wait) into an *ExitStatus; nil stays nil.
func exitStatus(err error) error {
	if err == nil {
		return nil
	}
	var ee *background.ExitError
	if errors.As(err, &ee) {
		if ee.Signal != 0 {
			return &ExitStatus{Code: 128 + int(ee.Signal), Err: err}
		}
		return &ExitStatus{Code: ee.Status, Err: err}
	}
	return err
}
