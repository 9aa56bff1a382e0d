package cli

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"cdr.dev/slog"
	"github.com/spf13/afero"
	"github.com/spf13/cobra"

	"github.com/envbox/envbox/dind/workspace"
)

// startDocker builds the real dependencies and runs the workspace session.
func startDocker(c *cobra.Command, cfg dockerConfig) error {
	log, err := newDockerLogger(c.ErrOrStderr(), cfg)
	if err != nil {
		return usageError(err)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	deps := workspace.OSDeps(log, sigs)
	cfg.Headroom = withHook(cfg.Headroom, os.Getpid() == 1)
	return redactError(exitError(workspace.Run(c.Context(), cfg.SessionConfig, deps)), dockerSecrets(cfg))
}

// dockerSecrets are the agent token and every credential of the pull
// secret, else of the docker config file (read now only for this: the
// pull reads it again and reports its errors).
func dockerSecrets(cfg dockerConfig) []string {
	secrets := []string{cfg.AgentToken}
	if cfg.PullSecret != nil {
		return append(secrets, cfg.PullSecret.Secrets()...)
	}
	if dc, err := workspace.ReadDockerConfigFile(afero.NewOsFs(), cfg.DockerConfig); err == nil {
		secrets = append(secrets, dc.Secrets()...)
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
