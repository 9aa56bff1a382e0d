package doctor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// wantDelegatedHuman is the complete human output for delegatedPod.
const wantDelegatedHuman = `cgroup mode:    v2 (attribution checked on cgroup v2)
cgroup2 mount:  /sys/fs/cgroup (cgroupns root /)
host root:      /kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope (from --host-cgroup-root)
pod cgroup:     /
delegation:     yes (/sys/fs/cgroup/init present; subtree_control "cpuset cpu io memory hugetlb pids rdma misc" of cgroup.controllers "cpuset cpu io memory hugetlb pids rdma misc")
limits:         cpu 0.5 (/sys/fs/cgroup/cpu.max); memory 33554432 (/sys/fs/cgroup/memory.max)
reserve:        /sys/fs/cgroup/docker memory.max 16777216 of the pod's 33554432; pids.max 128 of the pod's 256; containers' pids.max 96 (1), max (1)
docker:         unix:///var/run/docker.sock: 2 running container(s)

KIND       NAME    PID   CGROUP                                                                    HOST CGROUP                                                                                                                            CGROUP ID  ATTRIBUTED
envbox     envbox  1     /init                                                                     /kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope/init                                                                     7412       yes
container  job     4300  /docker/9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b  /kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope/docker/9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b  7561       yes
container  web     4242  /docker/3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a  /kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope/docker/3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a  7530       yes

cgroups at or below the pod:
CGROUP                                                                    HOST CGROUP                                                                                                                            CGROUP ID  PROCESSES
/                                                                         /kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope                                                                          1          -
/docker                                                                   /kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope/docker                                                                   7501       -
/docker/3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a  /kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope/docker/3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a  7530       4242 (nginx)
/docker/9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b  /kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope/docker/9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b  7561       4300 (sh)
/init                                                                     /kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope/init                                                                     7412       1 (envbox), 57 (dockerd)

attribution tools:
  - Tetragon: run with --enable-cgidmap and --enable-cgtrackerid; cgroups created under the pod (<pod>/docker/<id>) inherit its tracker ID and map to the pod, cgroups beside it never do
  - Falco: container.id is the innermost container's; take the pod's identity from the cgroup path (proc.cgroups), which starts with the pod's cgroup

result: every process is attributed to the pod
`

// wantEscapedHuman is the complete human output for escapedPod.
const wantEscapedHuman = `cgroup mode:    v2 (attribution checked on cgroup v2)
cgroup2 mount:  /sys/fs/cgroup (cgroupns root /)
host root:      / (from mountinfo)
pod cgroup:     /pod
delegation:     no (/sys/fs/cgroup/pod/init absent; subtree_control "" of cgroup.controllers "")
limits:         cpu unknown (no cpu.max in /sys/fs/cgroup/pod or its 1 ancestors: file does not exist); memory unknown (no memory.max in /sys/fs/cgroup/pod or its 1 ancestors: file does not exist)
reserve:        none yet (/sys/fs/cgroup/pod/docker absent: dockerd has started no container, or another cgroup parent)
docker:         unix:///var/run/docker.sock: 1 running container(s)

KIND       NAME    PID   CGROUP                                                                    HOST CGROUP                                                               CGROUP ID  ATTRIBUTED
envbox     envbox  77    /pod                                                                      /pod                                                                      1207       yes
container  web     4242  /docker/3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a  /docker/3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a  1290       NO

cgroups at or below the pod:
CGROUP  HOST CGROUP  CGROUP ID  PROCESSES
/pod    /pod         1207       77 (dockerd)

result: 1 not attributed:
  - container web (3f1c2b9a8d7e, pid 4242): cgroup /docker/3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a is not below the pod cgroup /pod
`

func TestWriteHuman(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sc   scenario
		pid  string
		want string
	}{
		{name: "delegated_pod", sc: delegatedPod(), pid: "1", want: wantDelegatedHuman},
		{name: "escaped_container", sc: escapedPod(), pid: "77", want: wantEscapedHuman},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := tt.sc.checker(t, tt.pid).Run(context.Background())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			var b strings.Builder
			if err := WriteHuman(&b, r); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("WriteHuman:\n%s\nwant:\n%s", b.String(), tt.want)
			}
		})
	}
}

