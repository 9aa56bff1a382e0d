package xunix

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestOSExecer(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skipf("no sh in PATH: %v", err)
	}
	ctx := context.Background()
	var ex Execer = OSExecer{}

	cmd := ex.CommandContext(ctx, "sh", "-c", `printf '%s|%s' "$1" "$ENVBOX_X"; printf oops >&2`, "sh", "arg one")
	if got, want := cmd.Argv(), []string{"sh", "-c", `printf '%s|%s' "$1" "$ENVBOX_X"; printf oops >&2`, "sh", "arg one"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Argv() = %q, want %q", got, want)
	}
	cmd.SetEnv([]string{"ENVBOX_X=42"})
	var stderr bytes.Buffer
	cmd.SetStderr(&stderr)
	out, err := cmd.Output()
	if err != nil || string(out) != "arg one|42" || stderr.String() != "oops" {
		t.Errorf("Output() = %q, %v, stderr %q; want \"arg one|42\", nil, \"oops\"", out, err, stderr.String())
	}

	cmd = ex.CommandContext(ctx, "sh", "-c", "cat; exit 3")
	cmd.SetStdin(strings.NewReader("in"))
	out, err = cmd.CombinedOutput()
	var ee *exec.ExitError
	if string(out) != "in" || !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("CombinedOutput() = %q, %v; want \"in\" and exit status 3", out, err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := ex.CommandContext(cancelled, "sh", "-c", "true").Run(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run() with a cancelled context = %v, want context.Canceled", err)
	}
}
