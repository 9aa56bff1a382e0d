package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"syscall"
	"time"

	"cdr.dev/slog"

	"github.com/envbox/envbox/background"
	"github.com/envbox/envbox/dind"
)

// dindSupervisor owns dockerd (and the optional command) after start.
type dindSupervisor struct {
	log     slog.Logger
	cfg     dindConfig
	wrapper dind.Wrapper
	ns      *cgroupNSKeeper
	dockerd *background.Process
	sigs    chan os.Signal
	budget  *restartBudget
	// started is when the current dockerd was started; crashes counts the
	// consecutive runs that died young, for the backoff.
	started time.Time
	crashes int
}

// superviseDockerd restarts dockerd when it dies, within the budget, and
// stops it on SIGTERM/SIGINT/SIGQUIT.
func (s *dindSupervisor) superviseDockerd(ctx context.Context) error {
	for {
		select {
		case sig := <-s.sigs:
			if sig == syscall.SIGHUP {
				s.log.Info(ctx, "forwarding SIGHUP to dockerd (configuration reload)")
				s.forward(ctx, s.dockerd, sig)
				continue
			}
			s.log.Info(ctx, "stopping dockerd", slog.F("signal", sig.String()), slog.F("grace", s.cfg.StopGrace.String()))
			s.forward(ctx, s.dockerd, sig)
			if err := stopAfterSignal(s.dockerd, s.cfg.StopGrace); err != nil {
				s.log.Warn(ctx, "dockerd ended badly after the signal", slog.Error(err))
			}
			return nil
		case <-s.dockerd.Done():
			if err := s.restart(ctx); err != nil {
				return err
			}
		}
	}
}

// restart brings dockerd back through the same wrapper after a backoff, or
// returns dockerd's status when no restart is left.
func (s *dindSupervisor) restart(ctx context.Context) error {
	werr := s.dockerd.Wait()
	n, ok := s.budget.take(time.Now())
	if !ok {
		s.log.Error(ctx, "dockerd exited and no restart is left", slog.Error(werr),
			slog.F("restarts_per_10m", s.cfg.Restarts))
		if werr == nil {
			return &ExitError{Code: 1, Err: errors.New("dockerd exited with status 0 and no restart is left")}
		}
		return exitStatus(werr)
	}
	s.crashes++
	if time.Since(s.started) >= healthyRun {
		s.crashes = 1
	}
	delay := restartDelay(s.crashes)
	s.log.Warn(ctx, "dockerd exited, restarting through the delegation wrapper", slog.Error(werr),
		slog.F("restart", n), slog.F("of", s.cfg.Restarts), slog.F("backoff", delay.String()))
	select {
	case <-time.After(delay):
	case sig := <-s.sigs:
		s.log.Info(ctx, "signal while dockerd was down, not restarting", slog.F("signal", sig.String()))
		return nil
	}
	w := s.wrapper
	if kept := s.ns.path(); kept != "" {
		w.CgroupNS = kept
	} else if w.CgroupNS == "" {
		s.log.Warn(ctx, "no cgroup namespace kept from the first dockerd (it died before it ran): the restart makes a new one, one /init deeper")
	}
	cmd, err := w.Wrap(s.cfg.Plan.Dockerd[0], s.cfg.Plan.Dockerd[1:])
	if err != nil {
		return err
	}
	s.started = time.Now()
	return s.dockerd.Restart(s.cfg.StopGrace, cmd.BinName, cmd.Path, cmd.Args...)
}

// runCommand waits for dockerd, runs the user's command against it and
// exits with the command's status; signals go to the command.
func (s *dindSupervisor) runCommand(ctx context.Context) error {
	defer func() { _ = s.dockerd.Stop(s.cfg.StopGrace) }()
	readyCtx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
	err := dind.WaitReady(readyCtx, s.cfg.Plan.Socket, s.dockerd.Done())
	cancel()
	if err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("%w; dockerd's last output:\n%s", err, s.dockerd.Tail())}
	}
	argv := s.cfg.Plan.Command
	p, err := background.New(ctx, s.log, path.Base(argv[0]), argv[0], argv[1:]...)
	if err != nil {
		return err
	}
	p.Env = []string{dind.EnvDockerHost + "=" + s.cfg.Plan.Socket}
	p.Stdio = true
	if err := p.Start(); err != nil {
		return &ExitError{Code: 127, Err: err}
	}
	for {
		select {
		case sig := <-s.sigs:
			s.forward(ctx, p, sig)
		case <-p.Done():
			return exitStatus(p.Wait())
		case <-s.dockerd.Done():
			if err := s.restart(ctx); err != nil {
				_ = p.Stop(s.cfg.StopGrace)
				return err
			}
		}
	}
}

func (s *dindSupervisor) forward(ctx context.Context, p *background.Process, sig os.Signal) {
	if err := p.Signal(sig); err != nil {
		s.log.Warn(ctx, "forward signal", slog.F("signal", sig.String()), slog.Error(err))
	}
}

// stopAfterSignal waits for p to exit after a forwarded signal, killing it
// when the grace period runs out.
func stopAfterSignal(p *background.Process, grace time.Duration) error {
	select {
	case <-p.Done():
	case <-time.After(grace):
		_ = p.Stop(0)
	}
	return p.Wait()
}

// exitStatus turns a child's end into envbox's exit: the child's code, or
// 128+signal as a shell would report it.
func exitStatus(err error) error {
	if err == nil {
		return nil
	}
	var ee *background.ExitError
	if errors.As(err, &ee) {
		if ee.Signal != 0 {
			return &ExitError{Code: 128 + int(ee.Signal), Err: err}
		}
		return &ExitError{Code: ee.Status, Err: err}
	}
	return err
}

// healthyRun is how long dockerd must have run for its death to count as a
// fresh crash rather than one more in a crash loop (as kubelet resets its
// back-off).
const healthyRun = 30 * time.Second

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

func newRestartBudget(max int, window time.Duration) *restartBudget {
	return &restartBudget{max: max, window: window}
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
