package adopt

import (
	"net"
	"testing"

	"github.com/spf13/afero"
)

// Verbatim /proc/<pid>/cgroup texts.
const (
	// Cgroup v2 node, read from the delegated namespace: a process of an
	// inner container.
	procV2Inner = "0::/docker/3f1c9a\n"
	// Cgroup v2, a shell in the outer container after delegation.
	procV2Init = "0::/init\n"
	// Cgroup v1 host (Debian 10, Docker 19.03): a container's process.
	procV1 = `12:pids:/docker/7e2d
11:memory:/docker/7e2d
10:cpu,cpuacct:/docker/7e2d
9:devices:/docker/7e2d
1:name=systemd:/docker/7e2d
`
	// Cgroup v1 host, systemd and cpu disagree (a service with
	// CPUAccounting off).
	procV1Split = `4:cpu,cpuacct:/
1:name=systemd:/system.slice/ssh.service
`
	// Hybrid host (this CI machine): v1 controllers plus the
	// controller-less unified hierarchy.
	procHybrid = `13:misc:/
8:cpu,cpuacct:/user.slice
1:name=systemd:/user.slice/user-0.slice/session-1.scope
0::/user.slice/user-0.slice/session-1.scope
`
	// Cgroup v1 without a cpu hierarchy mounted.
	procV1SystemdOnly = "1:name=systemd:/docker/7e2d\n"
	// A process in a sibling pod, read from inside our cgroup namespace:
	// the kernel renders it relative to our root.
	procV2Outside = "0::/../../kubepods/besteffort/pod9/5c1e\n"
	// A process in a nested cgroup namespace (an inner container with
	// cgroupns=private): it reads "0::/" itself, we read the full path.
	procV2Nested = "0::/docker/3f1c9a/docker/88aa\n"
	// The cgroup was removed while the process still pointed at it.
	procV2Deleted = "0::/docker/3f1c9a (deleted)\n"
)

