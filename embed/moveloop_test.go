package embed_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/envbox/envbox/integration/cgtest"
)

// The two ways a shell can move a list of PIDs with builtins only. The
// script uses moveOneOpen (as `done >&3` on a descriptor opened once):
// TestMoveLoopSurvivesESRCH shows it is as correct as moveOpenPerPID and
// BenchmarkMoveLoop that it is about twice as fast.
const (
	readProcs = `words=$(cat "$1/cgroup.procs"); words="$words $3"; `
	// moveOneOpen opens the destination once; each echo is one write(2).
	moveOneOpen = readProcs + `for p in $words; do echo "$p"; done 2>/dev/null >"$2/cgroup.procs"`
	// moveOpenPerPID opens (and truncates) the destination for every PID.
	moveOpenPerPID = readProcs + `for p in $words; do echo "$p" 2>/dev/null >"$2/cgroup.procs"; done`
	// noSuchPID is above any pid_max, so its write fails with ESRCH.
	noSuchPID = "99999999"
)

// moveFixture is a test cgroup with children a and b and n sleeps in a.
type moveFixture struct {
	c      *cgtest.Cgroup
	sleeps []int
}

func newMoveFixture(t testing.TB, n int) moveFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("moves real processes between cgroups; skipped under -short")
	}
	f := moveFixture{c: cgtest.New(t)}
	for _, d := range []string{"a", "b"} {
		if err := os.Mkdir(filepath.Join(f.c.Path, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	procs, err := os.OpenFile(filepath.Join(f.c.Path, "a", "cgroup.procs"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer procs.Close()
	for range n {
		cmd := exec.Command("sleep", "1000")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		// Only our own child, only into our own cgroup.
		if _, err := fmt.Fprintf(procs, "%d\n", cmd.Process.Pid); err != nil {
			t.Fatalf("move sleep %d into %s/a: %v", cmd.Process.Pid, f.c.Path, err)
		}
		f.sleeps = append(f.sleeps, cmd.Process.Pid)
	}
	return f
}

// move runs one loop moving everything from src to dst (children of the
// fixture) plus noSuchPID, and returns how long the shell ran.
func (f moveFixture) move(t testing.TB, shell, loop, src, dst string) time.Duration {
	t.Helper()
	argv := append(strings.Fields(shell), "-c", loop, "move",
		filepath.Join(f.c.Path, src), filepath.Join(f.c.Path, dst), noSuchPID)
	start := time.Now()
	// The status is the last write's, which fails when noSuchPID is last:
	// only silence is required.
	out, _ := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	took := time.Since(start)
	if len(out) != 0 {
		t.Fatalf("%s: loop printed %q", shell, out)
	}
	return took
}

func TestMoveLoopSurvivesESRCH(t *testing.T) {
	for _, sh := range shells {
		for _, loop := range []struct{ name, text string }{{"one_open", moveOneOpen}, {"open_per_pid", moveOpenPerPID}} {
			t.Run(sh.name+"_"+loop.name, func(t *testing.T) {
				t.Parallel()
				needShell(t, sh.argv)
				f := newMoveFixture(t, 20)
				// The bogus PID goes first and last, between real ones.
				l := strings.Replace(loop.text, `words="$words $3"`, `words="$3 $words $3"`, 1)
				f.move(t, sh.argv, l, "a", "b")
				got, err := f.c.Procs("b")
				if err != nil {
					t.Fatal(err)
				}
				if !sameSet(got, f.sleeps) {
					t.Errorf("%s/b/cgroup.procs = %v, want every sleep %v", f.c.Path, got, f.sleeps)
				}
			})
		}
	}
}

// BenchmarkMoveLoop moves 1000 processes back and forth, alternating the
// two loops in every iteration so both see the same machine load; it
// reports the median of each (ns/op is the one-open loop the script uses).
func BenchmarkMoveLoop(b *testing.B) {
	for _, sh := range shells {
		b.Run(sh.name, func(b *testing.B) {
			needShell(b, sh.argv)
			f := newMoveFixture(b, 1000)
			var one, per []float64
			for range b.N {
				one = append(one, float64(f.move(b, sh.argv, moveOneOpen, "a", "b")))
				per = append(per, float64(f.move(b, sh.argv, moveOpenPerPID, "b", "a")))
				if got, _ := f.c.Procs("a"); len(got) != len(f.sleeps) {
					b.Fatalf("a holds %d processes, want %d", len(got), len(f.sleeps))
				}
			}
			slices.Sort(one)
			slices.Sort(per)
			b.ReportMetric(one[len(one)/2], "ns/op")
			b.ReportMetric(per[len(per)/2], "open-per-pid-ns/op")
		})
	}
}
