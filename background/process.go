package background

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"cdr.dev/slog"
)

// tailSize bounds the output kept for error messages.
const tailSize = 4096

// ExitError reports how a supervised process ended, with the last output it
// printed so a crash message says why.
type ExitError struct {
	BinName string
	Pid     int
	// Status is the exit code, or -1 when killed by a signal.
	Status int
	Signal syscall.Signal
	Tail   string
}

func (e *ExitError) Error() string {
	how := fmt.Sprintf("exit status %d", e.Status)
	if e.Signal != 0 {
		how = "killed by " + e.Signal.String()
	}
	if e.Tail == "" {
		return fmt.Sprintf("%s (pid %d) %s", e.BinName, e.Pid, how)
	}
	return fmt.Sprintf("%s (pid %d) %s; last output:\n%s", e.BinName, e.Pid, how, e.Tail)
}

// Process is one supervised child. binName is the binary it is expected to
// become: dockerd is launched as unshare → sh → dockerd, so the command that
// was started says nothing about identity.
type Process struct {
	ctx  context.Context
	root slog.Logger
	log  slog.Logger
	mu   sync.Mutex
	bin  string
	cmd  string
	args []string

	// Env is appended to the inherited environment at every start.
	Env []string
	// OnLine, when set, sees every output line (stdout and stderr).
	OnLine func(line string)

	proc *exec.Cmd
	done chan struct{}
	err  error
	tail *ring
}

// New returns an unstarted process. binName is required.
func New(ctx context.Context, log slog.Logger, binName, cmd string, args ...string) (*Process, error) {
	if binName == "" {
		return nil, errors.New("background: empty binary name for " + cmd)
	}
	if cmd == "" {
		return nil, errors.New("background: empty command for " + binName)
	}
	return &Process{ctx: ctx, root: log, log: log.Named(binName), bin: binName, cmd: cmd, args: args}, nil
}

// BinName is the binary the process is expected to become.
func (p *Process) BinName() string { p.mu.Lock(); defer p.mu.Unlock(); return p.bin }

// Start launches the process and returns once it runs.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil && p.done != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("start %s: already running as pid %d", p.bin, p.proc.Process.Pid)
		}
	}
	c := exec.Command(p.cmd, p.args...)
	c.Env = append(os.Environ(), p.Env...)
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := c.StdoutPipe()
	if err != nil {
		return fmt.Errorf("start %s: %w", p.bin, err)
	}
	c.Stderr = c.Stdout
	if err := c.Start(); err != nil {
		return fmt.Errorf("start %s (%s): %w", p.bin, p.cmd, err)
	}
	p.proc, p.done, p.err, p.tail = c, make(chan struct{}), nil, &ring{max: tailSize}
	p.log.Info(p.ctx, "started", slog.F("pid", c.Process.Pid), slog.F("cmd", p.cmd))
	go p.wait(c, out, p.done, p.tail)
	return nil
}

func (p *Process) wait(c *exec.Cmd, out io.Reader, done chan struct{}, tail *ring) {
	scanLines(out, func(line string) {
		tail.WriteLine(line)
		p.log.Info(p.ctx, line)
		if p.OnLine != nil {
			p.OnLine(line)
		}
	})
	werr := c.Wait()
	ee := &ExitError{BinName: p.bin, Pid: c.Process.Pid, Tail: tail.String()}
	if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok {
		ee.Status = ws.ExitStatus()
		if ws.Signaled() {
			ee.Signal = ws.Signal()
		}
	}
	var err error
	if werr != nil {
		err = ee
	}
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
	p.log.Info(p.ctx, "exited", slog.F("pid", ee.Pid), slog.F("status", ee.Status), slog.F("signal", ee.Signal.String()))
	close(done)
}

// Done is closed when the current process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { p.mu.Lock(); defer p.mu.Unlock(); return p.done }

// Wait blocks until the current process exits; nil means exit status 0.
func (p *Process) Wait() error {
	<-p.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Pid of the current process, 0 before Start.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil || p.proc.Process == nil {
		return 0
	}
	return p.proc.Process.Pid
}

// Signal sends sig to the running process; a finished process is not an error.
func (p *Process) Signal(sig os.Signal) error {
	p.mu.Lock()
	c, done := p.proc, p.done
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	if err := c.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s (pid %d) %v: %w", p.bin, c.Process.Pid, sig, err)
	}
	return nil
}

// Stop sends SIGTERM, waits up to grace, then SIGKILL. It returns once the
// process is reaped.
func (p *Process) Stop(grace time.Duration) error {
	done := p.Done()
	if done == nil {
		return nil
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(grace):
	}
	p.log.Warn(p.ctx, "did not stop in time, killing", slog.F("grace", grace.String()))
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-done
	return nil
}

// Restart stops the current process (if any) and starts a new one. The new
// one never starts before the old one is reaped: dockerd refuses to start
// while its pid file names a live process.
func (p *Process) Restart(grace time.Duration, binName, cmd string, args ...string) error {
	if binName == "" {
		return errors.New("background: restart with empty binary name for " + cmd)
	}
	if err := p.Stop(grace); err != nil {
		return err
	}
	p.mu.Lock()
	p.bin, p.cmd, p.args = binName, cmd, args
	p.log = p.root.Named(binName)
	p.mu.Unlock()
	return p.Start()
}
