package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"cdr.dev/slog"
	"github.com/spf13/afero"
	"github.com/spf13/cobra"

	"github.com/envbox/envbox/background"
	"github.com/envbox/envbox/dind"
	"github.com/envbox/envbox/dind/workspace"
	"github.com/envbox/envbox/xunix"
)

// proc is the part of background.Process the workspace flow drives.
type proc interface {
	Done() <-chan struct{}
	Wait() error
	Stop(grace time.Duration) error
	Restart(grace time.Duration, binName, cmd string, args ...string) error
}

// dockerDeps are the seams of `envbox docker`: tests replace every one.
type dockerDeps struct {
	log      slog.Logger
	fs       afero.Fs
	environ  []string
	lookPath func(string) (string, error)
	signals  <-chan os.Signal
	// start launches cmd under supervision; onLine sees each output line.
	start func(ctx context.Context, log slog.Logger, cmd dind.Command, onLine func(string)) (proc, error)
	api   func(socket string) (workspace.API, error)
	// keepNS keeps the first dockerd's cgroup namespace in k for restarts.
	keepNS func(ctx context.Context, log slog.Logger, p proc, k *cgroupNSKeeper)
	// delegatedNS finds the namespace of an earlier delegation in this
	// container (dind.DelegatedNamespace).
	delegatedNS func() (string, error)
	cgroup      workspace.CgroupLimits
	now         func() time.Time
	// poll is the Docker API ping interval.
	poll time.Duration
}

// startDocker builds the real dependencies and runs the workspace.
func startDocker(c *cobra.Command, cfg dockerConfig) error {
	log, err := newDockerLogger(c.ErrOrStderr(), cfg)
	if err != nil {
		return usageError(err)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	fs := afero.NewOsFs()
	deps := dockerDeps{
		log: log, fs: fs, environ: os.Environ(), lookPath: exec.LookPath, signals: sigs,
		start: startBackground, api: newDockerAPI, keepNS: keepBackgroundNS, delegatedNS: osDelegatedNamespace(fs),
		cgroup: xunixLimits{fs: fs},
		now:    time.Now, poll: 250 * time.Millisecond,
	}
	// PID-1 duty (envbox docker is the image's entrypoint): reap orphans
	// such as exited exec and shim children without taking the exit status
	// of a supervised process.
	stopReaper, err := background.StartReaper(c.Context(), log)
	if err != nil {
		return err
	}
	defer stopReaper()
	return redactError(runDocker(c.Context(), cfg, deps), dockerSecrets(cfg))
}

// dockerSecrets are the agent token and every credential of the pull secret.
func dockerSecrets(cfg dockerConfig) []string {
	secrets := []string{cfg.AgentToken}
	if cfg.PullSecret != nil {
		for _, a := range cfg.PullSecret.Auths {
			secrets = append(secrets, a.Auth, a.Password, a.IdentityToken, a.RegistryToken)
		}
	}
	return secrets
}

// redactError keeps err's exit code but removes every secret from its
// text: main prints it outside the redacting log sink, and it can quote a
// child's last output (found by cli/secrets_test.go: dockerd's death
// quoted its environment, token included).
func redactError(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := newRedactSink(nil, secrets...).(*redactSink).redact(err.Error())
	if msg == err.Error() {
		return err
	}
	code := 1
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	}
	return &ExitError{Code: code, Err: errors.New(msg)}
}

// newDockerLogger is newLogger behind the secret filter: the agent token
// and every credential of the pull secret become [REDACTED].
func newDockerLogger(w io.Writer, cfg dockerConfig) (slog.Logger, error) {
	sink, err := newSink(w, cfg.LogFormat)
	if err != nil {
		return slog.Logger{}, err
	}
	log := slog.Make(newRedactSink(sink, dockerSecrets(cfg)...))
	if cfg.Debug {
		log = log.Leveled(slog.LevelDebug)
	}
	return log, nil
}

func startBackground(ctx context.Context, log slog.Logger, cmd dind.Command, onLine func(string)) (proc, error) {
	p, err := background.New(ctx, log, cmd.BinName, cmd.Path, cmd.Args...)
	if err != nil {
		return nil, err
	}
	// The daemons never need the workspace's secrets: blank them in the
	// inherited environment (the last value of a name wins).
	p.Env = append(append([]string{}, cmd.Env...), envAgentToken+"=", envImagePullSecret+"=")
	p.OnLine = onLine
	if err := p.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

// keepBackgroundNS keeps the namespace of a real supervised dockerd.
func keepBackgroundNS(ctx context.Context, log slog.Logger, p proc, k *cgroupNSKeeper) {
	if bp, ok := p.(*background.Process); ok {
		k.capture(ctx, log, bp)
	}
}

func newDockerAPI(socket string) (workspace.API, error) { return workspace.NewClient(socket) }

// xunixLimits reads envbox's own cgroup limits through package xunix.
type xunixLimits struct{ fs afero.Fs }

func (x xunixLimits) CPU() (int64, int64, error) {
	q, err := xunix.ReadEffectiveCPUQuota(x.fs, "self")
	if err != nil {
		return 0, 0, err
	}
	if q.Unlimited {
		return -1, q.Period, nil
	}
	return q.Quota, q.Period, nil
}

func (x xunixLimits) Memory() (int64, error) {
	m, err := xunix.ReadEffectiveMemoryLimit(x.fs, "self")
	if err != nil {
		return 0, err
	}
	if m.Unlimited {
		return -1, nil
	}
	return m.Bytes, nil
}

// isNoSpace: err (a pull, a create, or dockerd's end with its last output)
// says the data root is full, in the words package dind recognises.
func isNoSpace(err error) bool {
	return err != nil && dind.IsNoSpace(err.Error())
}

// workspaceExitCode is envbox's status when the workspace container dies:
// non-zero so Kubernetes restarts the pod instead of keeping an empty one.
const workspaceExitCode = 1

// runDocker is the whole `envbox docker` flow.
func runDocker(ctx context.Context, cfg dockerConfig, deps dockerDeps) error {
	s := &session{cfg: cfg, deps: deps, log: deps.log}
	defer s.stopDaemons(ctx)
	if err := s.startSysbox(ctx); err != nil {
		return err
	}
	if err := s.startDockerd(ctx); err != nil {
		return err
	}
	sig, err := s.setupOrSignal(ctx)
	if s.failedForSpace(err) {
		s.log.Warn(ctx, "dockerd data root is full, restarting dockerd on the fallback data root", slog.Error(err))
		if err = s.restartDockerd(ctx); err == nil {
			sig, err = s.setupOrSignal(ctx)
		}
	}
	if sig != nil {
		return s.shutdown(ctx, sig)
	}
	if err != nil {
		return err
	}
	return s.supervise(ctx)
}
