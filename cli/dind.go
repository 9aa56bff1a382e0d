package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"strconv"
	"syscall"
	"time"

	"cdr.dev/slog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/envbox/envbox/dind"
	"github.com/envbox/envbox/embed"
)

// Environment variables of envbox dind itself; the docker:dind ones are in
// package dind. All are variables, never flags, so they cannot collide with
// dockerd's flags.
const (
	envDockerdRestarts = "ENVBOX_DOCKERD_RESTARTS"
)

// dindConfig is everything `envbox dind` needs, parsed and validated.
type dindConfig struct {
	Plan           dind.Plan
	Attempts       int
	Restarts       int
	Isolated       bool
	StopGrace      time.Duration
	ReadyTimeout   time.Duration
	LogFormat      string
	TLSSAN         string
	IPTablesLegacy *string
	// ContainerSetup is docker:dind's start-up hygiene (pid files, mounts);
	// on when envbox is PID 1, i.e. the container's entrypoint.
	ContainerSetup bool
}

const dindLong = `Runs dockerd through the cgroup delegation wrapper: a new cgroup namespace,
cgroup2 remounted so this container's cgroup is the root, every process moved
into /init, every controller enabled. Every inner container then nests under
this container's cgroup, inside its limits. envbox stays in front: it forwards
SIGTERM/SIGINT/SIGHUP/SIGQUIT, reaps zombies when it is PID 1, restarts dockerd
when it dies and exits with dockerd's status.

Arguments follow docker:dind's entrypoint:
  (none)              dockerd with the default listeners
  --flag ...          the default listeners followed by these dockerd flags
  dockerd ...         this dockerd command line, as given
  any other command   dockerd with the defaults, then the command with
                      DOCKER_HOST set; envbox exits with its status
envbox's own flags go before "--": envbox dind [envbox flags] -- [arguments]

Environment:
  DOCKER_TLS_CERTDIR        unset: unix socket only; "": plain TCP on 2375
                            (--tls=false); a dir: generate/verify certs there
                            and serve TLS on 2376 (docker:dind sets /certs)
  DOCKER_TLS_SAN            extra SANs, "DNS:name,IP:addr"
  DOCKER_HOST               unix://PATH moves the unix socket
  DOCKER_IPTABLES_LEGACY    set: non-empty = iptables-legacy, empty = nft
  ` + embed.EnvDelegateAttempts + `  delegation attempts (default 100)
  ` + envDockerdRestarts + `   dockerd restarts allowed per 10 minutes (default 3; 0 = never)
  ` + envLogFormat + `         json or human (default: human on a terminal)

Exit status: 0 after a clean stop on SIGTERM/SIGINT, 2 for bad flags or
environment (nothing started), 1 when preflight or set-up fails (nothing
started), otherwise dockerd's (or the command's) status, 128+N when killed
by signal N.`

func dindCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dind [envbox flags --] [dockerd flags | dockerd ... | command ...]",
		Short: "Run dockerd with its containers nested in this container's cgroup (docker:dind entrypoint)",
		Long:  dindLong,
		// Arguments belong to dockerd (docker:dind semantics); envbox's own
		// flags are parsed by parseDindArgs, before "--" only.
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
				return c.Help()
			}
			cfg, err := parseDindArgs(args, os.LookupEnv, os.Getpid() == 1)
			if errors.Is(err, pflag.ErrHelp) {
				return c.Help()
			}
			if err != nil {
				return usageError(err)
			}
			log, err := newLogger(c.ErrOrStderr(), cfg.LogFormat, false)
			if err != nil {
				return usageError(err)
			}
			return runDind(c.Context(), log, cfg)
		},
	}
}

// parseDindArgs splits envbox's flags (before "--") from docker:dind's
// arguments and reads the environment through lookup.
func parseDindArgs(args []string, lookup func(string) (string, bool), pid1 bool) (dindConfig, error) {
	cfg := dindConfig{ContainerSetup: pid1}
	rest := args
	if i := indexOf(args, "--"); i >= 0 {
		fs := pflag.NewFlagSet("dind", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.BoolVar(&cfg.Isolated, "isolated-mount", false, "")
		fs.DurationVar(&cfg.StopGrace, "stop-grace", 10*time.Second, "")
		fs.DurationVar(&cfg.ReadyTimeout, "ready-timeout", 60*time.Second, "")
		if err := fs.Parse(args[:i]); err != nil {
			return cfg, err
		}
		if fs.NArg() > 0 {
			return cfg, fmt.Errorf("unexpected arguments before --: %q", fs.Args())
		}
		rest = args[i+1:]
	} else {
		cfg.StopGrace, cfg.ReadyTimeout = 10*time.Second, 60*time.Second
	}
	if cfg.StopGrace <= 0 {
		return cfg, fmt.Errorf("--stop-grace=%s: must be positive", cfg.StopGrace)
	}
	if cfg.ReadyTimeout <= 0 {
		return cfg, fmt.Errorf("--ready-timeout=%s: must be positive", cfg.ReadyTimeout)
	}
	if err := cfg.parseEnv(lookup); err != nil {
		return cfg, err
	}
	env := dind.EntrypointEnv{}
	env.DockerHost, _ = lookup(dind.EnvDockerHost)
	if v, ok := lookup(dind.EnvTLSCertDir); ok {
		env.TLSCertDir = &v
	}
	cfg.Plan = dind.ResolveEntrypoint(rest, env)
	return cfg, nil
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
	c.TLSSAN, _ = lookup(dind.EnvTLSSAN)
	if v, ok := lookup(dind.EnvIPTablesLegacy); ok {
		c.IPTablesLegacy = &v
	}
	if v, ok := lookup(dind.EnvDockerHost); ok && v != "" {
		if _, err := socketOf(v); err != nil {
			return fmt.Errorf("parse %s=%q: want unix://PATH or tcp://HOST:PORT", dind.EnvDockerHost, v)
		}
	}
	// Relative, certificates would be written wherever envbox was started.
	if v, ok := lookup(dind.EnvTLSCertDir); ok && v != "" && !path.IsAbs(v) {
		return fmt.Errorf("parse %s=%q: want an absolute directory", dind.EnvTLSCertDir, v)
	}
	return nil
}

// maxWhole bounds the counts envbox passes to its script (the script's
// own bound: nine digits, so its shell arithmetic cannot overflow).
const maxWhole = 999999999

// parsePositive parses a whole number from 1 to maxWhole.
func parsePositive(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > maxWhole {
		return 0, errors.New("want a whole number from 1 to 999999999")
	}
	return n, nil
}

func indexOf(args []string, s string) int {
	for i, a := range args {
		if a == s {
			return i
		}
	}
	return -1
}

// runtime is the part of the configuration package dind runs with.
func (c dindConfig) runtime() dind.Config {
	return dind.Config{
		Plan: c.Plan, Attempts: c.Attempts, Restarts: c.Restarts, Isolated: c.Isolated,
		StopGrace: c.StopGrace, ReadyTimeout: c.ReadyTimeout, TLSSAN: c.TLSSAN,
		IPTablesLegacy: c.IPTablesLegacy, ContainerSetup: c.ContainerSetup,
	}
}

// runDind runs `envbox dind` with the real system and maps its end to an
// exit status.
func runDind(ctx context.Context, log slog.Logger, cfg dindConfig) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	return exitError(dind.Run(ctx, cfg.runtime(), dind.OSDeps(log, sigs)))
}
