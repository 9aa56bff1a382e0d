package dind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"syscall"
	"time"

	"cdr.dev/slog"
)

// RestartWindow is the span in which at most Supervisor.Restarts restarts
// happen.
const RestartWindow = 10 * time.Minute

// healthyRun is how long dockerd must have run for its death to count as a
// fresh crash rather than one more in a crash loop (as kubelet resets its
// back-off).
const healthyRun = 30 * time.Second

// ErrNoRestartLeft: dockerd exited and the restart budget is spent.
var ErrNoRestartLeft = errors.New("no restart left")

// errCleanEnd: with CleanExitEnds, the daemon exited 0 and no restart is
// left; the supervision ends with status 0.
var errCleanEnd = errors.New("exited with status 0")

// Supervisor keeps dockerd (and the optional command) running after start:
// restarts within a budget and after a back-off, forwards signals, stops
// within a grace period. Every wait ends on a signal and on ctx.
type Supervisor struct {
	Log      slog.Logger
	Launcher *Launcher
	Start    Starter
	// Signals are the signals envbox received (SIGTERM, SIGINT, SIGQUIT
	// stop; SIGHUP is forwarded).
	Signals <-chan os.Signal
	// Dockerd is the daemon's argv (dockerd's, or envbox run's CMD); Env
	// is added to its environment.
	Dockerd []string
	Env     []string
	// Name is the binary the daemon must become after the wrapper execs
	// (its identification, and the name in logs); path.Base(Dockerd[0])
	// when empty.
	Name string
	// CleanExitEnds: a daemon that exits with status 0 once no restart is
	// left ends the supervision with status 0 (envbox run: the daemon's
	// status). Without it that exit is status 1: dockerd never ends on
	// its own.
	CleanExitEnds bool
	// IdentifyTimeout bounds the wrapper phase of every start
	// (background.DefaultIdentifyTimeout when zero).
	IdentifyTimeout time.Duration
	// Restarts allowed per RestartWindow; 0 = never.
	Restarts     int
	StopGrace    time.Duration
	ReadyTimeout time.Duration
	// Socket is dockerd's unix:// URL, handed to the command as DOCKER_HOST.
	Socket string
	// Command, when set, runs once dockerd answers; envbox exits with its
	// status.
	Command []string
	// Ready waits for dockerd's API (WaitReady when nil).
	Ready func(ctx context.Context, socket string, exited <-chan struct{}) error
	// After is the back-off timer (time.After when nil).
	After func(d time.Duration) <-chan time.Time
	// Watch, when set, runs beside every start of the daemon (in its own
	// goroutine, like Launcher.Keep) until that run ends or ctx is done:
	// the per-container PID cap (ExecShare.Watch).
	Watch func(ctx context.Context, p Proc)

	dockerd Proc
	budget  restartBudget
	started time.Time
	crashes int
}

// Run starts dockerd through the Launcher and supervises it until it ends
// for good, the command ends, or a signal stops it. A clean stop on a
// signal is nil; the child's end is an *ExitStatus.
func (s *Supervisor) Run(ctx context.Context) error {
	s.budget = restartBudget{max: s.Restarts, window: RestartWindow}
	if err := s.startDockerd(ctx); err != nil {
		return err
	}
	if len(s.Command) > 0 {
		return s.runCommand(ctx)
	}
	return s.superviseDockerd(ctx)
}

func (s *Supervisor) startDockerd(ctx context.Context) error {
	cmd, err := s.Launcher.Command(ctx, s.Dockerd)
	if err != nil {
		return err
	}
	cmd.BinName = s.name()
	s.started = time.Now()
	if s.dockerd == nil {
		p, err := s.Start(ctx, s.Log, cmd, StartOptions{Env: s.Env, IdentifyTimeout: s.IdentifyTimeout})
		if err != nil {
			return err
		}
		s.dockerd = p
	} else if err := s.dockerd.Restart(s.StopGrace, cmd.BinName, cmd.Path, cmd.Args...); err != nil {
		return &StartError{Bin: cmd.BinName, Err: err}
	}
	go s.Launcher.Keep(ctx, s.dockerd)
	if s.Watch != nil {
		go s.Watch(ctx, s.dockerd)
	}
	return nil
}

// name is what the daemon becomes: Name, else the basename of its binary.
func (s *Supervisor) name() string {
	if s.Name != "" {
		return s.Name
	}
	return path.Base(s.Dockerd[0])
}

