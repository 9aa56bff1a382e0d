package dind

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWaitReady(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- WaitReady(ctx, "unix://"+sock, nil) }()

	// The daemon comes up after the waiter started.
	time.Sleep(50 * time.Millisecond)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_ping" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("OK"))
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	if err := <-done; err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
}

func TestWaitReadyErrors(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "none.sock")
	exited := make(chan struct{})
	close(exited)
	err := WaitReady(context.Background(), "unix://"+sock, exited)
	if err == nil || !strings.HasPrefix(err.Error(), "wait for dockerd on "+sock+": dockerd exited (last error: ") {
		t.Errorf("WaitReady with exited daemon = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err = WaitReady(ctx, "unix://"+sock, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "wait for dockerd on "+sock+": context deadline exceeded (last error: ") {
		t.Errorf("WaitReady with deadline = %v", err)
	}
	if err := WaitReady(context.Background(), "tcp://127.0.0.1:2375", nil); err == nil || err.Error() != `wait for dockerd: "tcp://127.0.0.1:2375" is not a unix:// socket` {
		t.Errorf("WaitReady tcp = %v", err)
	}
}

func TestIsNoSpace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want bool
	}{
		{`time="2026-11-25T12:00:00Z" level=error msg="failed to start daemon: write /var/lib/docker/engine-id: no space left on device"`, true},
		{`time="2026-11-25T12:00:00Z" level=info msg="API listen on /var/run/docker.sock"`, false},
	}
	for _, tt := range tests {
		if got := IsNoSpace(tt.line); got != tt.want {
			t.Errorf("IsNoSpace(%q) = %t, want %t", tt.line, got, tt.want)
		}
	}
}
