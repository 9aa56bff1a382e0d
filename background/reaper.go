package background

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"unsafe"

	"cdr.dev/slog"
	"golang.org/x/sys/unix"
)

// StartReaper makes the calling process reap the zombies of its orphaned
// descendants. As PID 1 the kernel already hands it every orphan of the
// container; otherwise it sets PR_SET_CHILD_SUBREAPER, so orphans of the
// processes it starts (dockerd's shims, a wrapper's stray children) are
// reparented to it instead of escaping to whatever PID 1 the container has,
// which may never wait for them. The flag stays set after stop.
//
// The reaper never takes the exit status of a Process: it peeks with
// waitid(P_ALL, WNOHANG|WNOWAIT) and reaps only pids that nobody owns. A
// zombie whose owner has not reaped it yet holds the queue until the owner
// does (Process always waits at once). Call it once per process; stop ends
// the loop and returns once it has.
func StartReaper(ctx context.Context, log slog.Logger) (stop func(), err error) {
	if os.Getpid() != 1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("prctl PR_SET_CHILD_SUBREAPER: %w", err)
		}
	}
	log = log.Named("reaper")
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGCHLD)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			reapOrphans(ctx, log)
			select {
			case <-ctx.Done():
				return
			case <-sigs:
			case <-children.wake:
			}
		}
	}()
	log.Debug(ctx, "started", slog.F("pid", os.Getpid()))
	return func() { cancel(); signal.Stop(sigs); <-done }, nil
}

// reapOrphans reaps unowned zombies until none is waiting or the first
// waiting one is owned: its owner reaps it and then wakes the reaper.
func reapOrphans(ctx context.Context, log slog.Logger) {
	for {
		pid, ws, err := reapOne()
		if err != nil {
			log.Error(ctx, "reap", slog.Error(err))
			return
		}
		if pid == 0 {
			return
		}
		if ws.Signaled() {
			log.Debug(ctx, "reaped orphan", slog.F("pid", pid), slog.F("signal", ws.Signal().String()))
		} else {
			log.Debug(ctx, "reaped orphan", slog.F("pid", pid), slog.F("status", ws.ExitStatus()))
		}
	}
}

// reapOne reaps the first waitable child if nobody owns it. pid 0 means
// nothing was reaped.
func reapOne() (int, unix.WaitStatus, error) {
	children.mu.Lock()
	defer children.mu.Unlock()
	pid, err := peekZombie()
	if err != nil || pid == 0 || owned(pid) {
		return 0, 0, err
	}
	var ws unix.WaitStatus
	for {
		_, err = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return 0, 0, fmt.Errorf("wait4 pid %d: %w", pid, err)
	}
	return pid, ws, nil
}

// sigchldInfo is the start of siginfo_t as waitid fills it for a child
// (same layout on every 64-bit Linux): x/sys hides si_pid in padding.
type sigchldInfo struct {
	Signo, Errno, Code, _ int32
	Pid                   int32
	Uid                   uint32
	Status                int32
	_                     [100]byte
}

// The kernel writes a whole siginfo_t (128 bytes): sigchldInfo may not be
// smaller than x/sys's.
var _ [unsafe.Sizeof(sigchldInfo{}) - unsafe.Sizeof(unix.Siginfo{})]struct{}

// peekZombie returns the pid of a child that has exited, leaving it
// waitable; 0 when there is none (or no child at all).
func peekZombie() (int, error) {
	var info sigchldInfo
	for {
		err := unix.Waitid(unix.P_ALL, 0, (*unix.Siginfo)(unsafe.Pointer(&info)), unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue // interrupted before anything happened: ask again
		case errors.Is(err, unix.ECHILD):
			return 0, nil
		case err != nil:
			return 0, fmt.Errorf("waitid P_ALL WNOWAIT: %w", err)
		}
		return int(info.Pid), nil
	}
}
