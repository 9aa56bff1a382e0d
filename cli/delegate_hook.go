package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/afero"
	"github.com/spf13/cobra"

	"github.com/envbox/envbox/dind"
	"github.com/envbox/envbox/xunix"
)

// withHook completes a parsed Headroom with what only the running process
// knows: its own binary (the hook) and whether it is PID 1.
func withHook(h dind.Headroom, pid1 bool) dind.Headroom {
	if self, err := os.Executable(); err == nil {
		h.Hook = self
	}
	h.Protect = pid1
	return h
}

// delegateHookCmd is what the delegation script runs after delegating and
// before it execs the daemon: `envbox delegate-hook -- BIN ARGS...`, in
// the daemon's cgroup namespace with /sys/fs/cgroup remounted. It applies
// the headroom reserve from ENVBOX_RESERVE_MEMORY / ENVBOX_RESERVE_PIDS
// (set by envbox in the wrapper's environment) to ENVBOX_RESERVE_PARENT
// (envbox run --cgroup-parent) or, unset, to dockerd's parent found in
// ARGS and daemon.json, and says in one stderr line what it did; the
// daemon's log carries that line. Hidden: not for users.
func delegateHookCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "delegate-hook -- BIN [ARGS...]",
		Short:              "Apply the headroom reserve inside the daemon's cgroup namespace (run by the delegation script)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) < 2 || args[0] != "--" {
				return usageError(fmt.Errorf("delegate-hook: want -- BIN [ARGS...], got %q", args))
			}
			r, err := dind.ReserveFromEnv(os.LookupEnv)
			if err != nil {
				return usageError(err)
			}
			return delegateHook(c, afero.NewOsFs(), xunix.CgroupRoot, args[1:], r)
		},
	}
}

func delegateHook(c *cobra.Command, fsys afero.Fs, root string, argv []string, r dind.Reserve) error {
	what, err := dind.ApplyReserve(fsys, root, argv, r)
	switch {
	case errors.Is(err, dind.ErrNoReserve):
		fmt.Fprintf(c.ErrOrStderr(), "envbox-reserve: warning: %v\n", err)
		return nil
	case err != nil:
		fmt.Fprintf(c.ErrOrStderr(), "envbox-reserve: %s: %v\n", what, err)
		return &ExitError{Code: 1} // the line above said why
	}
	fmt.Fprintf(c.ErrOrStderr(), "envbox-reserve: %s\n", what)
	return nil
}
