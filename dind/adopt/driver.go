package adopt

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// infoTimeout bounds the one GET /info that learns dockerd's cgroup driver.
const infoTimeout = 10 * time.Second

// driverCache holds dockerd's cgroup driver once learnt. A failed lookup is
// not cached: the next create asks again.
type driverCache struct {
	mu sync.Mutex
	d  *Driver
}

// driver returns dockerd's cgroup driver and version, asking GET /info the
// first time.
func (p *Proxy) driver(ctx context.Context) (Driver, error) {
	p.cache.mu.Lock()
	defer p.cache.mu.Unlock()
	if p.cache.d != nil {
		return *p.cache.d, nil
	}
	d, err := fetchDriver(ctx, p.Upstream)
	if err != nil {
		return Driver{}, err
	}
	p.cache.d = &d
	return d, nil
}

func fetchDriver(ctx context.Context, socket string) (Driver, error) {
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/info", nil)
	if err != nil {
		return Driver{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Driver{}, fmt.Errorf("ask dockerd at %s for its cgroup driver: %w", socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Driver{}, fmt.Errorf("ask dockerd at %s for its cgroup driver: GET /info: %s", socket, resp.Status)
	}
	var info struct{ CgroupDriver, CgroupVersion string }
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return Driver{}, fmt.Errorf("decode GET /info from %s: %w", socket, err)
	}
	return checkDriver(Driver{Name: info.CgroupDriver, Version: info.CgroupVersion})
}

// checkDriver accepts the drivers the proxy can express a cgroup for.
// dockerd before 20.10 did not report CgroupVersion: it only ran on v1.
func checkDriver(d Driver) (Driver, error) {
	if d.Version == "" {
		d.Version = "1"
	}
	if d.Name != "cgroupfs" && d.Name != "systemd" {
		return Driver{}, fmt.Errorf("dockerd cgroup driver %q: containers cannot be placed in a cgroup", d.Name)
	}
	if d.Version != "1" && d.Version != "2" {
		return Driver{}, fmt.Errorf("dockerd cgroup version %q: want 1 or 2", d.Version)
	}
	return d, nil
}
