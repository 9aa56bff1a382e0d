package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"cdr.dev/slog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/envbox/envbox/dind"
)

// dindConfig is everything `envbox dind` needs, parsed and validated: what
// package dind runs with, and what only cli uses.
type dindConfig struct {
	dind.Config
	LogFormat string
	// Env is what docker:dind's entrypoint reads, for dind.ResolveEntrypoint.
	Env dind.EntrypointEnv
}

func dindCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dind [envbox flags --] [dockerd flags | dockerd ... | command ...]",
		Short: "Run dockerd with its containers nested in this container's cgroup (docker:dind entrypoint)",
		Long:  dindLong,
		// Arguments belong to dockerd (docker:dind semantics); envbox's own
		// flags are parsed by parseDindArgs, before "--" only.
		DisableFlagParsing: true,
		RunE: rawArgsRunE(func(args []string) (dindConfig, error) {
			return parseDindArgs(args, os.LookupEnv, os.Getpid() == 1)
		}, func(cfg dindConfig) string { return cfg.LogFormat }, runDind),
	}
}

// rawArgsRunE is the RunE of a command that parses its own arguments
// (DisableFlagParsing: what follows "--" belongs to the daemon): -h or
// --help alone, or in envbox's flags, prints the help; a parse error or a
// bad log format is a usage error (exit 2); otherwise run gets the logger.
func rawArgsRunE[C any](parse func([]string) (C, error), logFormat func(C) string,
	run func(context.Context, slog.Logger, C) error) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
			return c.Help()
		}
		cfg, err := parse(args)
		if errors.Is(err, pflag.ErrHelp) {
			return c.Help()
		}
		if err != nil {
			return usageError(err)
		}
		log, err := newLogger(c.ErrOrStderr(), logFormat(cfg), false)
		if err != nil {
			return usageError(err)
		}
		return run(c.Context(), log, cfg)
	}
}

// runDind runs `envbox dind` with the real system and maps its end to an
// exit status.
func runDind(ctx context.Context, log slog.Logger, cfg dindConfig) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	cfg.Headroom = withHook(cfg.Headroom, os.Getpid() == 1)
	return exitError(dind.Run(ctx, cfg.Config, dind.OSDeps(log, sigs)))
}
