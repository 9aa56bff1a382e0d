package xunix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// WatchDir wakes the returned channel when an entry is created in dir
// (inotify IN_CREATE): a cgroup made by mkdir(2) shows at once, with no
// polling delay. Used on cgroupfs, where the VFS reports every mkdir. stop
// ends the watch.
func WatchDir(dir string) (wake <-chan struct{}, stop func(), err error) {
	return watch(unix.IN_CREATE|unix.IN_ONLYDIR, dir)
}

// WatchModified signals on the returned channel each time one of paths is
// modified (inotify IN_MODIFY), or removed, until ctx ends. cgroup v2
// raises IN_MODIFY on its event files (memory.events, pids.events,
// cgroup.events) when a counter or state changes. Paths that do not exist
// are skipped; err only when none could be watched.
func WatchModified(ctx context.Context, paths ...string) (<-chan struct{}, error) {
	ch, stop, err := watch(unix.IN_MODIFY|unix.IN_DELETE_SELF, paths...)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, stop)
	return ch, nil
}

// watch adds paths to a new inotify instance with mask and signals on the
// returned channel at each batch of events until stop. The channel holds
// one pending signal: events that come faster than the reader coalesce.
// Paths that cannot be watched are skipped; err when none could be.
func watch(mask uint32, paths ...string) (<-chan struct{}, func(), error) {
	if len(paths) == 0 {
		return nil, nil, errors.New("watch: no paths")
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, nil, fmt.Errorf("inotify_init1: %w", err)
	}
	var errs []string
	for _, p := range paths {
		if _, err := unix.InotifyAddWatch(fd, p, mask); err != nil {
			errs = append(errs, fmt.Sprintf("watch %s: %v", p, err))
		}
	}
	if len(errs) == len(paths) {
		_ = unix.Close(fd)
		return nil, nil, errors.New(strings.Join(errs, "; "))
	}
	// Non-blocking, so the runtime's poller waits and Close ends a Read.
	f := os.NewFile(uintptr(fd), "inotify")
	ch := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := f.Read(buf); err != nil {
				return // closed by stop
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	return ch, func() { f.Close() }, nil
}
