package background

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"cdr.dev/slog"
)

// Process is one supervised child. binName is the binary it is expected to
// become: dockerd is launched as unshare → sh → dockerd, so the command that
// was started says nothing about identity.
type Process struct {
	// Env is appended to the inherited environment at every start.
	Env []string
	// OnLine, when set, sees every output line (stdout and stderr). It must
	// be safe for concurrent use and return quickly: after a restart, lines
	// from orphans of the previous run that still hold its output pipe may
	// arrive beside the new run's.
	OnLine func(line string)
	// Stdio gives the child envbox's own stdin, stdout and stderr instead
	// of logging its output: for a user's command, whose output is its
	// result. OnLine and the tail then see nothing.
	Stdio bool
	// IdentifyTimeout bounds the time the process may take to become
	// binName (DefaultIdentifyTimeout when zero).
	IdentifyTimeout time.Duration

	ctx  context.Context
	root slog.Logger

	op   sync.Mutex // serializes Start, Stop and Restart
	mu   sync.Mutex // guards the fields below
	bin  string
	cmd  string
	args []string
	cur  *run
}

// New returns an unstarted process. binName is required.
func New(ctx context.Context, log slog.Logger, binName, cmd string, args ...string) (*Process, error) {
	if binName == "" {
		return nil, fmt.Errorf("new process %q: empty binary name", cmd)
	}
	if cmd == "" {
		return nil, fmt.Errorf("new process %s: empty command", binName)
	}
	return &Process{ctx: ctx, root: log, bin: binName, cmd: cmd, args: args}, nil
}

// BinName is the binary the process is expected to become.
func (p *Process) BinName() string { p.mu.Lock(); defer p.mu.Unlock(); return p.bin }

func (p *Process) current() *run { p.mu.Lock(); defer p.mu.Unlock(); return p.cur }

// Start launches the process and returns once it runs.
func (p *Process) Start() error {
	p.op.Lock()
	defer p.op.Unlock()
	return p.start()
}

func (p *Process) start() error {
	p.mu.Lock()
	bin, cmd, args, cur := p.bin, p.cmd, p.args, p.cur
	p.mu.Unlock()
	if cur != nil && !isClosed(cur.done) {
		return fmt.Errorf("start %s: already running as pid %d", bin, cur.pid)
	}
	timeout := p.IdentifyTimeout
	if timeout <= 0 {
		timeout = DefaultIdentifyTimeout
	}
	c := p.command(cmd, args)
	if p.Stdio {
		c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	}
	r, err := launch(p.ctx, p.root.Named(bin), bin, c, p.OnLine, timeout)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.cur = r
	p.mu.Unlock()
	return nil
}

func (p *Process) command(cmd string, args []string) *exec.Cmd {
	c := exec.Command(cmd, args...)
	c.Env = append(os.Environ(), p.Env...)
	// dockerd must not outlive envbox when envbox is not PID 1.
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return c
}

// Done is closed when the current process has exited and been reaped; nil
// before the first Start.
func (p *Process) Done() <-chan struct{} {
	if r := p.current(); r != nil {
		return r.done
	}
	return nil
}

// Wait blocks until the current process exits; nil means exit status 0,
// an *ExitError any other end.
func (p *Process) Wait() error {
	r := p.current()
	if r == nil {
		return fmt.Errorf("wait %s: not started", p.BinName())
	}
	<-r.done
	return r.err
}

// WaitIdentified blocks until the current process runs its binary (nil),
// is still something else after IdentifyTimeout (*IdentityError; the
// process keeps running), exits first (an error wrapping its *ExitError), or
// ctx ends.
func (p *Process) WaitIdentified(ctx context.Context) error {
	r := p.current()
	if r == nil {
		return fmt.Errorf("identify %s: not started", p.BinName())
	}
	select {
	case <-r.decided:
		return r.idErr
	case <-ctx.Done():
		return fmt.Errorf("identify %s (pid %d): %w", r.bin, r.pid, ctx.Err())
	}
}

// Pid of the current process, 0 before Start.
func (p *Process) Pid() int {
	if r := p.current(); r != nil {
		return r.pid
	}
	return 0
}

// Tail returns the last output (at most 4 KiB) of the current process.
func (p *Process) Tail() string {
	if r := p.current(); r != nil {
		return r.tail.String()
	}
	return ""
}

// Signal sends sig to the running process; a finished process is not an error.
func (p *Process) Signal(sig os.Signal) error {
	if r := p.current(); r != nil {
		return r.signal(sig)
	}
	return nil
}

// Stop sends SIGTERM, waits up to grace, then SIGKILL. It returns once the
// process is reaped.
func (p *Process) Stop(grace time.Duration) error {
	p.op.Lock()
	defer p.op.Unlock()
	return p.stop(grace)
}

func (p *Process) stop(grace time.Duration) error {
	r := p.current()
	if r == nil || isClosed(r.done) {
		return nil
	}
	if err := r.signal(syscall.SIGTERM); err != nil {
		return err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-r.done:
		return nil
	case <-t.C:
	}
	r.log.Warn(r.ctx, "did not stop in time, killing", slog.F("pid", r.pid), slog.F("grace", grace.String()))
	if err := r.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-r.done
	return nil
}

// Restart stops the current process (if any) and starts binName with cmd
// and args. The new one never starts before the old one is reaped: dockerd
// refuses to start while its pid file names a live process.
func (p *Process) Restart(grace time.Duration, binName, cmd string, args ...string) error {
	if binName == "" {
		return fmt.Errorf("restart %q: empty binary name", cmd)
	}
	if cmd == "" {
		return fmt.Errorf("restart %s: empty command", binName)
	}
	p.op.Lock()
	defer p.op.Unlock()
	old := p.current()
	if err := p.stop(grace); err != nil {
		return err
	}
	p.mu.Lock()
	p.bin, p.cmd, p.args = binName, cmd, args
	p.mu.Unlock()
	if old != nil {
		old.log.Info(p.ctx, "restarting", slog.F("old_pid", old.pid), slog.F("bin", binName))
	}
	return p.start()
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
