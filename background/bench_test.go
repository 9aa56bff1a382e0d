package background

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cdr.dev/slog"
)

// BenchmarkExitDetection measures the time from a child's exit to the
// supervisor noticing it, for Process (the child's wait status, which Go
// gets from a pidfd) and, in the same run, for the 10 ms /proc/<pid>/cmdline
// polling loop envbox's predecessor used. The helper records CLOCK_MONOTONIC
// just before it exits; the supervisor side reads the same clock.
func BenchmarkExitDetection(b *testing.B) {
	dir := b.TempDir()
	var pidfd, raw, poll []time.Duration
	for i := 0; b.Loop(); i++ {
		rec := filepath.Join(dir, strconv.Itoa(i))
		pidfd = append(pidfd, detectByWait(b, rec+"-wait"))
		raw = append(raw, detectByRawWait(b, rec+"-raw"))
		poll = append(poll, detectByPolling(b, rec+"-poll"))
	}
	b.ReportMetric(quantile(pidfd, 0.5), "wait_p50_µs")
	b.ReportMetric(quantile(pidfd, 0.9), "wait_p90_µs")
	b.ReportMetric(quantile(poll, 0.5), "poll10ms_p50_µs")
	b.ReportMetric(quantile(poll, 0.9), "poll10ms_p90_µs")
	b.Logf("exit detection over %d exits, µs p50/p90/max: Process (wait status via pidfd) %.0f/%.0f/%.0f; bare exec.Cmd.Wait %.0f/%.0f/%.0f; /proc polling every 10 ms %.0f/%.0f/%.0f",
		len(pidfd), quantile(pidfd, 0.5), quantile(pidfd, 0.9), quantile(pidfd, 1),
		quantile(raw, 0.5), quantile(raw, 0.9), quantile(raw, 1),
		quantile(poll, 0.5), quantile(poll, 0.9), quantile(poll, 1))
}

// detectByWait starts an exit-at helper as a Process and returns the time
// from its recorded exit to Done.
func detectByWait(b *testing.B, rec string) time.Duration {
	b.Helper()
	p, err := New(context.Background(), slog.Make(), "fakedockerd", helperPath("fakedockerd"))
	if err != nil {
		b.Fatal(err)
	}
	p.Env = exitAtEnv(rec)
	if err := p.Start(); err != nil {
		b.Fatal(err)
	}
	<-p.Done()
	noticed := monotonic()
	return sinceExit(b, rec, noticed)
}

// detectByRawWait is the floor: the same helper under a bare exec.Cmd,
// noticed when Wait returns.
func detectByRawWait(b *testing.B, rec string) time.Duration {
	b.Helper()
	c := exec.Command(helperPath("fakedockerd"))
	c.Env = append(os.Environ(), exitAtEnv(rec)...)
	if err := c.Run(); err != nil {
		b.Fatal(err)
	}
	return sinceExit(b, rec, monotonic())
}

// detectByPolling starts the same helper with os/exec and polls
// /proc/<pid>/cmdline every 10 ms until it no longer names the helper
// (a zombie's cmdline is empty), as the /proc-polling supervisor did.
// A helper that exits before the poll ever saw it (the poller descheduled
// past the helper's whole 50 ms life on a loaded machine) gives no sample:
// that run is repeated, at most 10 times, instead of polling forever.
func detectByPolling(b *testing.B, rec string) time.Duration {
	b.Helper()
	for try := 1; ; try++ {
		if d, ok := pollOnce(b, rec+"-"+strconv.Itoa(try)); ok {
			return d
		}
		if try == 10 {
			b.Fatalf("polling never saw the helper's cmdline before it exited, %d tries", try)
		}
	}
}

// pollOnce is one run of detectByPolling; ok is false when the helper
// exited unseen.
func pollOnce(b *testing.B, rec string) (d time.Duration, ok bool) {
	b.Helper()
	c := exec.Command(helperPath("fakedockerd"))
	c.Env = append(os.Environ(), exitAtEnv(rec)...)
	if err := c.Start(); err != nil {
		b.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { _ = c.Wait(); close(waited) }()
	path := "/proc/" + strconv.Itoa(c.Process.Pid) + "/cmdline"
	// Until exec completes, cmdline may be the parent's or empty: wait to
	// see the helper's before reading an empty one as an exit.
	for seen := false; ; time.Sleep(10 * time.Millisecond) {
		select {
		case <-waited:
			if !seen {
				return 0, false
			}
		default:
		}
		cmdline, err := os.ReadFile(path)
		if strings.Contains(string(cmdline), "fakedockerd") {
			seen = true
		} else if seen && (err != nil || len(cmdline) == 0) {
			break
		}
	}
	noticed := monotonic()
	<-waited
	return sinceExit(b, rec, noticed), true
}

func exitAtEnv(rec string) []string {
	at := monotonic() + int64(50*time.Millisecond)
	// One P keeps the helper's exit (every thread must die) short.
	return helperEnv("exit-at", envExitAt+"="+strconv.FormatInt(at, 10), envRecord+"="+rec, "GOMAXPROCS=1")
}

func sinceExit(b *testing.B, rec string, noticed int64) time.Duration {
	b.Helper()
	data, err := os.ReadFile(rec)
	if err != nil {
		b.Fatal(err)
	}
	var exited int64
	if _, err := fmt.Sscan(string(data), &exited); err != nil {
		b.Fatalf("record %s %q: %v", rec, data, err)
	}
	return time.Duration(noticed - exited)
}

// BenchmarkRestart measures Restart of a crashed child: from the call to the
// new child running its binary (identified), through stop, reap and start.
func BenchmarkRestart(b *testing.B) {
	p, err := New(context.Background(), slog.Make(), "fakedockerd", helperPath("fakedockerd"))
	if err != nil {
		b.Fatal(err)
	}
	// The child serves until crash kills it: one that exits on its own at
	// once can beat its identification, which WaitIdentified then reports
	// (rightly, for a dockerd that dies at start), failing the benchmark.
	p.Env = helperEnv("serve", envRecord+"="+filepath.Join(b.TempDir(), "record"))
	var took []time.Duration
	for b.Loop() {
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		crash(b, p)
		start := time.Now()
		if err := p.Restart(time.Second, "fakedockerd", helperPath("fakedockerd")); err != nil {
			b.Fatal(err)
		}
		if err := p.WaitIdentified(context.Background()); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		crash(b, p)
	}
	b.ReportMetric(quantile(took, 0.5), "restart_p50_µs")
	b.Logf("restart of a crashed child until identified over %d restarts: p50 %.0f µs, p90 %.0f µs, max %.0f µs",
		len(took), quantile(took, 0.5), quantile(took, 0.9), quantile(took, 1))
}

// crash SIGKILLs p's child once it is identified and waits for its end.
func crash(b *testing.B, p *Process) {
	b.Helper()
	if err := p.WaitIdentified(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		b.Fatal(err)
	}
	<-p.Done()
}

// quantile returns the q-quantile of ds (nearest rank) in µs.
func quantile(ds []time.Duration, q float64) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, int(math.Ceil(q*float64(len(s))))-1)
	return float64(s[max(i, 0)]) / float64(time.Microsecond)
}
