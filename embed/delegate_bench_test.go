package embed_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/envbox/envbox/integration/cgtest"
)

// BenchmarkDelegate times the delegation from the start of the script (the
// launcher's fork of `unshare --cgroup -- dash -c SCRIPT`) to the first
// instruction of the exec'd target, with N processes waiting in the root
// cgroup (plus the launcher and the script's shell), for the envbox script
// and for moby's classic `xargs -rn1` + `sed` loop run in the same harness.
// Each iteration uses a fresh test cgroup. ns/op is the MEDIAN of that
// latency over the iterations (the set-up of the N processes is not timed):
// on a shared 2-core machine one descheduled fork skews a mean by 10x.
// min-ns/op is the fastest iteration.
func BenchmarkDelegate(b *testing.B) {
	cases := []struct {
		name, shell string
		classic     bool
		procs       []int
	}{
		{"envbox", "dash", false, []int{1, 100, 1000}},
		{"classic", "dash", true, []int{1, 100, 1000}},
		// The same script under the other shells, at the size that hurts.
		{"envbox_busybox", "busybox sh", false, []int{1000}},
		{"envbox_bash", "bash", false, []int{1000}},
	}
	for _, bc := range cases {
		for _, n := range bc.procs {
			b.Run(fmt.Sprintf("%s/procs=%d", bc.name, n), func(b *testing.B) {
				needShell(b, bc.shell)
				times := make([]float64, 0, b.N)
				for range b.N {
					times = append(times, delegateOnce(b, bc.shell, bc.classic, n))
				}
				slices.Sort(times)
				b.ReportMetric(times[len(times)/2], "ns/op")
				b.ReportMetric(times[0], "min-ns/op")
			})
		}
	}
}

func delegateOnce(b *testing.B, shell string, classic bool, n int) float64 {
	b.Helper()
	c := cgtest.New(b)
	o := delegation{shell: shell, classic: classic, sleeps: n}.run(b, c)
	if o.code != 0 || o.out["cgroup"] != "0::/init" {
		b.Fatalf("exit %d, target cgroup %q, stderr %q", o.code, o.out["cgroup"], o.stderr)
	}
	ns, err := strconv.ParseFloat(o.out["elapsed_ns"], 64)
	if err != nil {
		b.Fatalf("target elapsed_ns %q: %v", o.out["elapsed_ns"], err)
	}
	return ns
}