// TestDeriveParent: from the credential (pid) to the CgroupParent sent to
// dockerd, through /proc/<pid>/cgroup.
func TestDeriveParent(t *testing.T) {
	t.Parallel()
	v2fs := Driver{Name: "cgroupfs", Version: "2"}
	v1fs := Driver{Name: "cgroupfs", Version: "1"}
	v1sd := Driver{Name: "systemd", Version: "1"}
	v2sd := Driver{Name: "systemd", Version: "2"}
	tests := []struct {
		name, file    string // file "" means /proc/4242 does not exist
		driver        Driver
		want, wantErr string
	}{
		{name: "v2_inner_container", file: procV2Inner, driver: v2fs, want: "/docker/3f1c9a"},
		{name: "v2_outer_init", file: procV2Init, driver: v2fs, want: "/init"},
		{name: "v2_nested_namespace_full_path", file: procV2Nested, driver: v2fs, want: "/docker/3f1c9a/docker/88aa"},
		{name: "v2_root", file: "0::/\n", driver: v2fs, want: "/"},
		{name: "v1_cpu_line", file: procV1, driver: v1fs, want: "/docker/7e2d"},
		{name: "v1_cgroupfs_prefers_cpu", file: procV1Split, driver: v1fs, want: "/"},
		{name: "v1_systemd_prefers_name_systemd", file: procV1Split, driver: v1sd, want: "system.slice"},
		{name: "v1_systemd_only", file: procV1SystemdOnly, driver: v1fs, want: "/docker/7e2d"},
		{name: "hybrid_dockerd_on_v1", file: procHybrid, driver: v1fs, want: "/user.slice"},
		{name: "hybrid_dockerd_on_v2", file: procHybrid, driver: v2fs, want: "/user.slice/user-0.slice/session-1.scope"},
		{name: "hybrid_systemd_v1", file: procHybrid, driver: v1sd, want: "user-0.slice"},
		{name: "v2_systemd_scope", file: "0::/system.slice/docker-3f1c9a.scope\n", driver: v2sd, want: "system.slice"},
		{name: "v2_systemd_root", file: "0::/\n", driver: v2sd, want: "-.slice"},
		{name: "v2_systemd_not_a_slice", file: procV2Inner, driver: v2sd,
			wantErr: `peer cgroup "/docker/3f1c9a" is not inside a systemd slice chain (at "docker")`},
		{name: "v2_outside_namespace", file: procV2Outside, driver: v2fs,
			wantErr: `peer cgroup "/../../kubepods/besteffort/pod9/5c1e": cgroup is outside this cgroup namespace`},
		{name: "v2_deleted", file: procV2Deleted, driver: v2fs,
			wantErr: `peer cgroup "/docker/3f1c9a" was removed`},
		{name: "v2_wanted_v1_file", file: procV1, driver: v2fs,
			wantErr: `cgroup v2 (0::) among 5 entries: no such cgroup hierarchy`},
		{name: "v1_wanted_v2_file", file: procV2Inner, driver: v1fs,
			wantErr: `cgroup v1 controller "name=systemd" among 1 entries: no such cgroup hierarchy`},
		{name: "exited_pid", driver: v2fs,
			wantErr: `calling process pid 4242 has exited (/proc/4242/cgroup is gone)`},
		{name: "empty_file", file: "\n", driver: v2fs,
			wantErr: `read cgroup of calling process pid 4242: parse /proc/4242/cgroup line 1 "": want ID:controllers:path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := derive(t, tt.file, tt.driver)
			if got != tt.want || errString(err) != tt.wantErr {
				t.Errorf("derive(%q, %+v) = %q, %v; want %q, %q", tt.file, tt.driver, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func derive(t *testing.T, file string, d Driver) (string, error) {
	t.Helper()
	fs := afero.NewMemMapFs()
	if file != "" {
		if err := afero.WriteFile(fs, "/proc/4242/cgroup", []byte(file), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	p := &Proxy{Fs: fs, Creds: func(*net.UnixConn) (Creds, error) { return Creds{PID: 4242, PidFD: -1}, nil }}
	pr := p.identify(nil, direct)
	if pr.err != nil {
		return "", pr.err
	}
	cg, err := peerPath(pr.cgroups, d)
	if err != nil {
		return "", err
	}
	return parentFor(cg, d)
}

func TestSliceOf(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want, wantErr string }{
		{in: "/", want: "-.slice"},
		{in: "/system.slice", want: "system.slice"},
		{in: "/system.slice/docker.service", want: "system.slice"},
		{in: "/user.slice/user-1000.slice/user@1000.service", want: "user-1000.slice"},
		{in: "/machine.scope", want: "-.slice"},
		{in: "/a.slice/b.slice", wantErr: `peer cgroup "/a.slice/b.slice" is not inside a systemd slice chain (at "b.slice")`},
		{in: "/.slice", wantErr: `peer cgroup "/.slice" is not inside a systemd slice chain (at ".slice")`},
		{in: "/init", wantErr: `peer cgroup "/init" is not inside a systemd slice chain (at "init")`},
	}
	for _, tt := range tests {
		got, err := sliceOf(tt.in)
		if got != tt.want || errString(err) != tt.wantErr {
			t.Errorf("sliceOf(%q) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCheckDriver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      Driver
		want    Driver
		wantErr string
	}{
		{in: Driver{"cgroupfs", "2"}, want: Driver{"cgroupfs", "2"}},
		{in: Driver{"systemd", ""}, want: Driver{"systemd", "1"}},
		{in: Driver{"none", "1"}, wantErr: `dockerd cgroup driver "none": containers cannot be placed in a cgroup`},
		{in: Driver{"cgroupfs", "3"}, wantErr: `dockerd cgroup version "3": want 1 or 2`},
	}
	for _, tt := range tests {
		got, err := checkDriver(tt.in)
		if got != tt.want || errString(err) != tt.wantErr {
			t.Errorf("checkDriver(%+v) = %+v, %v; want %+v, %q", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
