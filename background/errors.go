package background

import (
	"fmt"
	"syscall"
	"time"
)

// ExitError reports how a supervised process ended, with the last output it
// printed so a crash message says why.
type ExitError struct {
	BinName string
	Pid     int
	// Status is the exit code, or -1 when killed by a signal.
	Status int
	Signal syscall.Signal
	Tail   string
}

func (e *ExitError) Error() string {
	how := fmt.Sprintf("exit status %d", e.Status)
	if e.Signal != 0 {
		how = "killed by " + e.Signal.String()
	}
	if e.Tail == "" {
		return fmt.Sprintf("%s (pid %d) %s", e.BinName, e.Pid, how)
	}
	return fmt.Sprintf("%s (pid %d) %s; last output:\n%s", e.BinName, e.Pid, how, e.Tail)
}

// IdentityError reports a process that is still running but never became
// the binary it was started for (e.g. still the delegation wrapper's
// unshare or sh). It did not exit: the caller decides what to do with it.
type IdentityError struct {
	BinName string
	Pid     int
	// Exe is /proc/<pid>/exe at the last look, Comm its /proc/<pid>/comm.
	Exe, Comm string
	Waited    time.Duration
	Tail      string
}

func (e *IdentityError) Error() string {
	msg := fmt.Sprintf("%s: pid %d is still %q (exe %s) after %s", e.BinName, e.Pid, e.Comm, e.Exe, e.Waited)
	if e.Tail == "" {
		return msg
	}
	return msg + "; last output:\n" + e.Tail
}
