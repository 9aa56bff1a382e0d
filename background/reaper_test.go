package background

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cdr.dev/slog"
	"golang.org/x/sys/unix"
)

// orphanScript exits 7 while leaving orphans behind: two background jobs
// that sh may not have reaped yet (they are reparented as zombies when sh
// exits) and a sleep whose parent subshell is already gone. All of them
// land on the subreaper at about the moment sh's own status arrives.
const orphanScript = "true & true & (sleep 0.01 &); exit 7"

// stressResult is what the stress helper prints as its last line.
type stressResult struct {
	Runs          int    `json:"runs"`
	WrongStatus   int    `json:"wrong_status"`
	FirstWrong    string `json:"first_wrong,omitempty"`
	OrphansReaped int64  `json:"orphans_reaped"`
	Zombies       int    `json:"zombies"`
	Children      int    `json:"children"`
}

// TestReaperKeepsOwnedStatuses runs, in a helper that is a child subreaper
// with StartReaper running, 800 supervised `sh` that each exit 7 amid
// orphans. Every Wait must return exactly status 7 (the reaper never steals
// a status), the orphans must have been reaped, and no zombie may remain.
func TestReaperKeepsOwnedStatuses(t *testing.T) {
	if testing.Short() {
		t.Skip("800 real processes: skipped with -short")
	}
	got := runStress(t, 800, false)
	t.Logf("StartReaper: %d of %d supervised statuses lost, %d orphans reaped, %d zombies left", got.WrongStatus, got.Runs, got.OrphansReaped, got.Zombies)
	if got.OrphansReaped < int64(got.Runs) {
		t.Errorf("orphans reaped = %d, want at least one per run (%d)", got.OrphansReaped, got.Runs)
	}
	got.OrphansReaped = 0
	want := stressResult{Runs: 800}
	if got != want {
		t.Errorf("stress result = %+v, want %+v", got, want)
	}
}

// TestNaiveReaperLosesStatuses is the control: the same load with a plain
// wait4(-1) reaper, the classic PID-1 loop. It shows the stress test can see
// the race; it only logs, because losing a status is likely, not certain.
func TestNaiveReaperLosesStatuses(t *testing.T) {
	if testing.Short() {
		t.Skip("800 real processes: skipped with -short")
	}
	got := runStress(t, 800, true)
	t.Logf("naive wait4(-1) reaper: %d of %d supervised statuses lost (first: %s), %d zombies left",
		got.WrongStatus, got.Runs, got.FirstWrong, got.Zombies)
}

func runStress(t *testing.T, runs int, naive bool) stressResult {
	t.Helper()
	c := exec.Command(helperPath("fakedockerd"))
	c.Env = append(os.Environ(), helperEnv("stress", envRuns+"="+strconv.Itoa(runs))...)
	if naive {
		c.Env = append(c.Env, envNaive+"=1")
	}
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("stress helper: %v\nstderr:\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var got stressResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("stress helper output %q: %v", out, err)
	}
	return got
}

// reapCounter counts the reaper's "reaped orphan" entries.
type reapCounter struct{ n atomic.Int64 }

func (c *reapCounter) LogEntry(_ context.Context, e slog.SinkEntry) {
	if e.Message == "reaped orphan" {
		c.n.Add(1)
	}
}

func (c *reapCounter) Sync() {}

// stress is the helper side: 4 workers share $BGTEST_RUNS runs.
func stress() int {
	ctx := context.Background()
	runs, _ := strconv.Atoi(os.Getenv(envRuns))
	counter := &reapCounter{}
	var stop func()
	var err error
	if os.Getenv(envNaive) != "" {
		stop, err = startNaiveReaper(counter)
	} else {
		stop, err = StartReaper(ctx, slog.Make(counter).Leveled(slog.LevelDebug))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	res := stressResult{Runs: runs}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for i := w; i < runs; i += 4 {
				if err := superviseOnce(ctx); err != nil {
					mu.Lock()
					if res.WrongStatus++; res.FirstWrong == "" {
						res.FirstWrong = err.Error()
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	// The last sleeps exit 10 ms after their sh: give the reaper a moment.
	deadline := time.Now().Add(3 * time.Second)
	for {
		res.Children, res.Zombies = countChildren()
		if res.Children == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	res.OrphansReaped = counter.n.Load()
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	return 0
}

// superviseOnce runs orphanScript as a Process; anything but exit status 7
// is an error.
func superviseOnce(ctx context.Context) error {
	p, err := New(ctx, slog.Make(), "sh", "/bin/sh", "-c", orphanScript)
	if err != nil {
		return err
	}
	if err := p.Start(); err != nil {
		return err
	}
	err = p.Wait()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Status != 7 || ee.Signal != 0 {
		return fmt.Errorf("wait: %v, want exit status 7", err)
	}
	return nil
}

// countChildren counts this process's children, and the zombies among them,
// from /proc/<pid>/stat.
func countChildren() (children, zombies int) {
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(self) {
			continue
		}
		children++
		if fields[0] == "Z" {
			zombies++
		}
	}
	return children, zombies
}

// startNaiveReaper is the classic PID-1 loop: on SIGCHLD, wait4(-1) until
// nothing is left. It steals statuses from exec.Cmd.Wait.
func startNaiveReaper(counter *reapCounter) (func(), error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGCHLD)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			for {
				var ws unix.WaitStatus
				pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if err != nil || pid <= 0 {
					break
				}
				counter.n.Add(1)
			}
			select {
			case <-quit:
				return
			case <-sigs:
			}
		}
	}()
	return func() { close(quit); signal.Stop(sigs); <-done }, nil
}

// TestStartCmdOwnsChild: a child started with startCmd is owned until its
// waiter has its exact status and releases it.
func TestStartCmdOwnsChild(t *testing.T) {
	t.Parallel()
	c := exec.Command("/bin/sh", "-c", "exit 5")
	if err := startCmd(c); err != nil {
		t.Fatal(err)
	}
	pid := c.Process.Pid
	children.mu.Lock()
	owners := children.pids[pid]
	children.mu.Unlock()
	if owners != 1 {
		t.Errorf("owners of pid %d after startCmd = %d, want 1", pid, owners)
	}
	var ee *exec.ExitError
	if err := c.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Errorf("Wait(sh -c 'exit 5') = %v, want exit status 5", err)
	}
	release(pid)
	children.mu.Lock()
	_, still := children.pids[pid]
	children.mu.Unlock()
	if still {
		t.Errorf("pid %d still owned after release", pid)
	}
}
