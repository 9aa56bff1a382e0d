package xunix

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWatchModified: a write to a watched file signals; a missing path
// beside it is skipped; nothing to watch is an error naming the paths.
func TestWatchModified(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "memory.events")
	if err := os.WriteFile(file, []byte("oom_kill 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := WatchModified(ctx, file, filepath.Join(dir, "pids.events"))
	if err != nil {
		t.Fatalf("WatchModified: %v", err)
	}
	select {
	case <-ch:
		t.Fatal("signal before any change")
	case <-time.After(50 * time.Millisecond):
	}
	if err := os.WriteFile(file, []byte("oom_kill 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no signal within 5 s of the write")
	}

	missing := filepath.Join(dir, "gone")
	_, err = WatchModified(ctx, missing)
	if want := "watch " + missing + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("WatchModified(%q) error = %v, want %q", missing, err, want)
	}
	if _, err := WatchModified(ctx); err == nil || !strings.Contains(err.Error(), "no paths") {
		t.Errorf("WatchModified() error = %v, want no paths", err)
	}
}
