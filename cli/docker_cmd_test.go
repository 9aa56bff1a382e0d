package cli

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestDockerCmdBadValueStartsNothing: a bad value is exit 2 with one line
// naming it, before any process starts (PATH holds recording fakes).
func TestDockerCmdBadValueStartsNothing(t *testing.T) {
	bin := t.TempDir()
	record := filepath.Join(bin, "started")
	for _, name := range []string{"unshare", "dockerd", "sysbox-mgr", "sysbox-fs"} {
		script := "#!/bin/sh\necho \"$0 $*\" >>" + record + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	for k, v := range requiredEnv() {
		t.Setenv(k, v)
	}
	t.Setenv(envCPUs, "two")
	root := Root()
	root.SetArgs([]string{"docker"})
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	err := root.Execute()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 2 || err.Error() != `parse CODER_CPUS="two": want a positive number of CPUs such as 2 or 0.5` {
		t.Fatalf("envbox docker with CODER_CPUS=two: %v, want exit 2 naming the variable", err)
	}
	if b, err := os.ReadFile(record); err == nil {
		t.Errorf("processes started despite the bad value:\n%s", b)
	}
}
