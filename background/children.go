package background

import (
	"os/exec"
	"runtime"
	"sync"
)

// children records the pids whose exit status belongs to a waiter (the run
// of a Process). The reaper only reaps zombies that are not in it. mu is
// held from before fork until the new pid is recorded, and by the reaper
// while it peeks at and reaps a zombie, so a child can never be reaped by
// the reaper in the window between fork and registration.
var children = struct {
	mu   sync.Mutex
	pids map[int]int // pid → owners; a count because a freed pid can be reused before its old owner unregisters
	wake chan struct{}
}{pids: map[int]int{}, wake: make(chan struct{}, 1)}

// startCmd starts c as a child whose exit status the reaper leaves alone;
// its waiter calls release once it has reaped it. A child started with
// plain c.Start may lose its status to the reaper (c.Wait then fails with
// ECHILD).
func startCmd(c *exec.Cmd) error {
	var err error
	onSpawnThread(func() {
		children.mu.Lock()
		defer children.mu.Unlock()
		if err = c.Start(); err == nil {
			children.pids[c.Process.Pid]++
		}
	})
	return err
}

// release forgets one owner of pid, which has been reaped, and wakes the
// reaper: it may have stopped at this pid's zombie while orphans wait
// behind it.
func release(pid int) {
	children.mu.Lock()
	if children.pids[pid]--; children.pids[pid] <= 0 {
		delete(children.pids, pid)
	}
	children.mu.Unlock()
	select {
	case children.wake <- struct{}{}:
	default:
	}
}

func owned(pid int) bool { return children.pids[pid] > 0 }

// spawn runs functions on one OS thread that never exits. Children are
// started with Pdeathsig, which the kernel fires when the thread that forked
// them dies, not the process: forking from an arbitrary goroutine's thread
// would kill dockerd whenever the Go runtime retires that thread (it does
// for a goroutine that exits while locked to its thread).
var spawn struct {
	once sync.Once
	fns  chan func()
}

func onSpawnThread(fn func()) {
	spawn.once.Do(func() {
		spawn.fns = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for f := range spawn.fns {
				f()
			}
		}()
	})
	done := make(chan struct{})
	spawn.fns <- func() { defer close(done); fn() }
	<-done
}
