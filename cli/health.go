package cli

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/spf13/afero"
	"github.com/spf13/cobra"

	"github.com/envbox/envbox/dind"
)

// healthConfig is everything `envbox health` needs.
type healthConfig struct {
	Host    string // unix:///PATH
	Timeout time.Duration
}

// healthVars is the table of `envbox health`.
var healthVars = varTable[healthConfig]{
	{env: dind.EnvDockerHost, flag: "host", def: dind.DefaultSocket,
		meaning: "unix socket of the dockerd to ask (unix:///PATH)",
		set:     setHealthHost},
	{flag: "timeout", def: "2s", meaning: "how long dockerd may take to answer",
		set: func(c *healthConfig, v string) error { return setDuration(&c.Timeout, v) }},
}

func setHealthHost(c *healthConfig, v string) error {
	if sock, err := socketOf(v); err != nil || sock == "" {
		return errors.New("want unix:///PATH: the probe runs in the container, beside the socket")
	}
	c.Host = v
	return nil
}

func healthCmd() *cobra.Command {
	var vals map[string]*rawValue
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Exit 0 when dockerd answers and the cgroup delegation holds (for probes and HEALTHCHECK)",
		Long: `For Kubernetes startup/readiness probes and the image's HEALTHCHECK: exits 0,
silently, when the pod's root cgroup (/sys/fs/cgroup) still holds no process
and enables every controller it offers, and dockerd answers /_ping on its unix
socket. Otherwise one line on stderr naming what failed, exit 1. Reads only a
few cgroup files and makes one request.

` + healthVars.help("Flags and variables (a flag wins over its variable; empty = unset):"),
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var cfg healthConfig
			if err := healthVars.parse(&cfg, os.LookupEnv, vals, c.Flags().Changed); err != nil {
				return usageError(err)
			}
			ctx, cancel := context.WithTimeout(c.Context(), cfg.Timeout)
			defer cancel()
			if err := dind.Health(ctx, afero.NewOsFs(), cfg.Host); err != nil {
				return &ExitError{Code: 1, Err: errors.New("health: " + strings.TrimSpace(err.Error()))}
			}
			return nil
		},
	}
	vals = healthVars.flags(cmd.Flags())
	return cmd
}
