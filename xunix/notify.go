package xunix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// WatchModified signals on the returned channel each time one of paths is
// modified (inotify IN_MODIFY), or removed, until ctx ends. The channel
// holds one pending signal: changes that come faster than the reader
// coalesce. cgroup v2 raises IN_MODIFY on its event files (memory.events,
// pids.events) when a counter changes. Paths that do not exist are
// skipped; err only when none could be watched.
func WatchModified(ctx context.Context, paths ...string) (<-chan struct{}, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	var errs []string
	for _, p := range paths {
		if _, err := unix.InotifyAddWatch(fd, p, unix.IN_MODIFY|unix.IN_DELETE_SELF); err != nil {
			errs = append(errs, fmt.Sprintf("watch %s: %v", p, err))
		}
	}
	if len(errs) == len(paths) {
		_ = unix.Close(fd)
		if len(errs) == 0 {
			return nil, errors.New("watch: no paths")
		}
		return nil, errors.New(strings.Join(errs, "; "))
	}
	// Non-blocking: the runtime's poller waits, and Close ends a Read.
	f := os.NewFile(uintptr(fd), "inotify")
	ch := make(chan struct{}, 1)
	go func() {
		<-ctx.Done()
		_ = f.Close()
	}()
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	return ch, nil
}
