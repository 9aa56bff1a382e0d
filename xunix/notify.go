package xunix

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// WatchDir wakes the returned channel when an entry is created in dir
// (inotify IN_CREATE): a cgroup made by mkdir(2) shows at once, with no
// polling delay. Wakes are coalesced (the channel holds one); stop ends
// the watch. Used on cgroupfs, where the VFS reports every mkdir.
func WatchDir(dir string) (wake <-chan struct{}, stop func(), err error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, nil, fmt.Errorf("inotify_init1: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_ONLYDIR); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("inotify_add_watch %s: %w", dir, err)
	}
	// Non-blocking, so the runtime poller reads it and Close ends a Read.
	f := os.NewFile(uintptr(fd), "inotify:"+dir)
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
