package adopt

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
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
	if err := sameCgroupNS(p.Upstream); err != nil {
		return Driver{}, err
	}
	p.cache.d = &d
	return d, nil
}

// sameCgroupNS checks that dockerd (the process serving socket) is in this
// process' cgroup namespace. A caller's cgroup is read from here, relative
// to this namespace's root, and dockerd resolves CgroupParent relative to
// its own: with different roots the path would name another cgroup. The
// kernel renders /proc/<pid>/cgroup for the reader, so there is no
// translating afterwards.
func sameCgroupNS(socket string) error {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		return fmt.Errorf("dial dockerd at %s: %w", socket, err)
	}
	defer c.Close()
	cr, err := PeerCreds(c)
	if err != nil {
		return fmt.Errorf("identify dockerd at %s: %w", socket, err)
	}
	if cr.PidFD >= 0 {
		defer unix.Close(cr.PidFD)
	}
	if cr.PID <= 0 {
		return fmt.Errorf("dockerd at %s is outside this pid namespace: cannot check its cgroup namespace", socket)
	}
	own, err := os.Readlink("/proc/self/ns/cgroup")
	if err != nil {
		return err
	}
	theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/cgroup", cr.PID))
	if err != nil {
		return fmt.Errorf("read dockerd's cgroup namespace: %w", err)
	}
	if own != theirs {
		return fmt.Errorf("adopt-proxy is in cgroup namespace %s but dockerd (pid %d) in %s: cgroup paths would not match; "+
			"run adopt-proxy in dockerd's (nsenter --cgroup=/proc/%d/ns/cgroup)", own, cr.PID, theirs, cr.PID)
	}
	return nil
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
