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

// TestWatchDir: a directory made in dir wakes the channel; files already
// there do not; stop ends the watch (no more wakes, no goroutine left
// reading).
func TestWatchDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "before"), 0o755); err != nil {
		t.Fatal(err)
	}
	wake, stop, err := WatchDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
		t.Fatal("woken before anything was created")
	case <-time.After(50 * time.Millisecond):
	}
	for _, name := range []string{"a", "b"} { // two mkdirs, at most one wake pending
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-wake:
	case <-time.After(5 * time.Second):
		t.Fatal("no wake within 5 s of a mkdir")
	}
	stop()
	time.Sleep(50 * time.Millisecond)
	select {
	case <-wake: // the second mkdir's, read before stop
	default:
	}
	if err := os.Mkdir(filepath.Join(dir, "after"), 0o755); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
		t.Fatal("woken after stop")
	case <-time.After(100 * time.Millisecond):
	}
}

// TestWatchDirMissing names the directory.
func TestWatchDirMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	_, _, err := WatchDir(dir)
	if want := "watch " + dir + ": no such file or directory"; err == nil || err.Error() != want {
		t.Fatalf("WatchDir(%s) = %v, want %q", dir, err, want)
	}
}
