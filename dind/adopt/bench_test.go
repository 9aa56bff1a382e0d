package adopt

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"cdr.dev/slog"
)

// BenchmarkProxyOverhead runs the same work straight to the fake dockerd
// and through the proxy, alternating, and reports proxied/direct as
// "ratio". ping_x1000: 1,000 GET /_ping on one keep-alive connection;
// ping_new_conn_x1000: the same, one connection each (as docker CLI
// commands open them: keep-alive, closed by the client).
// upload_100MiB: one chunked 100 MiB POST /images/load (the shape of a
// build context or image upload from the docker CLI).
func BenchmarkProxyOverhead(b *testing.B) {
	up := startFakeDockerd(b, "cgroupfs")
	// Real peer credentials, as in production: on kernels with
	// SO_PEERPIDFD the peer's cgroup is read only when a create or build
	// needs it, and none of this work does.
	p := startProxy(b, up, cgroupV2Pod, func(p *Proxy) { p.Log, p.Creds = slog.Make(), nil })
	b.Run("ping_x1000", func(b *testing.B) {
		compare(b, up.sock, p.sock, func(hc *http.Client) error {
			for range 1000 {
				if err := roundTrip(hc, "GET", "/_ping", nil, "OK"); err != nil {
					return err
				}
			}
			return nil
		})
	})
	b.Run("ping_new_conn_x1000", func(b *testing.B) {
		// One connection per request, as each docker CLI command opens:
		// adds accept-time identification (SO_PEERCRED, /proc read) and
		// the proxy's own dial to dockerd.
		compareClients(b, oneShot(up.sock), oneShot(p.sock), func(hc *http.Client) error {
			for range 1000 {
				if err := roundTrip(hc, "GET", "/_ping", nil, "OK"); err != nil {
					return err
				}
			}
			return nil
		})
	})
	b.Run("upload_100MiB", func(b *testing.B) {
		const size = 100 << 20
		b.SetBytes(size)
		compare(b, up.sock, p.sock, func(hc *http.Client) error {
			body := io.LimitReader(zeros{}, size) // unknown length: chunked
			return roundTrip(hc, "POST", "/v1.47/images/load", body, fmt.Sprintf("{\"stream\":\"Loaded %d bytes\"}\n", size))
		})
	})
}

func compare(b *testing.B, direct, proxied string, work func(*http.Client) error) {
	compareClients(b, client(direct), client(proxied), work)
}

// oneShot opens a new connection for each request and closes it once the
// response is read, without Connection: close (DisableKeepAlives would
// send it): what one docker CLI command does.
func oneShot(sock string) *http.Client {
	return &http.Client{Transport: freshConn(sock)}
}

type freshConn string

func (f freshConn) RoundTrip(req *http.Request) (*http.Response, error) {
	tr := client(string(f)).Transport.(*http.Transport)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &closeAfter{ReadCloser: resp.Body, after: tr.CloseIdleConnections}
	return resp, nil
}

type closeAfter struct {
	io.ReadCloser
	after func()
}

func (c *closeAfter) Close() error {
	err := c.ReadCloser.Close()
	c.after()
	return err
}

func compareClients(b *testing.B, hd, hp *http.Client, work func(*http.Client) error) {
	var td, tp time.Duration
	for i := 0; i < b.N; i++ {
		for _, side := range []struct {
			hc  *http.Client
			sum *time.Duration
		}{{hd, &td}, {hp, &tp}} {
			start := time.Now()
			if err := work(side.hc); err != nil {
				b.Fatal(err)
			}
			*side.sum += time.Since(start)
		}
	}
	b.ReportMetric(float64(tp)/float64(td), "ratio")
	if la, err := loadAverage(); err == nil {
		b.ReportMetric(la, "loadavg")
	}
	b.ReportMetric(float64(td.Microseconds())/float64(b.N), "direct-µs/op")
	b.ReportMetric(float64(tp.Microseconds())/float64(b.N), "proxied-µs/op")
}

func roundTrip(hc *http.Client, method, path string, body io.Reader, want string) error {
	req, err := http.NewRequest(method, "http://docker"+path, body)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || string(got) != want {
		return fmt.Errorf("%s %s = %d %q, %v; want %q", method, path, resp.StatusCode, got, err, want)
	}
	return nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
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
