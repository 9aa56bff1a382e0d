package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/afero"
	"github.com/spf13/pflag"

	"github.com/envbox/envbox/dind/doctor"
)

// TestDoctorUsageErrors: every bad flag exits 2 before anything is read.
func TestDoctorUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "pid_word", args: []string{"--pid", "one"}, wantErr: `parse --pid="one": want a positive process ID or "self"`},
		{name: "pid_zero", args: []string{"--pid", "0"}, wantErr: `parse --pid="0": want a positive process ID or "self"`},
		{name: "pid_padded", args: []string{"--pid", "07"}, wantErr: `parse --pid="07": want a positive process ID or "self"`},
		{name: "host_path", args: []string{"--host", "/var/run/docker.sock"}, wantErr: `parse --host="/var/run/docker.sock": want unix:///PATH or tcp://HOST:PORT`},
		{name: "host_http", args: []string{"--host", "http://localhost:2375"}, wantErr: `parse --host="http://localhost:2375": want unix:///PATH or tcp://HOST:PORT`},
		{name: "root_relative", args: []string{"--host-cgroup-root", "kubepods/pod1"}, wantErr: `parse --host-cgroup-root="kubepods/pod1": want a clean absolute cgroup path such as /kubepods.slice/pod.slice`},
		{name: "root_unclean", args: []string{"--host-cgroup-root", "/kubepods/../x"}, wantErr: `parse --host-cgroup-root="/kubepods/../x": want a clean absolute cgroup path such as /kubepods.slice/pod.slice`},
		{name: "argument", args: []string{"extra"}, wantErr: `unknown command "extra" for "envbox doctor"`},
		{name: "unknown_flag", args: []string{"--nope"}, wantErr: `unknown flag: --nope`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := Root()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(append([]string{"doctor"}, tt.args...))
			err := root.Execute()
			var exit *ExitError
			if !errors.As(err, &exit) || exit.Code != 2 || err.Error() != tt.wantErr {
				t.Fatalf("envbox doctor %q: error %v, want exit 2 %q", tt.args, err, tt.wantErr)
			}
			if out.Len() != 0 {
				t.Errorf("envbox doctor %q printed %q, want nothing", tt.args, out.String())
			}
		})
	}
}

func TestDoctorVars(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    doctorConfig
		wantErr string
	}{
		{name: "defaults", want: doctorConfig{Host: "unix:///var/run/docker.sock", PID: "1"}},
		{name: "docker_host", env: map[string]string{"DOCKER_HOST": "unix:///run/d.sock"}, want: doctorConfig{Host: "unix:///run/d.sock", PID: "1"}},
		{name: "empty_is_unset", env: map[string]string{"DOCKER_HOST": ""}, want: doctorConfig{Host: "unix:///var/run/docker.sock", PID: "1"}},
		{name: "flag_wins", env: map[string]string{"DOCKER_HOST": "unix:///run/d.sock"}, args: []string{"--host=tcp://127.0.0.1:2375"},
			want: doctorConfig{Host: "tcp://127.0.0.1:2375", PID: "1"}},
		{name: "every_flag", args: []string{"--json", "--host-cgroup-root=/kubepods/pod1", "--pid=self"},
			want: doctorConfig{JSON: true, Host: "unix:///var/run/docker.sock", HostCgroupRoot: "/kubepods/pod1", PID: "self"}},
		{name: "bad_docker_host", env: map[string]string{"DOCKER_HOST": "docker.sock"},
			wantErr: `parse DOCKER_HOST="docker.sock": want unix:///PATH or tcp://HOST:PORT`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := pflag.NewFlagSet("doctor", pflag.ContinueOnError)
			vals := doctorVars.flags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatalf("parse flags %q: %v", tt.args, err)
			}
			var got doctorConfig
			err := doctorVars.parse(&got, lookupMap(tt.env), vals, fs.Changed)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("env %v, args %q: error %v, want %q", tt.env, tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("env %v, args %q: %+v, %v; want %+v", tt.env, tt.args, got, err, tt.want)
			}
		})
	}
}

// doctorFake answers one container list.
type doctorFake struct {
	containers []container.Summary
	pids       map[string]int
}

func (f doctorFake) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: f.containers}, nil
}

func (f doctorFake) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	return client.ContainerInspectResult{Container: container.InspectResponse{ID: id, State: &container.State{Pid: f.pids[id]}}}, nil
}

