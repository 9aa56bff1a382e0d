package dind

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// WaitReady polls dockerd's /_ping on the unix socket URL until it answers
// 200 OK, ctx ends, or exited is closed (dockerd died: waiting longer is
// pointless). The error carries the last failure.
func WaitReady(ctx context.Context, socketURL string, exited <-chan struct{}) error {
	client, path, err := unixClient(socketURL)
	if err != nil {
		return fmt.Errorf("wait for dockerd: %w", err)
	}
	defer client.CloseIdleConnections()
	var last error
	delay := 10 * time.Millisecond
	for {
		if last = ping(ctx, client); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for dockerd on %s: %w (last error: %v)", path, ctx.Err(), last)
		case <-exited:
			return fmt.Errorf("wait for dockerd on %s: dockerd exited (last error: %v)", path, last)
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

// Ping asks dockerd's /_ping once, on the unix socket URL.
func Ping(ctx context.Context, socketURL string) error {
	client, path, err := unixClient(socketURL)
	if err != nil {
		return fmt.Errorf("ping dockerd: %w", err)
	}
	defer client.CloseIdleConnections()
	// One request: the caller's deadline (envbox health --timeout) is
	// its bound, not WaitReady's per-attempt one.
	client.Timeout = 0
	if err := ping(ctx, client); err != nil {
		return fmt.Errorf("dockerd on %s: %w", path, err)
	}
	return nil
}

// unixClient is an HTTP client for the Docker API on a unix:// socket URL.
func unixClient(socketURL string) (*http.Client, string, error) {
	path, ok := strings.CutPrefix(socketURL, "unix://")
	if !ok {
		return nil, "", fmt.Errorf("%q is not a unix:// socket", socketURL)
	}
	return &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}},
	}, path, nil
}

func ping(ctx context.Context, c *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /_ping: %s", resp.Status)
	}
	return nil
}

// IsNoSpace reports dockerd output that means its data root filled up; such a
// dockerd is restarted rather than left wedged.
func IsNoSpace(line string) bool {
	return strings.Contains(line, "no space left on device")
}
