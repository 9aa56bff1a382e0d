package dind

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"
)

func TestCheckDelegation(t *testing.T) {
	t.Parallel()
	all := "cpuset cpu io memory hugetlb pids rdma misc\n"
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{name: "held", files: map[string]string{"cgroup.controllers": all, "cgroup.procs": "", "cgroup.subtree_control": all}},
		{name: "no_controllers_offered", files: map[string]string{"cgroup.controllers": "\n", "cgroup.procs": "", "cgroup.subtree_control": ""}},
		{name: "v1_or_hybrid", files: map[string]string{}},
		{name: "process_back_in_root", files: map[string]string{"cgroup.controllers": all, "cgroup.procs": "4711\n4712\n", "cgroup.subtree_control": all},
			wantErr: "delegation lost: /sys/fs/cgroup/cgroup.procs holds pids 4711 4712; the pod's root cgroup must hold none (they belong in /sys/fs/cgroup/init)"},
		{name: "controller_not_enabled", files: map[string]string{"cgroup.controllers": all, "cgroup.procs": "", "cgroup.subtree_control": "cpuset cpu pids\n"},
			wantErr: `delegation incomplete: /sys/fs/cgroup/cgroup.subtree_control lacks io memory hugetlb rdma misc (it has "cpuset cpu pids")`},
		{name: "procs_unreadable", files: map[string]string{"cgroup.controllers": all},
			wantErr: "read /sys/fs/cgroup/cgroup.procs: open /sys/fs/cgroup/cgroup.procs: file does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := afero.NewMemMapFs()
			for name, data := range tt.files {
				_ = afero.WriteFile(fsys, "/sys/fs/cgroup/"+name, []byte(data), 0o444)
			}
			if err := CheckDelegation(fsys, "/sys/fs/cgroup"); errString(err) != orNil(tt.wantErr) {
				t.Errorf("CheckDelegation(%v) = %v, want %s", tt.files, err, orNil(tt.wantErr))
			}
		})
	}
}

// fakeDockerd serves /_ping with status on a unix socket and returns its URL.
func fakeDockerd(t *testing.T, status int) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "unix://" + sock
}

func TestHealth(t *testing.T) {
	t.Parallel()
	all := "cpu memory pids\n"
	held := afero.NewMemMapFs()
	for name, data := range map[string]string{"cgroup.controllers": all, "cgroup.procs": "", "cgroup.subtree_control": all} {
		_ = afero.WriteFile(held, "/sys/fs/cgroup/"+name, []byte(data), 0o444)
	}
	lost := afero.NewMemMapFs()
	for name, data := range map[string]string{"cgroup.controllers": all, "cgroup.procs": "1\n", "cgroup.subtree_control": all} {
		_ = afero.WriteFile(lost, "/sys/fs/cgroup/"+name, []byte(data), 0o444)
	}
	up := fakeDockerd(t, http.StatusOK)
	busy := fakeDockerd(t, http.StatusServiceUnavailable)
	down := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	tests := []struct {
		name      string
		fsys      afero.Fs
		socket    string
		wantErrIn string // "" = healthy
	}{
		{name: "healthy", fsys: held, socket: up},
		{name: "api_not_up", fsys: held, socket: down, wantErrIn: "none.sock: Get \"http://docker/_ping\": dial unix "},
		{name: "api_unhealthy", fsys: held, socket: busy, wantErrIn: "GET /_ping: 503 Service Unavailable"},
		{name: "delegation_lost_first", fsys: lost, socket: up, wantErrIn: "delegation lost: /sys/fs/cgroup/cgroup.procs holds pids 1;"},
		{name: "tcp_refused", fsys: held, socket: "tcp://127.0.0.1:2375", wantErrIn: `ping dockerd: "tcp://127.0.0.1:2375" is not a unix:// socket`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Health(context.Background(), tt.fsys, tt.socket)
			if tt.wantErrIn == "" && err != nil || tt.wantErrIn != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErrIn)) {
				t.Errorf("Health(%s) = %v, want an error containing %q", tt.socket, err, tt.wantErrIn)
			}
		})
	}
}

// The caller's deadline (envbox health --timeout) bounds the request: a
// dockerd slower than 2 s under load is not reported down before it.
func TestHealthWaitsUntilItsDeadline(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2500 * time.Millisecond):
		case <-r.Context().Done():
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	held := afero.NewMemMapFs()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Health(ctx, held, "unix://"+sock); err != nil {
		t.Errorf("Health with a 10s deadline on a dockerd answering in 2.5s = %v, want nil", err)
	}
}