// TestRunOffenders covers every way attribution fails or cannot be
// checked, by the exact offender lines.
func TestRunOffenders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		sc     func() scenario
		pid    string
		want   []string
		wantOK []bool // Attributed per subject, in report order
	}{
		{
			name: "all_attributed", sc: delegatedPod, pid: "1",
			want: []string{}, wantOK: []bool{true, true, true},
		},
		{
			name: "no_dockerd", pid: "1",
			sc:   func() scenario { sc := delegatedPod(); sc.docker = nil; return sc },
			want: []string{}, wantOK: []bool{true},
		},
		{
			name: "list_fails", pid: "1",
			sc: func() scenario {
				sc := delegatedPod()
				sc.docker = &fakeDocker{listErr: errors.New("Cannot connect to the Docker daemon at unix:///var/run/docker.sock")}
				return sc
			},
			want:   []string{"docker unix:///var/run/docker.sock: list containers: Cannot connect to the Docker daemon at unix:///var/run/docker.sock"},
			wantOK: []bool{true},
		},
		{
			name: "container_outside_namespace", pid: "1",
			sc: func() scenario {
				sc := delegatedPod()
				sc.files["/proc/4300/cgroup"] = "0::/../elsewhere/" + idJob + "\n"
				return sc
			},
			want:   []string{"container job (9b8a7c6d5e4f, pid 4300): cgroup /../elsewhere/" + idJob + " is not below the pod cgroup /"},
			wantOK: []bool{true, false, true},
		},
		{
			name: "container_gone", pid: "1",
			sc: func() scenario {
				sc := delegatedPod()
				sc.docker.pids[idJob] = 0
				delete(sc.docker.pids, idWeb)
				return sc
			},
			want: []string{
				"container job (9b8a7c6d5e4f, pid 0): inspect: no running process (State.Pid 0)",
				"container web (3f1c2b9a8d7e, pid 0): inspect: no such container: " + idWeb,
			},
			wantOK: []bool{true, false, false},
		},
		{
			name: "cgroup_id_unreadable", pid: "1",
			sc: func() scenario {
				sc := delegatedPod()
				delete(sc.inodes, "/sys/fs/cgroup/docker/"+idWeb)
				return sc
			},
			want:   []string{"container web (3f1c2b9a8d7e, pid 4242): cgroup /docker/" + idWeb + ": stat /sys/fs/cgroup/docker/" + idWeb + ": unsupported operation"},
			wantOK: []bool{true, true, false},
		},
		{
			name: "escaped_container", sc: escapedPod, pid: "77",
			want:   []string{"container web (3f1c2b9a8d7e, pid 4242): cgroup /docker/" + idWeb + " is not below the pod cgroup /pod"},
			wantOK: []bool{true, false},
		},
		{
			name: "run_containerd_no_dockerd", sc: runPod, pid: "1",
			want: []string{}, wantOK: []bool{true},
		},
		{
			name: "run_task_outside_pod", pid: "1",
			sc: func() scenario {
				sc := runPod()
				sc.files["/proc/120/cgroup"] = "0::/../elsewhere\n"
				return sc
			},
			want:   []string{"process 120 (sh): cgroup /../elsewhere is not below the pod cgroup /"},
			wantOK: []bool{true},
		},
		{
			name: "run_bad_stat", pid: "1",
			sc: func() scenario {
				sc := runPod()
				sc.files["/proc/80/stat"] = "80 (containerd-shim"
				return sc
			},
			want:   []string{`processes of envbox (pid 1): parse /proc/80/stat: stat "80 (containerd-shim": no ")" after the command`},
			wantOK: []bool{true},
		},
		{
			name: "v1_host", pid: "self",
			sc: func() scenario {
				return scenario{files: map[string]string{"/proc/self/mountinfo": v1Mountinfo, "/proc/self/cgroup": v1Cgroup}}
			},
			want:   []string{"no cgroup2 mount shows the pod cgroup /process_api/e3d3300b6c8a9cc4d1a3899b434eed23 (mode v1): attribution needs cgroup v2"},
			wantOK: []bool{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := tt.sc().checker(t, tt.pid).Run(context.Background())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !slices.Equal(r.Offenders, tt.want) {
				t.Errorf("offenders = %q, want %q", r.Offenders, tt.want)
			}
			got := []bool{}
			for _, s := range r.Subjects {
				got = append(got, s.Attributed)
			}
			if !slices.Equal(got, tt.wantOK) {
				t.Errorf("attributed = %v, want %v (subjects %+v)", got, tt.wantOK, r.Subjects)
			}
		})
	}
}

