package dind

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestStartErrorExitCode: a command that cannot run exits as a shell
// would say: 127 when it does not exist, 126 when it cannot be executed.
func TestStartErrorExitCode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want int
	}{
		{name: "missing_path", path: filepath.Join(dir, "missing"), want: 127},
		{name: "missing_in_path", path: "envbox-no-such-command", want: 127},
		{name: "not_executable", path: notExec, want: 126},
		{name: "directory", path: dir, want: 126},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := StartBackground(context.Background(), testLogger(t), Command{BinName: "cmd", Path: tt.path}, StartOptions{})
			if err == nil {
				_ = p.Stop(0)
				t.Fatalf("StartBackground(%s) started", tt.path)
			}
			if got := exitCode(err); got != tt.want {
				t.Errorf("StartBackground(%s) = %v, exit %d; want %d", tt.path, err, got, tt.want)
			}
		})
	}
}
