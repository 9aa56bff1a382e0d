package background

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"

	"cdr.dev/slog"
	"golang.org/x/sys/unix"
)

// outputDrain bounds the wait for a dead child's last output. The pipe
// reaches EOF only when every holder of its write end is gone, and orphans
// of the child (a wrapper's background jobs, dockerd's shims) may hold it
// for ever: exit detection must not wait for them.
const outputDrain = 100 * time.Millisecond

// run is one start of a Process: one pid, from fork to reap.
type run struct {
	ctx  context.Context
	log  slog.Logger
	bin  string
	pid  int
	cmd  *exec.Cmd
	tail *ring

	outputEOF  chan struct{} // closed when the output pipe reached EOF
	done       chan struct{} // closed once reaped; exit and err are then set
	exit       *ExitError
	err        error
	identified chan struct{}
	decided    chan struct{} // closed once identified or idErr is set
	idErr      error
}

// launch starts c with its output going to log, onLine and a tail, and
// starts the goroutines that reap it and check that it becomes bin.
func launch(ctx context.Context, log slog.Logger, bin string, c *exec.Cmd, onLine func(string), timeout time.Duration) (*run, error) {
	// Output already wired (Process.Stdio) goes where the caller said;
	// otherwise it is logged through a pipe.
	var pr *os.File
	if c.Stdout == nil {
		var pw *os.File
		var err error
		if pr, pw, err = os.Pipe(); err != nil {
			return nil, fmt.Errorf("start %s: output pipe: %w", bin, err)
		}
		c.Stdout, c.Stderr = pw, pw
		defer pw.Close()
	}
	if err := startCmd(c); err != nil {
		if pr != nil {
			pr.Close()
		}
		return nil, fmt.Errorf("start %s (%s): %w", bin, c.Path, err)
	}
	r := &run{
		ctx: ctx, log: log, bin: bin, pid: c.Process.Pid, cmd: c, tail: newRing(tailSize),
		outputEOF: make(chan struct{}), done: make(chan struct{}),
		identified: make(chan struct{}), decided: make(chan struct{}),
	}
	// Nobody reaps the child before r.wait runs: the pid is still ours.
	pidfd, err := unix.PidfdOpen(r.pid, 0)
	if err != nil {
		pidfd = -1
	}
	log.Info(ctx, "started", slog.F("pid", r.pid), slog.F("argv", LoggedArgv(c.Args)))
	if pr != nil {
		go r.readOutput(pr, onLine)
	} else {
		close(r.outputEOF)
	}
	go r.wait()
	go r.identify(timeout, pidfd)
	return r, nil
}

func (r *run) readOutput(pr *os.File, onLine func(string)) {
	defer close(r.outputEOF)
	defer pr.Close()
	scanLines(pr, maxLine, func(line string) {
		r.tail.WriteLine(line)
		r.log.Info(r.ctx, line)
		if onLine != nil {
			onLine(line)
		}
	})
}

// wait reaps the child through its own wait status (Go waits on a pidfd),
// never by looking at /proc.
func (r *run) wait() {
	werr := r.cmd.Wait()
	release(r.pid)
	drain := time.NewTimer(outputDrain)
	select {
	case <-r.outputEOF:
	case <-drain.C:
	}
	drain.Stop()
	r.exit = &ExitError{BinName: r.bin, Pid: r.pid, Tail: r.tail.String()}
	if ps := r.cmd.ProcessState; ps == nil {
		r.exit.Status = -1 // wait itself failed: no status
	} else if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		r.exit.Status = ws.ExitStatus()
		if ws.Signaled() {
			r.exit.Signal = ws.Signal()
		}
	}
	var ee *exec.ExitError
	switch {
	case werr == nil:
	case errors.As(werr, &ee):
		r.err = r.exit
	default:
		r.err = fmt.Errorf("wait %s (pid %d): %w", r.bin, r.pid, werr)
	}
	if r.exit.Signal != 0 {
		r.log.Info(r.ctx, "exited", slog.F("pid", r.pid), slog.F("signal", r.exit.Signal.String()))
	} else {
		r.log.Info(r.ctx, "exited", slog.F("pid", r.pid), slog.F("status", r.exit.Status))
	}
	close(r.done)
}

// exitErr is how the child ended, also when it ended well; valid after done.
func (r *run) exitErr() error {
	if r.err != nil {
		return r.err
	}
	return r.exit
}

// signal sends sig through Go's pidfd: never to a reused pid.
func (r *run) signal(sig os.Signal) error {
	if err := r.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s (pid %d) %v: %w", r.bin, r.pid, sig, err)
	}
	return nil
}

// maxLoggedArg is the longest argument logged as it is. The delegation
// script (about 5 KB) is an argument of every dockerd start: a start line
// must stay readable, so longer arguments are logged by size.
const maxLoggedArg = 256

// LoggedArgv is argv as a log line shows it: long arguments by size, and
// the values of flags named like secrets (--token=..., --agent-token X,
// --password, --client-secret, --api-key) and URL passwords hidden: a
// nested runtime may take its join token on the command line.
func LoggedArgv(argv []string) []string {
	out := make([]string, len(argv))
	hideNext := false
	for i, a := range argv {
		name, _, hasValue := strings.Cut(a, "=")
		switch {
		case len(a) > maxLoggedArg:
			a = fmt.Sprintf("<%d bytes>", len(a))
		case hideNext && !strings.HasPrefix(a, "-"):
			a = redacted
		case hasValue && secretFlag.MatchString(name):
			a = name + "=" + redacted
		default:
			a = urlPassword.ReplaceAllString(a, "${1}"+redacted+"@")
		}
		hideNext = !hasValue && secretFlag.MatchString(name)
		out[i] = a
	}
	return out
}

// redacted stands for a hidden value.
const redacted = "[REDACTED]"

// secretFlag is a flag whose value is a secret by its name.
var secretFlag = regexp.MustCompile(`(?i)^--?[a-z0-9_-]*(token|secret|passw|credential|api-?key)[a-z0-9_-]*$`)

// urlPassword is the password of a URL's user info (scheme://user:PASSWORD@).
var urlPassword = regexp.MustCompile(`(://[^/:@\s]*:)[^@/\s]+@`)
