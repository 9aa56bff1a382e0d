package dind

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cdr.dev/slog"
	"cdr.dev/slog/sloggers/slogtest"

	"github.com/envbox/envbox/background"
	"github.com/envbox/envbox/embed"
)

// fakeProc is a supervised process that runs nothing: the test ends its
// runs and sees every signal, stop and restart.
type fakeProc struct {
	name string
	mu   sync.Mutex
	// pid is the current run's: 4242, one more at every restart.
	pid  int
	done chan struct{}
	err  error
	// sigs are the signals received, in order.
	sigs []string
	// argv holds the command line of every start and restart.
	argv  [][]string
	stops int
	// identify is what WaitIdentified answers for every run.
	identify error
	// identifyGate, when set, holds WaitIdentified until closed (a
	// goroutine descheduled after the run became its binary); identifying
	// receives a value as each call starts waiting.
	identifyGate chan struct{}
	identifying  chan struct{}
	// diesOnSignal ends the run with 128+N on SIGTERM/SIGINT/SIGQUIT, as
	// a process without a handler does.
	diesOnSignal bool
	// signalled receives every signal as it arrives.
	signalled chan os.Signal
}

func newFakeProc(name string, argv []string) *fakeProc {
	return &fakeProc{name: name, pid: 4242, done: make(chan struct{}), identifying: make(chan struct{}, 4), argv: [][]string{argv}, signalled: make(chan os.Signal, 16)}
}

func (p *fakeProc) Done() <-chan struct{} { p.mu.Lock(); defer p.mu.Unlock(); return p.done }

func (p *fakeProc) Wait() error {
	<-p.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *fakeProc) WaitIdentified(context.Context) error {
	if p.identifyGate != nil {
		p.identifying <- struct{}{}
		<-p.identifyGate
	}
	return p.identify
}

func (p *fakeProc) Pid() int     { p.mu.Lock(); defer p.mu.Unlock(); return p.pid }
func (p *fakeProc) Tail() string { return "fake " + p.name + " output" }

// exit ends the current run with status (0: nil), or killed by sig.
func (p *fakeProc) exit(status int, sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return
	default:
	}
	if status != 0 || sig != 0 {
		p.err = &background.ExitError{BinName: p.name, Pid: p.pid, Status: status, Signal: sig}
	}
	close(p.done)
}

func (p *fakeProc) Signal(sig os.Signal) error {
	p.mu.Lock()
	p.sigs = append(p.sigs, sig.String())
	dies := p.diesOnSignal && sig != syscall.SIGHUP
	p.mu.Unlock()
	p.signalled <- sig
	if dies {
		p.exit(-1, sig.(syscall.Signal))
	}
	return nil
}

func (p *fakeProc) Stop(time.Duration) error {
	p.mu.Lock()
	p.stops++
	p.mu.Unlock()
	p.exit(-1, syscall.SIGKILL)
	return nil
}

func (p *fakeProc) Restart(_ time.Duration, _, cmd string, args ...string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.argv = append(p.argv, append([]string{cmd}, args...))
	p.done, p.err = make(chan struct{}), nil
	p.pid++
	return nil
}

func (p *fakeProc) stopCount() int { p.mu.Lock(); defer p.mu.Unlock(); return p.stops }
func (p *fakeProc) signals() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.sigs...)
}
func (p *fakeProc) starts() [][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]string(nil), p.argv...)
}

// fakeStarter records every start; started receives each process.
type fakeStarter struct {
	mu      sync.Mutex
	procs   []*fakeProc
	cmds    []Command // every command started, in order
	started chan *fakeProc
	// setup adjusts a process before it is returned.
	setup func(p *fakeProc)
	err   error
}

func newFakeStarter() *fakeStarter { return &fakeStarter{started: make(chan *fakeProc, 8)} }

func (f *fakeStarter) start(_ context.Context, _ slog.Logger, cmd Command, opts StartOptions) (Proc, error) {
	if f.err != nil {
		return nil, f.err
	}
	p := newFakeProc(cmd.BinName, cmd.Argv())
	if f.setup != nil {
		f.setup(p)
	}
	f.mu.Lock()
	f.procs = append(f.procs, p)
	f.cmds = append(f.cmds, cmd)
	f.mu.Unlock()
	f.started <- p
	return p, nil
}

func (f *fakeStarter) count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.procs) }

// testLogger logs through the test, without failing it on error lines
// (dockerd dying is logged as an error and is what these tests cause).
func testLogger(t *testing.T) slog.Logger {
	return slogtest.Make(t, &slogtest.Options{IgnoreErrors: true})
}

// within fails the test when ch does not deliver in time.
func within[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("no %s within %s", what, d)
		var zero T
		return zero
	}
}

// errString is err's text, "<nil>" for nil.
func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// exitCode is the code an error carries for cli, -1 when none.
func exitCode(err error) int {
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	return -1
}

// script marks where the delegation script sits in an expected argv.
const script = "<delegate.sh>"

// argvOf is argv with the delegation script replaced by script, so the
// expected command lines stay readable.
func argvOf(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == embed.DelegateScript {
			a = script
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