// superviseDockerd restarts dockerd when it dies, within the budget, and
// stops it on SIGTERM/SIGINT/SIGQUIT.
func (s *Supervisor) superviseDockerd(ctx context.Context) error {
	for {
		select {
		case sig := <-s.Signals:
			if sig == syscall.SIGHUP {
				s.Log.Info(ctx, "forwarding SIGHUP to "+s.name()+" (configuration reload)")
				s.forward(ctx, s.dockerd, sig)
				continue
			}
			s.Log.Info(ctx, "stopping "+s.name(), slog.F("signal", sig.String()), slog.F("grace", s.StopGrace.String()))
			s.stopAfter(ctx, s.dockerd, sig)
			return nil
		case <-s.dockerd.Done():
			sig, err := s.restart(ctx)
			if errors.Is(err, errCleanEnd) {
				return nil
			}
			if err != nil {
				return err
			}
			if sig != nil {
				return nil // dockerd is down already: a clean stop
			}
		case <-ctx.Done():
			_ = s.dockerd.Stop(s.StopGrace)
			return ctx.Err()
		}
	}
}

// restart brings dockerd back through the Launcher after a back-off. It
// returns the stopping signal that arrived during the back-off instead
// (dockerd is then not restarted), or dockerd's status when no restart is
// left.
func (s *Supervisor) restart(ctx context.Context) (os.Signal, error) {
	timer, err := s.backoff(ctx)
	if err != nil {
		return nil, err
	}
	for {
		select {
		case <-timer:
			return nil, s.startDockerd(ctx)
		case sig := <-s.Signals:
			if sig == syscall.SIGHUP {
				s.Log.Info(ctx, "SIGHUP while "+s.name()+" is down: nothing to reload")
				continue
			}
			s.Log.Info(ctx, "signal while dockerd was down, not restarting", slog.F("signal", sig.String()))
			return sig, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// backoff takes a restart from the budget after dockerd died and returns
// the timer of its back-off, or dockerd's status when no restart is left.
func (s *Supervisor) backoff(ctx context.Context) (<-chan time.Time, error) {
	werr := s.dockerd.Wait()
	n, ok := s.budget.take(time.Now())
	if !ok {
		if werr == nil && s.CleanExitEnds {
			s.Log.Info(ctx, s.name()+" exited with status 0 and no restart is left", slog.F("restarts_per_10m", s.Restarts))
			return nil, errCleanEnd
		}
		s.Log.Error(ctx, s.name()+" exited and no restart is left", slog.Error(werr),
			slog.F("restarts_per_10m", s.Restarts))
		if werr == nil {
			return nil, &ExitStatus{Code: 1, Err: fmt.Errorf("%s exited with status 0: %w", s.name(), ErrNoRestartLeft)}
		}
		return nil, exitStatus(fmt.Errorf("%w: %w", ErrNoRestartLeft, werr))
	}
	s.crashes++
	if time.Since(s.started) >= healthyRun {
		s.crashes = 1
	}
	delay := restartDelay(s.crashes)
	s.Log.Warn(ctx, s.name()+" exited, restarting through the delegation wrapper", slog.Error(werr),
		slog.F("restart", n), slog.F("of", s.Restarts), slog.F("backoff", delay.String()))
	after := s.After
	if after == nil {
		after = time.After
	}
	return after(delay), nil
}

// runCommand waits for dockerd, runs the user's command against it and
// returns the command's status; signals go to the command, also while
// dockerd waits for a restart, and the command's end ends that wait.
func (s *Supervisor) runCommand(ctx context.Context) error {
	defer func() { _ = s.dockerd.Stop(s.StopGrace) }()
	if sig, err := s.waitReady(ctx); sig != nil || err != nil {
		if sig != nil {
			s.Log.Info(ctx, "signal before the command started: stopping dockerd, the command does not run",
				slog.F("signal", sig.String()), slog.F("grace", s.StopGrace.String()))
			s.stopAfter(ctx, s.dockerd, sig)
			return &ExitStatus{Code: 128 + signalNumber(sig), Err: fmt.Errorf("%s before %s started", sig, s.Command[0])}
		}
		return err
	}
	argv := s.Command
	p, err := s.Start(ctx, s.Log, Command{BinName: path.Base(argv[0]), Path: argv[0], Args: argv[1:]},
		StartOptions{Env: []string{EnvDockerHost + "=" + s.Socket}, Stdio: true})
	if err != nil {
		return err
	}
	var stopping <-chan time.Time // the command's grace after a stopping signal
	var backoff <-chan time.Time  // dockerd's restart, while it is down
	dockerdDone := s.dockerd.Done()
	for {
		select {
		case sig := <-s.Signals:
			s.forward(ctx, p, sig)
			if sig != syscall.SIGHUP && stopping == nil {
				stopping = time.After(s.StopGrace)
			}
		case <-stopping:
			s.Log.Warn(ctx, "the command did not stop in time, killing it", slog.F("grace", s.StopGrace.String()))
			_ = p.Stop(0)
		case <-p.Done():
			return exitStatus(p.Wait())
		case <-dockerdDone:
			dockerdDone = nil
			if stopping != nil {
				continue // envbox is stopping: no restart, the command is ending
			}
			var err error
			if backoff, err = s.backoff(ctx); err != nil {
				_ = p.Stop(s.StopGrace)
				return err
			}
		case <-backoff:
			backoff = nil
			if stopping != nil {
				continue // a signal came during the back-off: dockerd stays down
			}
			if err := s.startDockerd(ctx); err != nil {
				_ = p.Stop(s.StopGrace)
				return err
			}
			dockerdDone = s.dockerd.Done()
		case <-ctx.Done():
			_ = p.Stop(s.StopGrace)
			return ctx.Err()
		}
	}
}

// waitReady waits for dockerd's API within ReadyTimeout. A stopping signal
// ends the wait and is returned; SIGHUP goes to dockerd.
func (s *Supervisor) waitReady(ctx context.Context) (os.Signal, error) {
	ready := s.Ready
	if ready == nil {
		ready = WaitReady
	}
	rctx, cancel := context.WithTimeout(ctx, s.ReadyTimeout)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- ready(rctx, s.Socket, s.dockerd.Done()) }()
	for {
		select {
		case err := <-res:
			if err != nil {
				return nil, &ExitStatus{Code: 1, Err: fmt.Errorf("%w; dockerd's last output:\n%s", err, s.dockerd.Tail())}
			}
			return nil, nil
		case sig := <-s.Signals:
			if sig == syscall.SIGHUP {
				s.forward(ctx, s.dockerd, sig)
				continue
			}
			cancel()
			<-res
			return sig, nil
		}
	}
}

func (s *Supervisor) forward(ctx context.Context, p Proc, sig os.Signal) {
	if err := p.Signal(sig); err != nil {
		s.Log.Warn(ctx, "forward signal", slog.F("signal", sig.String()), slog.Error(err))
	}
}

// stopAfter forwards sig to p and waits for it to exit, killing it when
// the grace period runs out.
func (s *Supervisor) stopAfter(ctx context.Context, p Proc, sig os.Signal) {
	s.forward(ctx, p, sig)
	t := time.NewTimer(s.StopGrace)
	defer t.Stop()
	select {
	case <-p.Done():
	case <-t.C:
		s.Log.Warn(ctx, "did not stop in time, killing", slog.F("grace", s.StopGrace.String()))
		_ = p.Stop(0)
	}
	if err := p.Wait(); err != nil {
		s.Log.Warn(ctx, "ended badly after the signal", slog.Error(err))
	}
}

func signalNumber(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return int(s)
	}
	return 0
}

// restartDelay is the back-off before restart after n consecutive young
// deaths: 250 ms doubling up to 8 s. A dockerd that dies at once must not
// spin; a one-off crash must come back fast.
func restartDelay(n int) time.Duration {
	d := 250 * time.Millisecond
	for i := 1; i < n && d < 8*time.Second; i++ {
		d *= 2
	}
	return min(d, 8*time.Second)
}

// restartBudget allows at most max restarts in any window.
type restartBudget struct {
	max    int
	window time.Duration
	times  []time.Time
}

// take records a restart at now and returns how many restarts the window
// now holds, or false when the budget is spent.
func (b *restartBudget) take(now time.Time) (int, bool) {
	kept := b.times[:0]
	for _, t := range b.times {
		if now.Sub(t) < b.window {
			kept = append(kept, t)
		}
	}
	b.times = kept
	if len(b.times) >= b.max {
		return len(b.times), false
	}
	b.times = append(b.times, now)
	return len(b.times), true
}
