package cli

import (
	"os"

	"github.com/spf13/afero"
	"github.com/spf13/cobra"
)

func dockerCmd() *cobra.Command {
	var vals map[string]*rawValue
	cmd := &cobra.Command{
		Use:   "docker",
		Short: "Run a Coder workspace: dockerd through the delegation wrapper, then the inner workspace container",
		Long: `Starts sysbox (when installed), dockerd through the cgroup delegation wrapper,
pulls the inner image, and runs the workspace container with the pod's
limits, then the bootstrap script as the user. Exits non-zero when the
workspace dies, 0 after a clean SIGTERM shutdown. A bad value exits 2 before
anything starts.

` + dockerVars.help("Environment (each also a flag; a flag wins over its variable; empty = unset):"),
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := parseDocker(os.LookupEnv, vals, func(f string) bool { return c.Flags().Changed(f) })
			if err != nil {
				return usageError(err)
			}
			if err := cfg.readCAs(afero.NewOsFs()); err != nil {
				return usageError(err)
			}
			return startDocker(c, cfg)
		},
	}
	vals = dockerVars.flags(cmd.Flags())
	return cmd
}
