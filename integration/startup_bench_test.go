package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envbox/envbox/integration/cgtest"
)

// BenchmarkStartup measures, alternating in every iteration so both see
// the same machine load, the time from starting the pod process (cgtest's
// guard, pod.sh, then the payload) to the first answered GET /_ping for
// `envbox dind -- dockerd ...` and for the same dockerd started bare. Once
// the API answers and the daemons have settled, it reads VmRSS of the idle
// envbox process and of the dockerd under it, and of the bare dockerd.
// Medians over the iterations; "ratio" is envbox/bare of the medians.
func BenchmarkStartup(b *testing.B) {
	requireDockerd(b)
	bin := envboxBinary(b)
	var envbox, bare, envboxRSS, dockerdRSS, bareRSS []float64
	for b.Loop() {
		s := startTimed(b, true, bin)
		envbox = append(envbox, s.took.Seconds()*1000)
		envboxRSS = append(envboxRSS, rss(b, "envbox", s.pod.cmd.Process.Pid))
		dockerdRSS = append(dockerdRSS, rss(b, "dockerd", s.dockerdPid(b)))
		s.pod.stop(stopGrace)

		s = startTimed(b, false, bin)
		bare = append(bare, s.took.Seconds()*1000)
		bareRSS = append(bareRSS, rss(b, "dockerd", s.pod.cmd.Process.Pid))
		s.pod.stop(stopGrace)
	}
	b.ReportMetric(median(envbox), "envbox_ms")
	b.ReportMetric(median(bare), "bare_dockerd_ms")
	b.ReportMetric(median(envbox)/median(bare), "ratio")
	b.ReportMetric(median(envboxRSS), "envbox_rss_KiB")
	b.ReportMetric(median(dockerdRSS), "dockerd_rss_KiB")
	b.ReportMetric(median(bareRSS), "bare_dockerd_rss_KiB")
	b.Logf("start to API ready over %d starts each, ms: envbox dind %.0f; bare dockerd %.0f", len(envbox), envbox, bare)
}

// timedStart is one dockerd started by startTimed, its API answering.
type timedStart struct {
	dir  string
	pod  *pod
	took time.Duration
}

// startTimed starts dockerd (under envbox dind when viaEnvbox) as the pod
// payload in a fresh test cgroup and returns once GET /_ping answers. The
// directory and cgroup are removed when the benchmark ends; the caller
// stops the pod.
func startTimed(b *testing.B, viaEnvbox bool, bin string) *timedStart {
	b.Helper()
	dir := newDaemonDir(b)
	cg := cgtest.New(b)
	payload := dockerdArgv(dir)
	if viaEnvbox {
		payload = append([]string{bin, "dind", "--stop-grace=" + stopGrace.String(), "--"}, payload...)
	}
	start := time.Now()
	p := startPod(b, cg, stopGrace+5*time.Second, []string{"ENVBOX_LOG_FORMAT=human"}, payload...)
	if err := waitPing(filepath.Join(dir, "docker.sock"), p); err != nil {
		b.Fatalf("%q: %v\n%s", payload, err, p.out.String())
	}
	s := &timedStart{dir: dir, pod: p, took: time.Since(start)}
	// Let start-up work still in flight (containerd's plugins, dockerd's
	// first goroutines) finish before reading an "idle" RSS.
	time.Sleep(time.Second)
	return s
}

// waitPing polls GET /_ping on sock every 5 ms until it answers 200 "OK",
// the pod process exits, or timeoutStart passes.
func waitPing(sock string, p *pod) error {
	hc := &http.Client{
		Timeout: time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", sock)
			},
		},
	}
	deadline := time.Now().Add(timeoutStart)
	for {
		err := ping(hc)
		if err == nil {
			return nil
		}
		if done, perr := p.exited(); done {
			return fmt.Errorf("pod exited (%v) before GET /_ping answered: %v", perr, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET /_ping on %s not answered after %v: %v", sock, timeoutStart, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ping(hc *http.Client) error {
	resp, err := hc.Get("http://docker/_ping")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /_ping: status %d", resp.StatusCode)
	}
	return nil
}

func (s *timedStart) dockerdPid(b *testing.B) int {
	b.Helper()
	pid, err := (&daemon{dir: s.dir}).dockerdPid()
	if err != nil {
		b.Fatal(err)
	}
	return pid
}

// rss returns VmRSS in KiB of pid, which must be running comm.
func rss(b *testing.B, comm string, pid int) float64 {
	b.Helper()
	status := "/proc/" + strconv.Itoa(pid) + "/status"
	f, err := os.Open(status)
	if err != nil {
		b.Fatalf("open %s: %v", status, err)
	}
	defer f.Close()
	kib, err := parseStatusRSS(f, comm)
	if err != nil {
		b.Fatalf("%s: %v", status, err)
	}
	return kib
}

// parseStatusRSS reads VmRSS (kB) from /proc/<pid>/status text, after
// checking that its Name is comm.
func parseStatusRSS(r io.Reader, comm string) (float64, error) {
	var name, rss string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		switch k {
		case "Name":
			name = strings.TrimSpace(v)
		case "VmRSS":
			rss = strings.TrimSuffix(strings.TrimSpace(v), " kB")
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if name != comm {
		return 0, fmt.Errorf("process name %q, want %q", name, comm)
	}
	kib, err := strconv.ParseFloat(rss, 64)
	if err != nil {
		return 0, fmt.Errorf("parse VmRSS %q: %w", rss, err)
	}
	return kib, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
