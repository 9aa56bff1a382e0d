package cli

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X github.com/envbox/envbox/cli.Version=...".
var Version = "dev"

// ExitError carries the process exit code main should use. A nil Err means
// the failure was already reported (e.g. dockerd's own exit status).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return "exit status " + strconv.Itoa(e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// exitError maps an error of the runtime packages to envbox's exit status:
// their own code when they carry one (a child's status, 126/127 for a
// command that cannot run), else 1.
func exitError(err error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return &ExitError{Code: coded.ExitCode(), Err: err}
	}
	return &ExitError{Code: 1, Err: err}
}

// usageError is a bad flag or environment value: exit 2, nothing started.
func usageError(err error) error { return &ExitError{Code: 2, Err: err} }

// noArgs is cobra.NoArgs as a usage error (exit 2).
func noArgs(c *cobra.Command, args []string) error {
	if err := cobra.NoArgs(c, args); err != nil {
		return usageError(err)
	}
	return nil
}

// Root builds the envbox command tree.
func Root() *cobra.Command {
	root := &cobra.Command{
		Use:           "envbox",
		Short:         "Run dockerd with every container attributed to this container's cgroup",
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// An unknown command is a usage error on one line (exit 2), not
		// cobra's multi-line suggestion with exit 1.
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return c.Help()
			}
			return usageError(fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath()))
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.AddCommand(dindCmd())
	root.AddCommand(runCmd())
	root.AddCommand(dockerCmd())
	root.AddCommand(adoptCmd())
	root.AddCommand(doctorCmd())
	root.AddCommand(healthCmd())
	root.AddCommand(delegateHookCmd())
	return root
}
