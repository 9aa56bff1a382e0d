package background

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cdr.dev/slog/sloggers/slogtest"
)

// TestStdioPassthrough runs a child with Stdio: its output goes to the
// parent's stdout (here a file), not to the log or the tail.
func TestStdioPassthrough(t *testing.T) {
	out := filepath.Join(t.TempDir(), "stdout")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stdout
	os.Stdout = f
	p, err := New(context.Background(), slogtest.Make(t, nil), "sh", "/bin/sh", "-c", "echo result")
	if err == nil {
		p.Stdio = true
		err = p.Start()
	}
	os.Stdout = saved
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	got, _ := os.ReadFile(out)
	if string(got) != "result\n" {
		t.Errorf("child stdout = %q, want %q", got, "result\n")
	}
	if tail := p.Tail(); strings.Contains(tail, "result") {
		t.Errorf("tail %q holds passthrough output", tail)
	}
}
