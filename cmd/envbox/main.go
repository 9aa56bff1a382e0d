// Command envbox is the entrypoint of privileged container images that run
// dockerd with its containers attributed to the pod's cgroup.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/envbox/envbox/cli"
)

func main() {
	err := cli.Root().ExecuteContext(context.Background())
	if err == nil {
		return
	}
	var exit *cli.ExitError
	if errors.As(err, &exit) {
		if exit.Err != nil {
			fmt.Fprintln(os.Stderr, "envbox:", exit.Err)
		}
		os.Exit(exit.Code)
	}
	fmt.Fprintln(os.Stderr, "envbox:", err)
	os.Exit(1)
}
