package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// KernelCmdline is the guest kernel command line: serial console, quiet,
// power off (not reboot) on panic via -no-reboot, and no v1 controllers so
// the guest is a pure cgroup v2 system. no_timer_check: under TCG on a
// loaded host the early IO-APIC timer check can miss its ticks and panic
// ("IO-APIC + timer doesn't work!"), seen here at load average 17.
const KernelCmdline = "console=ttyS0 quiet panic=-1 cgroup_no_v1=all no_timer_check"

// Boot describes one VM run.
type Boot struct {
	Kernel, Initramfs string
	// MemMiB and CPUs stay small: the host's 2 cores are shared.
	MemMiB, CPUs int
	// Timeout is the hard limit; qemu is killed when it passes.
	Timeout time.Duration
	// Silence, when set, kills a guest that printed nothing on its console
	// for that long and reports ErrSilent: a frozen guest, whose own
	// watchdog (guest/lib.sh, 4 minutes without a step) did not run
	// either. It must exceed the longest quiet stretch of a live guest.
	Silence time.Duration
}

// ErrSilent is a guest killed for printing nothing for Boot.Silence.
var ErrSilent = errors.New("the guest printed nothing")

// Args is the qemu command line. TCG is chosen explicitly: a /dev/kvm that
// exists but cannot run a guest (nested, no VT-x) hangs instead of failing.
func (b Boot) Args() []string {
	return []string{
		"-accel", "tcg",
		"-m", strconv.Itoa(b.MemMiB),
		"-smp", strconv.Itoa(b.CPUs),
		"-nographic", "-no-reboot", "-nic", "none",
		"-kernel", b.Kernel,
		"-initrd", b.Initramfs,
		"-append", KernelCmdline,
	}
}

// Run boots the VM and returns everything it printed on the serial console.
// The guest ends the run with `poweroff -f`; a guest still running at the
// timeout is killed and reported with the console so far.
func (b Boot) Run(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	ctx, silenced := context.WithCancelCause(ctx)
	defer silenced(nil)
	out := &consoleBuffer{last: time.Now()}
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", b.Args()...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if b.Silence > 0 {
		go func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					if quiet := out.quietFor(); quiet > b.Silence {
						silenced(fmt.Errorf("%w for %s", ErrSilent, quiet.Round(time.Second)))
						return
					}
				}
			}
		}()
	}
	err := cmd.Run()
	if cause := context.Cause(ctx); errors.Is(cause, ErrSilent) {
		return out.Bytes(), fmt.Errorf("qemu %v: killed: %w", b.Args(), cause)
	}
	if ctx.Err() != nil {
		return out.Bytes(), fmt.Errorf("qemu %v: no poweroff within %s: %w", b.Args(), b.Timeout, errors.Join(ctx.Err(), err))
	}
	if err != nil {
		return out.Bytes(), fmt.Errorf("qemu %v: %w", b.Args(), err)
	}
	return out.Bytes(), nil
}

// consoleBuffer keeps the console and when it last grew.
type consoleBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	last time.Time
}

func (c *consoleBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = time.Now()
	return c.buf.Write(p)
}

func (c *consoleBuffer) quietFor() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Since(c.last)
}

// Bytes is the console so far (a copy).
func (c *consoleBuffer) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}
