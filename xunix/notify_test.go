package xunix

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

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
	if want := "inotify_add_watch " + dir + ": no such file or directory"; err == nil || err.Error() != want {
		t.Fatalf("WatchDir(%s) = %v, want %q", dir, err, want)
	}
}
