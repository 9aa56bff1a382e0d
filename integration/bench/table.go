package main

import (
	"fmt"
	"io"
	"strings"
)

// kind says how a row's values read: durations (base unit ns), sizes
// (base unit bytes) or percentages.
type kind int

const (
	duration kind = iota
	size
	percent
)

// metric is one value a benchmark reports, and the factor that turns it
// into the row kind's base unit.
type metric struct {
	bench, unit string
	scale       float64
}

// row compares envbox with a baseline measured in the same run; a row
// without a baseline (baseline.bench == "") shows envbox's value only.
type row struct {
	what         string
	kind         kind
	envbox       metric
	baselineName string
	baseline     metric
}

const (
	ns  = 1
	us  = 1e3
	ms  = 1e6
	kib = 1024
)

// rows are the table, in order. Benchmark names are without "Benchmark".
var rows = []row{
	{"delegation, 1 process in the root (median)", duration, metric{"Delegate/envbox/procs=1", "ns/op", ns}, "classic xargs+sed loop", metric{"Delegate/classic/procs=1", "ns/op", ns}},
	{"delegation, 100 processes (median)", duration, metric{"Delegate/envbox/procs=100", "ns/op", ns}, "classic xargs+sed loop", metric{"Delegate/classic/procs=100", "ns/op", ns}},
	{"delegation, 1000 processes (median)", duration, metric{"Delegate/envbox/procs=1000", "ns/op", ns}, "classic xargs+sed loop", metric{"Delegate/classic/procs=1000", "ns/op", ns}},
	{"delegation, 1000 processes, script under busybox sh", duration, metric{"Delegate/envbox_busybox/procs=1000", "ns/op", ns}, "same script under dash", metric{"Delegate/envbox/procs=1000", "ns/op", ns}},
	{"delegation, 1000 processes, script under bash", duration, metric{"Delegate/envbox_bash/procs=1000", "ns/op", ns}, "same script under dash", metric{"Delegate/envbox/procs=1000", "ns/op", ns}},
	{"move 1000 PIDs, one open (dash)", duration, metric{"MoveLoop/dash", "ns/op", ns}, "one open per PID", metric{"MoveLoop/dash", "open-per-pid-ns/op", ns}},
	{"move 1000 PIDs, one open (busybox sh)", duration, metric{"MoveLoop/busybox", "ns/op", ns}, "one open per PID", metric{"MoveLoop/busybox", "open-per-pid-ns/op", ns}},
	{"move 1000 PIDs, one open (bash)", duration, metric{"MoveLoop/bash", "ns/op", ns}, "one open per PID", metric{"MoveLoop/bash", "open-per-pid-ns/op", ns}},
	{"exit detection p50 (supervisor: wait status via pidfd)", duration, metric{"ExitDetection", "wait_p50_µs", us}, "/proc polling every 10 ms", metric{"ExitDetection", "poll10ms_p50_µs", us}},
	{"exit detection p90", duration, metric{"ExitDetection", "wait_p90_µs", us}, "/proc polling every 10 ms", metric{"ExitDetection", "poll10ms_p90_µs", us}},
	{"restart of a crashed child until identified, p50", duration, metric{"Restart", "restart_p50_µs", us}, "", metric{}},
	{"start to Docker API ready (median)", duration, metric{"Startup", "envbox_ms", ms}, "bare dockerd", metric{"Startup", "bare_dockerd_ms", ms}},
	{"envbox run: start to first `ctr version` answer (median)", duration, metric{"RunContainerd", "envbox_ms", ms}, "bare containerd", metric{"RunContainerd", "bare_containerd_ms", ms}},
	{"idle RSS of the envbox process", size, metric{"Startup", "envbox_rss_KiB", kib}, "its dockerd", metric{"Startup", "dockerd_rss_KiB", kib}},
	{"idle RSS of dockerd under envbox", size, metric{"Startup", "dockerd_rss_KiB", kib}, "bare dockerd", metric{"Startup", "bare_dockerd_rss_KiB", kib}},
	{"binary size of bin/envbox (stripped)", size, metric{binSizeBench, "bytes", 1}, "", metric{}},
	{"attribution: inner processes whose host cgroup is under the pod's", percent, metric{"Attribution", "envbox_pct", 1}, "bare dockerd in the same pod", metric{"Attribution", "bare_dockerd_pct", 1}},
	{"adopt-proxy: 1,000 GET /_ping, one keep-alive connection", duration, metric{"ProxyOverhead/ping_x1000", "proxied-µs/op", us}, "straight to dockerd", metric{"ProxyOverhead/ping_x1000", "direct-µs/op", us}},
	{"adopt-proxy: 1,000 GET /_ping, a new connection each", duration, metric{"ProxyOverhead/ping_new_conn_x1000", "proxied-µs/op", us}, "straight to dockerd", metric{"ProxyOverhead/ping_new_conn_x1000", "direct-µs/op", us}},
	{"adopt-proxy: 100 MiB chunked upload", duration, metric{"ProxyOverhead/upload_100MiB", "proxied-µs/op", us}, "straight to dockerd", metric{"ProxyOverhead/upload_100MiB", "direct-µs/op", us}},
	{"adopt-proxy before a real dockerd: 1,000 GET /_ping, one keep-alive connection", duration, metric{"AdoptProxyDockerd/ping_x1000", "proxied-µs/op", us}, "straight to dockerd", metric{"AdoptProxyDockerd/ping_x1000", "direct-µs/op", us}},
	{"adopt-proxy before a real dockerd: 1,000 GET /_ping, a new connection each", duration, metric{"AdoptProxyDockerd/ping_new_conn_x1000", "proxied-µs/op", us}, "straight to dockerd", metric{"AdoptProxyDockerd/ping_new_conn_x1000", "direct-µs/op", us}},
	{"adopt-proxy before a real dockerd: docker load of a 122 MB image, chunked", duration, metric{"AdoptProxyDockerd/load_image", "proxied-µs/op", us}, "straight to dockerd", metric{"AdoptProxyDockerd/load_image", "direct-µs/op", us}},
	{"adopt-proxy's CPU per keep-alive GET /_ping", duration, metric{"AdoptProxyDockerd/ping_x1000", "proxy-cpu-µs/req", us}, "", metric{}},
	{"adopt-proxy's CPU per GET /_ping on a new connection", duration, metric{"AdoptProxyDockerd/ping_new_conn_x1000", "proxy-cpu-µs/req", us}, "", metric{}},
}