// TestRunErrors: without a mount table or envbox's cgroup nothing can be
// checked; the error names the file.
func TestRunErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{name: "no_mountinfo", files: map[string]string{}, wantErr: "read mount table: open /proc/self/mountinfo: file does not exist"},
		{name: "no_envbox", files: map[string]string{"/proc/self/mountinfo": vmMountinfo},
			wantErr: "read envbox's cgroup: open /proc/1/cgroup: file does not exist"},
		{name: "bad_cgroup_line", files: map[string]string{"/proc/self/mountinfo": vmMountinfo, "/proc/1/cgroup": "0:/init\n"},
			wantErr: `read envbox's cgroup: parse /proc/1/cgroup line 1 "0:/init": want ID:controllers:path`},
		{name: "no_cgroup_mount", files: map[string]string{"/proc/self/mountinfo": "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"},
			wantErr: "classify 1 mounts: no cgroup or cgroup2 mount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := scenario{files: tt.files}.checker(t, "1")
			_, err := c.Run(context.Background())
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Run() error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestBelow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		root, p, want string
		ok            bool
	}{
		{root: "/", p: "/", want: "", ok: true},
		{root: "/", p: "/docker/x", want: "docker/x", ok: true},
		{root: "/pod", p: "/pod/init", want: "init", ok: true},
		{root: "/pod", p: "/pod", want: "", ok: true},
		{root: "/pod", p: "/podx/init", ok: false},
		{root: "/pod", p: "/docker/x", ok: false},
		{root: "/", p: "/..", ok: false},
		{root: "/", p: "/../x", ok: false},
		{root: "/pod", p: "/pod/../x", ok: false},
		{root: "/pod", p: "/pod//x", ok: false},
	}
	for _, tt := range tests {
		got, ok := below(tt.root, tt.p)
		if got != tt.want || ok != tt.ok {
			t.Errorf("below(%q, %q) = %q, %v; want %q, %v", tt.root, tt.p, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPodCgroup(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"/init": "/", "/pod/init": "/pod", "/pod": "/pod", "/": "/", "/initx": "/initx"} {
		if got := podCgroup(in); got != want {
			t.Errorf("podCgroup(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzBelow: whatever the paths, a cgroup reported below root joins back to
// itself and never climbs out.
func FuzzBelow(f *testing.F) {
	for _, s := range [][2]string{{"/", "/docker/x"}, {"/pod", "/pod/init"}, {"/", "/../x"}, {"/pod", "/pod//x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, root, p string) {
		rel, ok := below(root, p)
		if !ok {
			return
		}
		if strings.Contains("/"+rel+"/", "/../") {
			t.Errorf("below(%q, %q) = %q: climbs", root, p, rel)
		}
		if rel != "" && strings.TrimSuffix(root, "/")+"/"+rel != p {
			t.Errorf("below(%q, %q) = %q: does not join back", root, p, rel)
		}
	})
}

// TestCgroupsWithoutDocker: with no Docker API, every cgroup under the pod
// is listed with its processes, host path and cgroup ID, and the
// containerd task's cgroup is among them.
func TestCgroupsWithoutDocker(t *testing.T) {
	t.Parallel()
	r, err := runPod().checker(t, "1").Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	host := "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab12.scope"
	want := []Cgroup{
		{Path: "/", HostPath: host, CgroupID: 1, Processes: []Process{}},
		{Path: "/default", HostPath: host + "/default", CgroupID: 7600, Processes: []Process{}},
		{Path: "/default/web", HostPath: host + "/default/web", CgroupID: 7601, Processes: []Process{{PID: 120, Comm: "sh"}}},
		{Path: "/init", HostPath: host + "/init", CgroupID: 7412,
			Processes: []Process{{PID: 1, Comm: "envbox"}, {PID: 57, Comm: "containerd"}, {PID: 80, Comm: "containerd-shim"}}},
	}
	if !reflect.DeepEqual(r.Cgroups, want) {
		t.Errorf("cgroups:\n%+v\nwant:\n%+v", r.Cgroups, want)
	}
	if len(r.Outside) != 0 || len(r.Offenders) != 0 {
		t.Errorf("outside %+v, offenders %q; want none", r.Outside, r.Offenders)
	}
}

func TestParseStatPPid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     int
		wantErr  string
	}{
		// statRT-like lines as the kernel writes them (see dind's facts_test.go).
		{name: "plain", in: "23472 (sleep) S 23470 23470 1044 0 -1\n", want: 23470},
		{name: "blank_and_paren_in_comm", in: "77 (a) b (c)) R 1 77 77 0\n", want: 1},
		{name: "init", in: statEnvbox, want: 0},
		{name: "no_paren", in: "80 containerd S 1", wantErr: `stat "80 containerd S 1": no ")" after the command`},
		{name: "truncated", in: "80 (x) S", wantErr: `stat "80 (x) S": no parent pid field`},
		{name: "not_a_number", in: "80 (x) S one", wantErr: `stat "80 (x) S one": parent pid "one" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseStatPPid(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("parseStatPPid(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseStatPPid(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzParseStatPPid: no panic, and an error names its input.
func FuzzParseStatPPid(f *testing.F) {
	for _, s := range []string{"23472 (sleep) S 23470 23470", "77 (a) b (c)) R 1 77", "80 (x) S", "80 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if _, err := parseStatPPid(in); err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", short(in))) {
			t.Errorf("parseStatPPid(%q) error %q does not name the input", in, err)
		}
	})
}
