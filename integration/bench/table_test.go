package main

import (
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kind kind
		in   float64
		want string
	}{
		{"ns", duration, 950, "950 ns"},
		{"rounds_up_to_next_unit", duration, 999_600, "1 ms"},
		{"µs", duration, 553_400, "553 µs"},
		{"ms", duration, 51_230_000, "51.2 ms"},
		{"s", duration, 7_050_000_000, "7.05 s"},
		{"minutes_stay_seconds", duration, 1_234_000_000_000, "1234 s"},
		{"KiB", size, 10_576 * 1024, "10.3 MiB"},
		{"bytes", size, 512, "512 B"},
		{"binary", size, 9_502_904, "9.06 MiB"},
		{"percent_all", percent, 100, "100 %"},
		{"percent_none", percent, 0, "0 %"},
		{"percent_part", percent, 96.6667, "96.7 %"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := format(tt.kind, tt.in); got != tt.want {
				t.Errorf("format(%v, %v) = %q, want %q", tt.kind, tt.in, got, tt.want)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		kind    kind
		v, base float64
		want    string
	}{
		{"faster", duration, 42e6, 7.05e9, "168x faster"},
		{"slower", duration, 983, 295, "3.33x slower"},
		{"equal", duration, 5, 5, "1.00x slower"},
		{"smaller", size, 10_576, 74_348, "7.03x smaller"},
		{"larger", size, 74_624, 74_348, "1.00x larger"},
		{"just_below_ten", duration, 1, 9.996, "10x faster"},
		{"ten", duration, 10, 1, "10x slower"},
		{"one_decimal", duration, 35.2, 1, "35.2x slower"},
		{"zero", duration, 0, 5, "—"},
		{"points_more", percent, 100, 0, "+100 points"},
		{"points_less", percent, 90, 100, "-10 points"},
		{"points_equal", percent, 100, 100, "+0 points"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ratio(tt.kind, tt.v, tt.base); got != tt.want {
				t.Errorf("ratio(%v, %v, %v) = %q, want %q", tt.kind, tt.v, tt.base, got, tt.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	rs := newResults()
	// What BenchmarkAttribution printed (go test -bench -v).
	const outAttribution = "BenchmarkAttribution-2   \t       1\t23345000000 ns/op\t         0 bare_dockerd_pct\t       100.0 envbox_pct\t        30.00 processes\n"
	if err := rs.parse(strings.NewReader(outBackground + outDelegateShort + outAttribution)); err != nil {
		t.Fatal(err)
	}
	rs.metrics[binSizeBench] = map[string]float64{"bytes": 9_502_904}
	rs.metrics["ProxyOverhead/ping_x1000"] = map[string]float64{"proxied-µs/op": 61_000, "direct-µs/op": 55_000, "loadavg": 0.42}
	rows := []row{
		{"proxy ping", duration, metric{"ProxyOverhead/ping_x1000", "proxied-µs/op", us}, "direct", metric{"ProxyOverhead/ping_x1000", "direct-µs/op", us}},
		{"exit p50", duration, metric{"ExitDetection", "wait_p50_µs", us}, "polling", metric{"ExitDetection", "poll10ms_p50_µs", us}},
		{"restart", duration, metric{"Restart", "restart_p50_µs", us}, "", metric{}},
		{"delegation", duration, metric{"Delegate/envbox/procs=1", "ns/op", ns}, "classic", metric{"Delegate/classic/procs=1", "ns/op", ns}},
		{"missing unit", duration, metric{"Restart", "restart_p90_µs", us}, "", metric{}},
		{"baseline not run", duration, metric{"Restart", "restart_p50_µs", us}, "other", metric{"Other", "ns/op", ns}},
		{"size", size, metric{binSizeBench, "bytes", 1}, "", metric{}},
		{"attribution", percent, metric{"Attribution", "envbox_pct", 1}, "bare", metric{"Attribution", "bare_dockerd_pct", 1}},
	}
	var b strings.Builder
	if err := render(&b, rs, rows); err != nil {
		t.Fatal(err)
	}
	want := `| measurement | envbox | baseline | baseline value | envbox vs baseline |
|---|---|---|---|---|
| proxy ping (load average 0.42) | 61 ms | direct | 55 ms | 1.11x slower |
| exit p50 | 914 µs | polling | 1.85 ms | 2.02x faster |
| restart | 678 µs | — | — | — |
| delegation | skipped: runs the delegation script on the real kernel; skipped under -short | classic | — | — |
| missing unit | no restart_p90_µs reported | — | — | — |
| baseline not run | 678 µs | other | not run | — |
| size | 9.06 MiB | — | — | — |
| attribution | 100 % | bare | 0 % | +100 points |
`
	if got := b.String(); got != want {
		t.Errorf("render =\n%s\nwant\n%s", got, want)
	}
}
