package main

import (
	"reflect"
	"strings"
	"testing"
)

// Verbatim `go test -v -bench` output from this machine (Go 1.26, 2 cores):
// background with -benchtime 3x, embed's BenchmarkDelegate under -short.
const (
	outBackground = `goos: linux
goarch: amd64
pkg: github.com/envbox/envbox/background
cpu: AMD EPYC
BenchmarkExitDetection
    bench_test.go:37: exit detection over 3 exits, µs p50/p90/max: Process (wait status via pidfd) 914/1025/1025; bare exec.Cmd.Wait 649/686/686; /proc polling every 10 ms 1847/2112/2112
BenchmarkExitDetection-2   	       3	 156729508 ns/op	      1847 poll10ms_p50_µs	      2112 poll10ms_p90_µs	       913.6 wait_p50_µs	      1025 wait_p90_µs
BenchmarkRestart
    bench_test.go:144: restart of a crashed child until identified over 3 restarts: p50 678 µs, p90 1131 µs, max 1131 µs
BenchmarkRestart-2         	       3	   7161893 ns/op	       678.3 restart_p50_µs
PASS
ok  	github.com/envbox/envbox/background	0.516s
`
	outDelegateShort = `goos: linux
goarch: amd64
pkg: github.com/envbox/envbox/embed
cpu: AMD EPYC
BenchmarkDelegate
BenchmarkDelegate/envbox/procs=1
    delegate_bench_test.go:36: runs the delegation script on the real kernel; skipped under -short
--- SKIP: BenchmarkDelegate/envbox/procs=1
PASS
ok  	github.com/envbox/envbox/embed	0.020s
`
	// A benchmark that called b.Fatal (shape of testing's output).
	outStartupFail = `BenchmarkStartup
    startup_bench_test.go:70: ["dockerd" "--host=unix:///tmp/ebx-1/docker.sock"]: pod exited (exit status 1) before GET /_ping answered: dial unix: no such file
--- FAIL: BenchmarkStartup
FAIL
`
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in    string
		wantMetrics map[string]map[string]float64
		wantSkipped map[string]string
		wantFailed  map[string]string
		wantErr     string
	}{
		{
			name: "results_with_logs",
			in:   outBackground,
			wantMetrics: map[string]map[string]float64{
				"ExitDetection": {"ns/op": 156729508, "poll10ms_p50_µs": 1847, "poll10ms_p90_µs": 2112, "wait_p50_µs": 913.6, "wait_p90_µs": 1025},
				"Restart":       {"ns/op": 7161893, "restart_p50_µs": 678.3},
			},
			wantSkipped: map[string]string{},
			wantFailed:  map[string]string{},
		},
		{
			name:        "skipped_sub_benchmark",
			in:          outDelegateShort,
			wantMetrics: map[string]map[string]float64{},
			wantSkipped: map[string]string{"Delegate/envbox/procs=1": "runs the delegation script on the real kernel; skipped under -short"},
			wantFailed:  map[string]string{},
		},
		{
			name:        "failed",
			in:          outStartupFail,
			wantMetrics: map[string]map[string]float64{},
			wantSkipped: map[string]string{},
			wantFailed:  map[string]string{"Startup": `["dockerd" "--host=unix:///tmp/ebx-1/docker.sock"]: pod exited (exit status 1) before GET /_ping answered: dial unix: no such file`},
		},
		{
			name:    "odd_fields",
			in:      "BenchmarkX-2 \t 3\t 12 ns/op\t 7\n",
			wantErr: `parse line 1 "BenchmarkX-2 \t 3\t 12 ns/op\t 7": odd number of fields "12 ns/op\t 7": want value unit pairs`,
		},
		{
			name:    "bad_value",
			in:      "ok\nBenchmarkX-2 \t 3\t twelve ns/op\n",
			wantErr: `parse line 2 "BenchmarkX-2 \t 3\t twelve ns/op": value "twelve" of unit "ns/op": strconv.ParseFloat: parsing "twelve": invalid syntax`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs := newResults()
			err := rs.parse(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parse(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(rs.metrics, tt.wantMetrics) {
				t.Errorf("parse(%q) metrics = %v, want %v", tt.in, rs.metrics, tt.wantMetrics)
			}
			if !reflect.DeepEqual(rs.skipped, tt.wantSkipped) {
				t.Errorf("parse(%q) skipped = %q, want %q", tt.in, rs.skipped, tt.wantSkipped)
			}
			if !reflect.DeepEqual(rs.failed, tt.wantFailed) {
				t.Errorf("parse(%q) failed = %q, want %q", tt.in, rs.failed, tt.wantFailed)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	rs := newResults()
	rs.skipped["Delegate"] = "needs root"
	rs.skipped["MoveLoop/bash"] = "bash not installed"
	rs.failed["Startup"] = "pod exited"
	tests := []struct{ name, in, want string }{
		{"parent_skipped", "Delegate/envbox/procs=1", "skipped: needs root"},
		{"sub_skipped", "MoveLoop/bash", "skipped: bash not installed"},
		{"sibling_not_skipped", "MoveLoop/dash", "not run"},
		{"failed", "Startup", "failed: pod exited"},
		{"unknown", "Nothing", "not run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := rs.status(tt.in); got != tt.want {
				t.Errorf("status(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzParse: no panic, and an error quotes the line it could not parse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{outBackground, outDelegateShort, outStartupFail, "BenchmarkX-2 \t 3\t 12 ns/op\t 7\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		err := newResults().parse(strings.NewReader(in))
		if err != nil && !strings.HasPrefix(err.Error(), "parse line ") {
			t.Errorf("parse(%q) error %q does not name the line", in, err)
		}
	})
}
