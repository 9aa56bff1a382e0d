package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"cdr.dev/slog"
	"github.com/spf13/cobra"

	"github.com/envbox/envbox/background"
	"github.com/envbox/envbox/dind"
	"github.com/envbox/envbox/embed"
)

const (
	envDockerdRestarts = "ENVBOX_DOCKERD_RESTARTS"
	// restartWindow is the span in which at most Restarts restarts happen.
	restartWindow = 10 * time.Minute
)

// defaultDockerdArgs is what docker:dind passes when given no flags.
var defaultDockerdArgs = []string{"--host=unix:///var/run/docker.sock"}

// dindConfig is everything `envbox dind` needs, parsed and validated.
type dindConfig struct {
	Dockerd     string
	DockerdArgs []string
	Attempts    int
	Restarts    int
	Isolated    bool
	StopGrace   time.Duration
	LogFormat   string
}

func dindCmd() *cobra.Command {
	cfg := dindConfig{}
	cmd := &cobra.Command{
		Use:   "dind [flags] [-- dockerd flags...]",
		Short: "Run dockerd with its containers nested in this container's cgroup (docker:dind entrypoint)",
		Long: `Runs dockerd through the cgroup delegation wrapper: a new cgroup namespace,
cgroup2 remounted so this container's cgroup is the root, every process moved
into /init, every controller enabled. envbox stays in front: it forwards
SIGTERM/SIGINT/SIGHUP/SIGQUIT, reaps zombies when it is PID 1, restarts dockerd
when it dies (` + envDockerdRestarts + `, default 3 per 10 minutes) and exits with
dockerd's status.

Environment:
  ` + embed.EnvDelegateAttempts + `  delegation attempts (default 100)
  ` + envDockerdRestarts + `   dockerd restarts allowed per 10 minutes (default 3; 0 = never)
  ` + envLogFormat + `         json or human (default: human on a terminal)`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := cfg.parseEnv(os.LookupEnv); err != nil {
				return usageError(err)
			}
			if dash := c.ArgsLenAtDash(); dash > 0 {
				return usageError(fmt.Errorf("unexpected arguments before --: %q", args[:dash]))
			}
			cfg.DockerdArgs = args
			if len(args) == 0 {
				cfg.DockerdArgs = defaultDockerdArgs
			}
			if err := cfg.validate(); err != nil {
				return usageError(err)
			}
			log, err := newLogger(c.ErrOrStderr(), cfg.LogFormat, false)
			if err != nil {
				return usageError(err)
			}
			return runDind(c.Context(), log, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dockerd, "dockerd", "dockerd", "dockerd binary to run")
	f.BoolVar(&cfg.Isolated, "isolated-mount", false, "also unshare the mount namespace so the cgroup2 remount does not leak into the container (breaks sysbox-fs propagation)")
	f.DurationVar(&cfg.StopGrace, "stop-grace", 10*time.Second, "time dockerd gets after SIGTERM before SIGKILL")
	return cmd
}

func (c *dindConfig) parseEnv(lookup func(string) (string, bool)) error {
	c.Attempts = dind.DefaultDelegateAttempts
	if v, ok := lookup(embed.EnvDelegateAttempts); ok {
		n, err := parsePositive(v)
		if err != nil {
			return fmt.Errorf("parse %s=%q: %w", embed.EnvDelegateAttempts, v, err)
		}
		c.Attempts = n
	}
	c.Restarts = 3
	if v, ok := lookup(envDockerdRestarts); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("parse %s=%q: want a whole number >= 0", envDockerdRestarts, v)
		}
		c.Restarts = n
	}
	c.LogFormat, _ = lookup(envLogFormat)
	return nil
}

func (c *dindConfig) validate() error {
	if c.Dockerd == "" {
		return errors.New("--dockerd: empty binary")
	}
	if c.StopGrace <= 0 {
		return fmt.Errorf("--stop-grace=%s: must be positive", c.StopGrace)
	}
	return nil
}

func parsePositive(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, errors.New("want a whole number > 0")
	}
	return n, nil
}

// runDind starts dockerd through the wrapper and supervises it until it
// exits for good or a termination signal arrives.
func runDind(ctx context.Context, log slog.Logger, cfg dindConfig) error {
	w := dind.Wrapper{Attempts: cfg.Attempts, Isolated: cfg.Isolated}
	cmd, err := w.Wrap(cfg.Dockerd, cfg.DockerdArgs)
	if err != nil {
		return usageError(err)
	}
	p, err := background.New(ctx, log, cmd.BinName, cmd.Path, cmd.Args...)
	if err != nil {
		return err
	}
	p.Env = cmd.Env

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	log.Info(ctx, "starting dockerd", slog.F("dockerd_argv", append([]string{cfg.Dockerd}, cfg.DockerdArgs...)))
	if err := p.Start(); err != nil {
		return err
	}
	budget := newRestartBudget(cfg.Restarts, restartWindow)
	for {
		select {
		case sig := <-sigs:
			log.Info(ctx, "forwarding signal", slog.F("signal", sig.String()))
			if sig == syscall.SIGHUP {
				// dockerd reloads its configuration on SIGHUP.
				if err := p.Signal(sig); err != nil {
					log.Warn(ctx, "forward signal", slog.Error(err))
				}
				continue
			}
			if err := p.Signal(sig); err != nil {
				log.Warn(ctx, "forward signal", slog.Error(err))
			}
			return exitStatus(waitGrace(p, cfg.StopGrace))
		case <-p.Done():
			werr := p.Wait()
			if !budget.take(time.Now()) {
				log.Error(ctx, "dockerd exited, no restart left", slog.Error(werr), slog.F("restarts", cfg.Restarts))
				return exitStatus(werr)
			}
			log.Warn(ctx, "dockerd exited, restarting through the delegation wrapper", slog.Error(werr))
			if err := p.Restart(cfg.StopGrace, cmd.BinName, cmd.Path, cmd.Args...); err != nil {
				return err
			}
		}
	}
}

// waitGrace waits for p to exit after a forwarded signal, killing it when the
// grace period runs out.
func waitGrace(p *background.Process, grace time.Duration) error {
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

// restartBudget allows at most max restarts in any window.
type restartBudget struct {
	max    int
	window time.Duration
	times  []time.Time
}

func newRestartBudget(max int, window time.Duration) *restartBudget {
	return &restartBudget{max: max, window: window}
}

func (b *restartBudget) take(now time.Time) bool {
	kept := b.times[:0]
	for _, t := range b.times {
		if now.Sub(t) < b.window {
			kept = append(kept, t)
		}
	}
	b.times = kept
	if len(b.times) >= b.max {
		return false
	}
	b.times = append(b.times, now)
	return true
}
