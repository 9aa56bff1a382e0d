package background

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cdr.dev/slog"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the helper child: with envRole set, TestMain
// plays that role instead of running tests. Copies of it under other names
// (fakedockerd, notdockerd) give the identity tests real binaries whose
// /proc/<pid>/exe and comm differ from the test binary's.
const (
	envRole      = "BGTEST_ROLE"       // exit, kill-self, lines, serve, exit-at, stress
	envCode      = "BGTEST_CODE"       // exit code (exit, lines)
	envSignal    = "BGTEST_SIGNAL"     // signal number (kill-self)
	envLines     = "BGTEST_LINES"      // line count (lines)
	envRecord    = "BGTEST_RECORD"     // file the serve and exit-at roles append events to
	envTermDelay = "BGTEST_TERM_DELAY" // serve: time from SIGTERM to exit
	envIgnore    = "BGTEST_IGNORE_TERM"
	envOldPid    = "BGTEST_OLD_PID" // serve: pid whose liveness is recorded at start
	envExitAt    = "BGTEST_EXIT_AT" // exit-at: CLOCK_MONOTONIC ns to exit at
	envRuns      = "BGTEST_RUNS"    // stress: supervised runs
	envNaive     = "BGTEST_NAIVE"   // stress: reap with a plain wait4(-1) loop instead
)

// helperDir holds the named copies of the test binary.
var helperDir string

func TestMain(m *testing.M) {
	if role, ok := os.LookupEnv(envRole); ok {
		os.Exit(playRole(role))
	}
	dir, err := os.MkdirTemp("", "background-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	helperDir = dir
	for _, name := range []string{"fakedockerd", "notdockerd"} {
		if err := copyExecutable(filepath.Join(dir, name)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func copyExecutable(dst string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	in, err := os.Open(self)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func playRole(role string) int {
	code, _ := strconv.Atoi(os.Getenv(envCode))
	switch role {
	case "exit":
		fmt.Printf("exiting %d\n", code)
		return code
	case "kill-self":
		n, _ := strconv.Atoi(os.Getenv(envSignal))
		fmt.Printf("killing self with %s\n", syscall.Signal(n))
		_ = unix.Kill(os.Getpid(), syscall.Signal(n))
		time.Sleep(time.Minute)
		return 1
	case "lines":
		n, _ := strconv.Atoi(os.Getenv(envLines))
		for i := 1; i <= n; i++ {
			fmt.Printf("line %04d\n", i)
		}
		return code
	case "serve":
		return serve()
	case "exit-at":
		return exitAt()
	case "stress":
		return stress()
	}
	fmt.Fprintf(os.Stderr, "unknown role %q\n", role)
	return 100
}

// serve records its start (and whether $BGTEST_OLD_PID still exists, even
// as a zombie), prints "ready", and on SIGTERM waits $BGTEST_TERM_DELAY,
// records its exit and exits 0. With $BGTEST_IGNORE_TERM it never exits.
func serve() int {
	oldAlive := "-"
	if old, err := strconv.Atoi(os.Getenv(envOldPid)); err == nil {
		oldAlive = strconv.FormatBool(unix.Kill(old, 0) == nil)
	}
	record(fmt.Sprintf("start %d old_alive=%s", os.Getpid(), oldAlive))
	sigs := make(chan os.Signal, 1)
	if os.Getenv(envIgnore) != "" {
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Hour) // only SIGKILL ends it
		return 1
	}
	signal.Notify(sigs, syscall.SIGTERM)
	fmt.Println("ready")
	<-sigs
	delay, _ := time.ParseDuration(os.Getenv(envTermDelay))
	time.Sleep(delay)
	record(fmt.Sprintf("exit %d", os.Getpid()))
	return 0
}

// record appends "<CLOCK_MONOTONIC ns> <event>" to $BGTEST_RECORD.
func record(event string) {
	f, err := os.OpenFile(os.Getenv(envRecord), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%d %s\n", monotonic(), event)
}

// exitAt sleeps until $BGTEST_EXIT_AT, records the time and exits 0.
func exitAt() int {
	at, _ := strconv.ParseInt(os.Getenv(envExitAt), 10, 64)
	if d := time.Duration(at - monotonic()); d > 0 {
		time.Sleep(d)
	}
	record("exit")
	return 0
}

// monotonic is CLOCK_MONOTONIC in ns: one clock for every process.
func monotonic() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// helperEnv is the environment that makes a helper play role.
func helperEnv(role string, kv ...string) []string {
	return append([]string{envRole + "=" + role}, kv...)
}

func helperPath(name string) string { return filepath.Join(helperDir, name) }

// captureSink keeps log entries; on failure the test prints them.
type captureSink struct {
	mu      sync.Mutex
	entries []slog.SinkEntry
}

func (s *captureSink) LogEntry(_ context.Context, e slog.SinkEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = append(s.entries, e)
}

func (s *captureSink) Sync() {}

// outputLines returns the child output logged under name: the entries
// without fields (lifecycle entries all carry a pid).
func (s *captureSink) outputLines(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	for _, e := range s.entries {
		if slices.Equal(e.LoggerNames, []string{name}) && len(e.Fields) == 0 {
			lines = append(lines, e.Message)
		}
	}
	return lines
}

// has reports whether an entry under name has message msg at level.
func (s *captureSink) has(name string, level slog.Level, msg string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		if slices.Equal(e.LoggerNames, []string{name}) && e.Level == level && e.Message == msg {
			return true
		}
	}
	return false
}

// newLogger returns a logger into a sink that is printed if t fails.
func newLogger(t *testing.T) (slog.Logger, *captureSink) {
	t.Helper()
	sink := &captureSink{}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, e := range sink.entries {
			t.Logf("log: %v %s %s %v", e.LoggerNames, e.Level, e.Message, e.Fields)
		}
	})
	return slog.Make(sink), sink
}

// newProcess creates a Process and makes sure it is stopped and reaped when
// the test ends.
func newProcess(t *testing.T, log slog.Logger, bin, cmd string, args ...string) *Process {
	t.Helper()
	p, err := New(context.Background(), log, bin, cmd, args...)
	if err != nil {
		t.Fatalf("New(%q, %q, %q) = %v", bin, cmd, args, err)
	}
	t.Cleanup(func() { _ = p.Stop(time.Second) })
	return p
}

// waitClosed fails t unless c closes within d.
func waitClosed(t *testing.T, c <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(d):
		t.Fatalf("%s: not within %s", what, d)
	}
}

// readRecord returns the events of a record file, without their times, and
// the times.
func readRecord(t *testing.T, path string) ([]string, []int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	var times []int64
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		ts, ev, _ := strings.Cut(l, " ")
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			t.Fatalf("record %s line %q: %v", path, l, err)
		}
		events, times = append(events, ev), append(times, n)
	}
	return events, times
}

// onDyingThread runs fn on an OS thread that the runtime ends right after
// (a goroutine that exits while locked takes its thread along), and returns
// that thread's id. The main thread (tid == pid) is never ended, so fn runs
// on another one.
func onDyingThread(fn func()) int {
	tids := make(chan int)
	run := func() {
		runtime.LockOSThread() // never unlocked
		fn()
		tids <- unix.Gettid()
	}
	go func() {
		runtime.LockOSThread() // never unlocked
		if unix.Gettid() != unix.Getpid() {
			run()
			return
		}
		go run() // cannot share this locked main thread
		select {}
	}()
	return <-tids
}

// waitGone fails t unless path disappears within 5 s.
func waitGone(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return
		}
	}
	t.Fatalf("%s still exists after 5s", path)
}
