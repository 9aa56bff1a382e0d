package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	docker "github.com/ory/dockertest/v3/docker"
	"golang.org/x/sys/unix"
)

// BenchmarkAdoptProxyDockerd measures what a docker client sees through
// `envbox adopt-proxy` (the real binary, a process of its own, as in a
// pod) against the same real dockerd under `envbox dind` straight, the
// two alternating in every iteration so both see the same load:
//   - ping_x1000: 1,000 GET /_ping on one keep-alive connection;
//   - ping_new_conn_x1000: 1,000 GET /_ping, a new connection each, as
//     every docker CLI command opens one;
//   - load_image: POST /images/load of the test's base image as `docker
//     save` writes it (122 MB), chunked, as `docker load` sends it (the
//     image is already there: dockerd still reads and checks all of it).
//
// dind/adopt's BenchmarkProxyOverhead measures the proxy against a fake
// dockerd that answers /_ping in about 40 µs: the proxy's own cost. This
// one is what it adds to a real dockerd. Medians; "ratio" is
// proxied/direct of the medians.
func BenchmarkAdoptProxyDockerd(b *testing.B) {
	if testing.Short() {
		b.Skip("real dockerd: skipped under -short")
	}
	requireDockerd(b)
	d, _ := startEnvboxDockerd(b)
	proxied := startAdoptProxy(b, d.sock(), false)
	tarball := savedImage(b, d)
	proxyPid := socketOwner(b, proxied)
	work := []struct {
		name string
		// fresh: a new connection for each request; requests: how many
		// one do sends, for the per-request figures.
		fresh    bool
		requests int
		do       func(*http.Client) error
	}{
		{"ping_x1000", false, 1000, func(hc *http.Client) error { return pings(hc, 1000) }},
		{"ping_new_conn_x1000", true, 1000, func(hc *http.Client) error { return pings(hc, 1000) }},
		{"load_image", false, 1, func(hc *http.Client) error { return loadImage(hc, tarball) }},
	}
	for _, w := range work {
		b.Run(w.name, func(b *testing.B) {
			direct, through := unixClient(d.sock(), w.fresh), unixClient(proxied, w.fresh)
			var td, tp []float64
			before := procUsage(b, proxyPid)
			for b.Loop() {
				for _, side := range []struct {
					hc   *http.Client
					took *[]float64
				}{{direct, &td}, {through, &tp}} {
					start := time.Now()
					if err := w.do(side.hc); err != nil {
						b.Fatal(err)
					}
					*side.took = append(*side.took, float64(time.Since(start).Microseconds()))
				}
			}
			used := procUsage(b, proxyPid).minus(before)
			n := float64(b.N * w.requests)
			b.ReportMetric(used.cpu.Seconds()*1e6/n, "proxy-cpu-µs/req")
			b.ReportMetric(float64(used.switches)/n, "proxy-switches/req")
			b.ReportMetric(median(tp)/median(td), "ratio")
			b.ReportMetric(median(td), "direct-µs/op")
			b.ReportMetric(median(tp), "proxied-µs/op")
			if la, err := loadAverage(); err == nil {
				b.ReportMetric(la, "loadavg")
			}
		})
	}
}

// socketOwner is the PID of the process listening on sock (SO_PEERCRED
// of a connection to it).
func socketOwner(b *testing.B, sock string) int {
	c, err := net.Dial("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil || cerr != nil {
		b.Fatalf("SO_PEERCRED of %s: %v %v", sock, err, cerr)
	}
	return int(cred.Pid)
}

// usage is a process's CPU time (user and system, all threads) and its
// threads' context switches (voluntary and not): the switches are the
// wake-ups a request costs, which is what makes a relay slow on a busy
// machine.
type usage struct {
	cpu      time.Duration
	switches int64
}

func (u usage) minus(v usage) usage { return usage{u.cpu - v.cpu, u.switches - v.switches} }

func procUsage(b *testing.B, pid int) usage {
	var u usage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// utime and stime are fields 14 and 15, counted after the ")" that
	// ends comm, in clock ticks (100 per second on Linux).
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	for _, s := range f[11:13] {
		t, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		u.cpu += time.Duration(t) * 10 * time.Millisecond
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range tasks {
		st, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that ended
		}
		for _, line := range strings.Split(string(st), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				u.switches += n
			}
		}
	}
	return u
}

// unixClient talks HTTP to a unix socket; fresh opens a new connection
// for each request and closes it once the response is read, without
// Connection: close (what one docker CLI command does).
func unixClient(sock string, fresh bool) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}
	if !fresh {
		return &http.Client{Transport: tr}
	}
	return &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		resp.Body = closeThen{resp.Body, tr.CloseIdleConnections}
		return resp, nil
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

type closeThen struct {
	io.ReadCloser
	then func()
}

func (c closeThen) Close() error {
	err := c.ReadCloser.Close()
	c.then()
	return err
}

func pings(hc *http.Client, n int) error {
	for range n {
		resp, err := hc.Get("http://docker/_ping")
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || string(body) != "OK" {
			return fmt.Errorf("GET /_ping = %d %q, %v; want 200 \"OK\"", resp.StatusCode, body, err)
		}
	}
	return nil
}

// savedImage imports the base image into d and saves it to a file, as
// `docker save` does.
func savedImage(b *testing.B, d *daemon) string {
	importImage(b, d.pool, imageTarball(b, "base"), baseImage)
	f, err := os.Create(filepath.Join(b.TempDir(), "base-image.tar"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := d.pool.Client.ExportImage(docker.ExportImageOptions{Name: baseImage, OutputStream: f}); err != nil {
		b.Fatalf("save %s: %v", baseImage, err)
	}
	return f.Name()
}

// loadImage posts tarball to /images/load with an unknown length, so the
// body is chunked.
func loadImage(hc *http.Client, tarball string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequest("POST", "http://docker/v1.41/images/load?quiet=1", struct{ io.Reader }{f})
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Loaded image") {
		return fmt.Errorf("POST /images/load of %s = %d %q, %v; want 200 naming the loaded image", tarball, resp.StatusCode, body, err)
	}
	return nil
}

// loadAverage is the 1-minute load average, reported beside the ratios:
// on a busy machine they mean little.
func loadAverage() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f, _, _ := strings.Cut(string(b), " ")
	return strconv.ParseFloat(f, 64)
}