// binSizeBench is the pseudo-benchmark under which main records the size
// of the binary.
const binSizeBench = "binary size"

// value returns m's value in base units, or why there is none.
func (rs *results) value(m metric) (float64, string) {
	if v, ok := rs.metrics[m.bench][m.unit]; ok {
		return v * m.scale, ""
	}
	if _, ok := rs.metrics[m.bench]; ok {
		return 0, "no " + m.unit + " reported"
	}
	return 0, rs.status(m.bench)
}

// loadAvgUnit is the metric a benchmark reports the 1-minute load average
// under; the row of that benchmark shows it beside its name, since ratios
// measured on a busy machine mean little.
const loadAvgUnit = "loadavg"

// render writes the table in Markdown.
func render(w io.Writer, rs *results, rows []row) error {
	var b strings.Builder
	b.WriteString("| measurement | envbox | baseline | baseline value | envbox vs baseline |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, r := range rows {
		what := r.what
		if la, ok := rs.metrics[r.envbox.bench][loadAvgUnit]; ok {
			what += fmt.Sprintf(" (load average %.2f)", la)
		}
		fmt.Fprintf(&b, "| %s | %s |\n", what, strings.Join(r.cells(rs), " | "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cells are the row's envbox value, baseline name and value, and ratio.
func (r row) cells(rs *results) []string {
	v, why := rs.value(r.envbox)
	if why != "" {
		name := r.baselineName
		if name == "" {
			name = "—"
		}
		return []string{why, name, "—", "—"}
	}
	if r.baseline.bench == "" {
		return []string{format(r.kind, v), "—", "—", "—"}
	}
	base, why := rs.value(r.baseline)
	if why != "" {
		return []string{format(r.kind, v), r.baselineName, why, "—"}
	}
	return []string{format(r.kind, v), r.baselineName, format(r.kind, base), ratio(r.kind, v, base)}
}

// format prints v (ns or bytes) with three significant digits in a unit
// that keeps it below 1000; a percentage as "96.7 %".
func format(k kind, v float64) string {
	if k == percent {
		return sig3(v) + " %"
	}
	units := []struct {
		name string
		base float64
	}{{"ns", 1}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}}
	if k == size {
		units = []struct {
			name string
			base float64
		}{{"B", 1}, {"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}}
	}
	u := units[0]
	for _, next := range units[1:] {
		if v < next.base*0.9995 {
			break
		}
		u = next
	}
	return sig3(v/u.base) + " " + u.name
}

// ratio says how envbox's value v compares with base: "12.3x faster",
// "1.52x slower", "7.03x smaller", "1.00x larger"; percentages by their
// difference, "+100 points".
func ratio(k kind, v, base float64) string {
	if k == percent {
		return fmt.Sprintf("%+.3g points", v-base)
	}
	less, more := "faster", "slower"
	if k == size {
		less, more = "smaller", "larger"
	}
	switch {
	case v <= 0 || base <= 0:
		return "—"
	case v < base:
		return times(base/v) + " " + less
	default:
		return times(v/base) + " " + more
	}
}

// times prints a ratio: two decimals below 10 ("1.00x", "3.33x"), else
// three significant digits ("35.2x", "168x").
func times(r float64) string {
	if r < 9.995 {
		return fmt.Sprintf("%.2fx", r)
	}
	return sig3(r) + "x"
}

// sig3 prints x with three significant digits, never in e-notation.
func sig3(x float64) string {
	if x >= 999.5 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.3g", x)
}
