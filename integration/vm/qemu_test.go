package vm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeQemu puts a qemu-system-x86_64 running script first in PATH.
func fakeQemu(t *testing.T, script string) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "qemu-system-x86_64"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
}

// TestBootSilence: a guest that stops printing is killed once Silence
// passes, with ErrSilent and its console so far; one that keeps printing
// runs to its end.
func TestBootSilence(t *testing.T) {
	fakeQemu(t, "echo STEP 1.00 booted; exec sleep 30\n")
	b := Boot{Timeout: time.Minute, Silence: time.Second}
	start := time.Now()
	out, err := b.Run(context.Background())
	if !errors.Is(err, ErrSilent) || !strings.Contains(err.Error(), "killed: the guest printed nothing for ") {
		t.Fatalf("Run = %v, want ErrSilent", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("killed after %v, want 1-2 s", took)
	}
	if string(out) != "STEP 1.00 booted\n" {
		t.Errorf("console = %q, want the line printed before the silence", out)
	}

	fakeQemu(t, "for i in 1 2 3 4 5 6; do echo STEP $i; sleep 0.4; done\n")
	if out, err := b.Run(context.Background()); err != nil || strings.Count(string(out), "STEP") != 6 {
		t.Errorf("a guest printing every 0.4 s: Run = %q, %v; want 6 lines, nil", out, err)
	}
}
