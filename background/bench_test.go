package background

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	var pidfd, poll []time.Duration
	for i := 0; b.Loop(); i++ {
		rec := filepath.Join(dir, strconv.Itoa(i))
		pidfd = append(pidfd, detectByWait(b, rec+"-wait"))
		poll = append(poll, detectByPolling(b, rec+"-poll"))
	}
	b.ReportMetric(mean(pidfd), "wait_µs")
	b.ReportMetric(maxOf(pidfd), "wait_max_µs")
	b.ReportMetric(mean(poll), "poll10ms_µs")
	b.ReportMetric(maxOf(poll), "poll10ms_max_µs")
	b.Logf("exit detection over %d exits: Process (wait status via pidfd) mean %.0f µs, max %.0f µs; /proc polling every 10 ms mean %.0f µs, max %.0f µs",
		len(pidfd), mean(pidfd), maxOf(pidfd), mean(poll), maxOf(poll))
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

// detectByPolling starts the same helper with os/exec and polls
// /proc/<pid>/cmdline every 10 ms until it no longer names the helper
// (a zombie's cmdline is empty), as the /proc-polling supervisor did.
func detectByPolling(b *testing.B, rec string) time.Duration {
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
		cmdline, err := os.ReadFile(path)
		if strings.Contains(string(cmdline), "fakedockerd") {
			seen = true
		} else if seen && (err != nil || len(cmdline) == 0) {
			break
		}
	}
	noticed := monotonic()
	<-waited
	return sinceExit(b, rec, noticed)
}

func exitAtEnv(rec string) []string {
	at := monotonic() + int64(50*time.Millisecond)
	return helperEnv("exit-at", envExitAt+"="+strconv.FormatInt(at, 10), envRecord+"="+rec)
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
	p.Env = helperEnv("exit", envCode+"=1")
	var took []time.Duration
	for b.Loop() {
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		<-p.Done() // crashed
		start := time.Now()
		if err := p.Restart(time.Second, "fakedockerd", helperPath("fakedockerd")); err != nil {
			b.Fatal(err)
		}
		if err := p.WaitIdentified(context.Background()); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		<-p.Done()
	}
	b.ReportMetric(mean(took), "restart_µs")
	b.Logf("restart of a crashed child until identified over %d restarts: mean %.0f µs, max %.0f µs", len(took), mean(took), maxOf(took))
}

func mean(ds []time.Duration) float64 {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return float64(sum) / float64(len(ds)) / float64(time.Microsecond)
}

func maxOf(ds []time.Duration) float64 {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return float64(m) / float64(time.Microsecond)
}
