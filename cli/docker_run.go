package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// startDocker builds the real dependencies and runs the workspace.
func startDocker(_ *cobra.Command, _ dockerConfig) error {
	return errors.New("envbox docker: not implemented yet")
}