// podFs is a pure-v2 pod after delegation (mountinfo from the qemu VM of
// integration/vm): envbox at /init, one container "web" at /docker/<id>,
// and one container "stray" whose cgroup is outside the namespace.
func podFs(t *testing.T, withSocket bool) afero.Fs {
	t.Helper()
	files := map[string]string{
		"/proc/self/mountinfo":                  "23 22 0:21 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n",
		"/proc/1/cgroup":                        "0::/init\n",
		"/proc/40/cgroup":                       "0::/docker/aaaa\n",
		"/proc/41/cgroup":                       "0::/../node-agent/bbbb\n",
		"/sys/fs/cgroup/cgroup.controllers":     "cpu memory pids\n",
		"/sys/fs/cgroup/cgroup.subtree_control": "cpu memory pids\n",
		"/sys/fs/cgroup/cpu.max":                "max 100000\n",
		"/sys/fs/cgroup/memory.max":             "max\n",
		"/sys/fs/cgroup/init/cgroup.procs":      "1\n",
	}
	if withSocket {
		files["/var/run/docker.sock"] = ""
	}
	fsys := afero.NewMemMapFs()
	for p, data := range files {
		if err := afero.WriteFile(fsys, p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fsys
}

func TestRunDoctor(t *testing.T) {
	t.Parallel()
	inodes := map[string]uint64{"/sys/fs/cgroup/init": 11, "/sys/fs/cgroup/docker/aaaa": 12}
	inode := func(p string) (uint64, error) {
		if n, ok := inodes[p]; ok {
			return n, nil
		}
		return 0, fmt.Errorf("stat %s: no such directory", p)
	}
	web := container.Summary{ID: "aaaa", Names: []string{"/web"}}
	stray := container.Summary{ID: "bbbb", Names: []string{"/stray"}}
	tests := []struct {
		name       string
		socket     bool
		containers []container.Summary
		wantErr    string // "" = exit 0
		wantOut    []string
	}{
		{name: "attributed", socket: true, containers: []container.Summary{web},
			wantOut: []string{"container  web     40   /docker/aaaa  /kube/pod1/docker/aaaa  12         yes\n",
				"result: every process is attributed to the pod\n"}},
		{name: "no_socket", socket: false, containers: []container.Summary{web, stray},
			wantOut: []string{"docker:         unix:///var/run/docker.sock: no socket /var/run/docker.sock (dockerd not running)\n"}},
		{name: "stray", socket: true, containers: []container.Summary{web, stray},
			wantErr: "1 not attributed: container stray (bbbb, pid 41): cgroup /../node-agent/bbbb is not below the pod cgroup /",
			wantOut: []string{"container  stray   41   /../node-agent/bbbb  -                       -          NO\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			deps := doctorDeps{Fs: podFs(t, tt.socket), Inode: inode, NewDocker: func(host string) (doctor.Docker, error) {
				if host != "unix:///var/run/docker.sock" {
					t.Errorf("NewDocker(%q), want unix:///var/run/docker.sock", host)
				}
				return doctorFake{containers: tt.containers, pids: map[string]int{"aaaa": 40, "bbbb": 41}}, nil
			}}
			cfg := doctorConfig{Host: "unix:///var/run/docker.sock", PID: "1", HostCgroupRoot: "/kube/pod1"}
			var out bytes.Buffer
			err := runDoctor(context.Background(), &out, cfg, deps)
			var exit *ExitError
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("runDoctor: %v, want exit 0", err)
			case tt.wantErr != "" && (!errors.As(err, &exit) || exit.Code != 1 || err.Error() != tt.wantErr):
				t.Errorf("runDoctor: %v, want exit 1 %q", err, tt.wantErr)
			}
			for _, line := range tt.wantOut {
				if !strings.Contains(out.String(), line) {
					t.Errorf("output lacks %q:\n%s", line, out.String())
				}
			}
		})
	}
}

// TestRunDoctorJSON: --json prints one JSON document whose verdict fields
// match the human output's.
func TestRunDoctorJSON(t *testing.T) {
	t.Parallel()
	deps := doctorDeps{Fs: podFs(t, false), Inode: func(string) (uint64, error) { return 11, nil }}
	cfg := doctorConfig{JSON: true, Host: "unix:///var/run/docker.sock", PID: "1"}
	var out bytes.Buffer
	if err := runDoctor(context.Background(), &out, cfg, deps); err != nil {
		t.Fatalf("runDoctor: %v", err)
	}
	for _, line := range []string{
		"  \"cgroup_mode\": \"v2\",\n",
		"  \"host_cgroup_root\": \"/\",\n",
		"  \"host_cgroup_root_source\": \"mountinfo\",\n",
		"  \"docker_note\": \"no socket /var/run/docker.sock (dockerd not running)\",\n",
		"  \"offenders\": [],\n",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("JSON lacks %q:\n%s", line, out.String())
		}
	}
}
