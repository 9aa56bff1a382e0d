package background

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"cdr.dev/slog"
	"golang.org/x/sys/unix"
)

// DefaultIdentifyTimeout bounds the wrapper phase: the time a process may
// spend as unshare or sh before it must have become its binary.
const DefaultIdentifyTimeout = 30 * time.Second

// identity is what /proc says a process currently runs.
type identity struct{ exe, comm string }

// readIdentity reads /proc/<pid>/exe and /proc/<pid>/comm. Either may be
// missing (a zombie has no exe); both missing is an error.
func readIdentity(pid int) (identity, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	exe, exeErr := os.Readlink(dir + "/exe")
	comm, commErr := os.ReadFile(dir + "/comm")
	if exeErr != nil && commErr != nil {
		return identity{}, fmt.Errorf("read identity of pid %d: %w", pid, errors.Join(exeErr, commErr))
	}
	return identity{exe: strings.TrimSuffix(exe, " (deleted)"), comm: strings.TrimSuffix(string(comm), "\n")}, nil
}

// is reports whether the process runs bin: the basename of its executable,
// or its comm (the name it was exec'd by, truncated by the kernel to 15
// bytes), which also covers a binary exec'd through a symlink.
func (id identity) is(bin string) bool {
	if id.exe != "" && path.Base(id.exe) == bin {
		return true
	}
	return id.comm != "" && id.comm == bin[:min(len(bin), 15)]
}

// identify watches the new process until it runs r.bin, the deadline
// passes, or it exits, and records the outcome. pidfd (or -1) proves that
// what /proc showed still belongs to our child and not to a reused pid.
func (r *run) identify(timeout time.Duration, pidfd int) {
	defer close(r.decided)
	if pidfd >= 0 {
		defer unix.Close(pidfd)
	}
	start := time.Now()
	delay := 5 * time.Millisecond
	var last identity
	for {
		id, err := readIdentity(r.pid)
		if err == nil && r.alive(pidfd) {
			last = id
			if id.is(r.bin) {
				r.log.Info(r.ctx, "identified", slog.F("pid", r.pid), slog.F("exe", id.exe), slog.F("after", time.Since(start).String()))
				close(r.identified)
				return
			}
		}
		select {
		case <-r.done:
			r.idErr = fmt.Errorf("%s (pid %d) exited before it became %s: %w", last.comm, r.pid, r.bin, r.exitErr())
			return
		case <-time.After(delay):
		}
		if waited := time.Since(start); waited > timeout {
			ie := &IdentityError{BinName: r.bin, Pid: r.pid, Exe: last.exe, Comm: last.comm, Waited: waited.Round(time.Millisecond), Tail: r.tail.String()}
			r.log.Error(r.ctx, "process never became "+r.bin, slog.F("pid", r.pid), slog.F("exe", last.exe), slog.F("comm", last.comm), slog.Error(ie))
			r.idErr = ie
			return
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// alive reports whether our child has not been reaped yet, so its pid
// cannot have been reused.
func (r *run) alive(pidfd int) bool {
	if pidfd >= 0 {
		return unix.PidfdSendSignal(pidfd, 0, nil, 0) == nil
	}
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}
