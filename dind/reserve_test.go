package dind

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

func TestParseAmount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		bytes bool
		want  Amount
		str   string
	}{
		{"auto", "auto", true, Amount{Auto: true}, "auto"},
		{"zero_disables", "0", true, Amount{}, "0"},
		{"bytes", "134217728", true, Amount{N: 134217728}, "134217728"},
		{"kibibytes", "512Ki", true, Amount{N: 524288}, "524288"},
		{"mebibytes", "192Mi", true, Amount{N: 201326592}, "201326592"},
		{"gibibytes", "2Gi", true, Amount{N: 2147483648}, "2147483648"},
		{"tebibytes_at_bound", "1024Ti", true, Amount{N: 1125899906842624}, "1125899906842624"},
		{"percent", "10%", true, Amount{Percent: 10}, "10%"},
		{"percent_max", "90%", false, Amount{Percent: 90}, "90%"},
		{"pids", "64", false, Amount{N: 64}, "64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAmount(tt.in, tt.bytes)
			if err != nil || got != tt.want || got.String() != tt.str {
				t.Errorf("ParseAmount(%q, %v) = %+v (%q), %v; want %+v (%q)", tt.in, tt.bytes, got, got.String(), err, tt.want, tt.str)
			}
		})
	}
}

func TestParseAmountBad(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in    string
		bytes bool
	}{
		{"", true}, {"-1", true}, {"1.5", true}, {"+5", true}, {"007", true}, {"1e9", true},
		{"0%", true}, {"91%", true}, {"100%", false}, {"5.5%", true}, {"%", true}, {"-5%", true},
		{"64Mi", false}, {"64M", true}, {"64MB", true}, {"Mi", true}, {"1025Ti", true},
		{"1125899906842625", true}, {"9223372036854775807", false}, {"99999999999999999999", true},
		{"AUTO", true}, {" 5", true}, {"5 ", false},
	} {
		if got, err := ParseAmount(tt.in, tt.bytes); err == nil {
			t.Errorf("ParseAmount(%q, %v) = %+v, want an error", tt.in, tt.bytes, got)
		} else if !strings.HasPrefix(err.Error(), `want "auto", a percentage from 1% to 90%, 0 (off) or a whole number`) {
			t.Errorf("ParseAmount(%q) error %q does not say what is wanted", tt.in, err)
		}
	}
}

func TestReserveFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{EnvReserveMemory: "256Mi", EnvReservePids: "0"}
	got, err := ReserveFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	want := Reserve{Memory: Amount{N: 268435456}, Pids: Amount{}}
	if err != nil || got != want {
		t.Errorf("ReserveFromEnv(%v) = %+v, %v; want %+v", env, got, err, want)
	}
	got, err = ReserveFromEnv(func(string) (string, bool) { return "", false })
	if err != nil || got != DefaultReserve {
		t.Errorf("ReserveFromEnv(unset) = %+v, %v; want %+v", got, err, DefaultReserve)
	}
	_, err = ReserveFromEnv(func(k string) (string, bool) { return "lots", k == EnvReservePids })
	if err == nil || !strings.HasPrefix(err.Error(), `parse ENVBOX_RESERVE_PIDS="lots": want`) {
		t.Errorf("ReserveFromEnv(pids=lots) error = %v, want one naming ENVBOX_RESERVE_PIDS", err)
	}
	if got := (Reserve{Memory: Amount{N: 5}, Pids: Amount{Percent: 7}}).Env(); strings.Join(got, " ") != "ENVBOX_RESERVE_MEMORY=5 ENVBOX_RESERVE_PIDS=7%" {
		t.Errorf("Env() = %q", got)
	}
	if got := (Reserve{Memory: Amount{Auto: true}, Pids: Amount{}, Parent: "/kubepods"}).Env(); strings.Join(got, " ") !=
		"ENVBOX_RESERVE_MEMORY=auto ENVBOX_RESERVE_PIDS=0 ENVBOX_RESERVE_PARENT=/kubepods" {
		t.Errorf("Env() with a parent = %q", got)
	}
	env = map[string]string{EnvReserveParent: "/default"}
	got, err = ReserveFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if want := (Reserve{Memory: Amount{Auto: true}, Pids: Amount{Auto: true}, Parent: "/default"}); err != nil || got != want {
		t.Errorf("ReserveFromEnv(%v) = %+v, %v; want %+v", env, got, err, want)
	}
	for v, wantErr := range map[string]string{
		"kubepods":       `parse ENVBOX_RESERVE_PARENT: cgroup parent "kubepods": want a clean absolute path`,
		"/kubepods/":     `parse ENVBOX_RESERVE_PARENT: cgroup parent "/kubepods/": want a clean absolute path`,
		"/a/../kubepods": `parse ENVBOX_RESERVE_PARENT: cgroup parent "/a/../kubepods": want a clean absolute path`,
		"/":              `parse ENVBOX_RESERVE_PARENT: cgroup parent "/" is the root or envbox's own /init`,
		"/init":          `parse ENVBOX_RESERVE_PARENT: cgroup parent "/init" is the root or envbox's own /init`,
		"/init/kubepods": `parse ENVBOX_RESERVE_PARENT: cgroup parent "/init/kubepods" is the root or envbox's own /init`,
	} {
		_, err := ReserveFromEnv(func(k string) (string, bool) { return v, k == EnvReserveParent })
		if err == nil || err.Error() != wantErr {
			t.Errorf("ReserveFromEnv(parent=%q) error = %v, want %q", v, err, wantErr)
		}
	}
}

func TestPlanCgroupReserve(t *testing.T) {
	t.Parallel()
	const mi = 1 << 20
	tests := []struct {
		name         string
		mem, pids    int64
		r            Reserve
		wantM, wantP LimitPlan
	}{
		{name: "default_512Mi_256_pids", mem: 512 * mi, pids: 256, r: DefaultReserve,
			wantM: LimitPlan{File: "memory.max", Pod: 536870912, Reserve: 201326592, Value: 335544320},
			wantP: LimitPlan{File: "pids.max", Pod: 256, Reserve: 128, Value: 128}},
		{name: "default_percent_wins_on_big_pods", mem: 4 << 30, pids: 4000, r: DefaultReserve,
			wantM: LimitPlan{File: "memory.max", Pod: 4294967296, Reserve: 429496720, Value: 3865470576},
			wantP: LimitPlan{File: "pids.max", Pod: 4000, Reserve: 200, Value: 3800}},
		{name: "default_capped", mem: 64 << 30, pids: 1 << 20, r: DefaultReserve,
			wantM: LimitPlan{File: "memory.max", Pod: 68719476736, Reserve: 1073741824, Value: 67645734912},
			wantP: LimitPlan{File: "pids.max", Pod: 1048576, Reserve: 1024, Value: 1047552}},
		{name: "default_never_more_than_half_of_a_tiny_pod", mem: 100 * mi, pids: 50, r: DefaultReserve,
			wantM: LimitPlan{File: "memory.max", Pod: 104857600, Reserve: 52428800, Value: 52428800},
			wantP: LimitPlan{File: "pids.max", Pod: 50, Reserve: 25, Value: 25}},
		{name: "default_pod_of_one", mem: 1, pids: 1, r: DefaultReserve,
			wantM: LimitPlan{File: "memory.max", Pod: 1, Skip: "the reserve 0 leaves nothing of the pod's 1"},
			wantP: LimitPlan{File: "pids.max", Pod: 1, Skip: "the reserve 0 leaves nothing of the pod's 1"}},
		{name: "unlimited", mem: Unlimited, pids: Unlimited, r: DefaultReserve,
			wantM: LimitPlan{File: "memory.max", Pod: -1, Skip: "the pod has no limit (max)"},
			wantP: LimitPlan{File: "pids.max", Pod: -1, Skip: "the pod has no limit (max)"}},
		{name: "disabled", mem: 512 * mi, pids: 256, r: Reserve{},
			wantM: LimitPlan{File: "memory.max", Pod: 536870912, Skip: "reserve disabled (0)"},
			wantP: LimitPlan{File: "pids.max", Pod: 256, Skip: "reserve disabled (0)"}},
		{name: "explicit_exceeds_tiny_pod", mem: 64 * mi, pids: 32, r: Reserve{Memory: Amount{N: 128 * mi}, Pids: Amount{N: 32}},
			wantM: LimitPlan{File: "memory.max", Pod: 67108864, Reserve: 134217728, Skip: "the reserve 134217728 leaves nothing of the pod's 67108864"},
			wantP: LimitPlan{File: "pids.max", Pod: 32, Reserve: 32, Skip: "the reserve 32 leaves nothing of the pod's 32"}},
		{name: "explicit_percent", mem: 1000, pids: 1000, r: Reserve{Memory: Amount{Percent: 25}, Pids: Amount{Percent: 90}},
			wantM: LimitPlan{File: "memory.max", Pod: 1000, Reserve: 250, Value: 750},
			wantP: LimitPlan{File: "pids.max", Pod: 1000, Reserve: 900, Value: 100}},
		{name: "percent_of_small_pod_rounds_to_zero", mem: 50, pids: 99, r: Reserve{Memory: Amount{Percent: 10}, Pids: Amount{Percent: 1}},
			wantM: LimitPlan{File: "memory.max", Pod: 50, Skip: "the reserve 0 leaves nothing of the pod's 50"},
			wantP: LimitPlan{File: "pids.max", Pod: 99, Skip: "the reserve 0 leaves nothing of the pod's 99"}},
		{name: "huge_values", mem: 1<<62 - 1, pids: 4194304, r: Reserve{Memory: Amount{Percent: 90}, Pids: Amount{N: 1 << 50}},
			wantM: LimitPlan{File: "memory.max", Pod: 4611686018427387903, Reserve: 4150517416584649110, Value: 461168601842738793},
			wantP: LimitPlan{File: "pids.max", Pod: 4194304, Reserve: 1125899906842624, Skip: "the reserve 1125899906842624 leaves nothing of the pod's 4194304"}},
		{name: "negative_pod_is_refused", mem: -5, pids: 256, r: Reserve{Memory: Amount{Auto: true}},
			wantM: LimitPlan{File: "memory.max", Pod: -5, Skip: "the pod's limit -5 is not a limit"},
			wantP: LimitPlan{File: "pids.max", Pod: 256, Skip: "reserve disabled (0)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := PlanCgroupReserve(tt.mem, tt.pids, tt.r)
			if got.Memory != tt.wantM || got.Pids != tt.wantP {
				t.Errorf("PlanCgroupReserve(%d, %d, %+v) =\n%+v\n%+v\nwant\n%+v\n%+v", tt.mem, tt.pids, tt.r, got.Memory, got.Pids, tt.wantM, tt.wantP)
			}
		})
	}
}

func TestPlanString(t *testing.T) {
	t.Parallel()
	got := PlanCgroupReserve(512<<20, Unlimited, DefaultReserve).String()
	want := "memory.max 335544320 (pod 536870912 - reserve 201326592); pids.max not set: the pod has no limit (max)"
	if got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestCgroupParent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		argv    []string
		files   map[string]string
		want    string
		wantErr string
	}{
		{name: "default", argv: []string{"dockerd", "--host=unix:///var/run/docker.sock"}, want: "/docker"},
		{name: "flag_equals", argv: []string{"dockerd", "--cgroup-parent=/ci"}, want: "/ci"},
		{name: "flag_separate", argv: []string{"dockerd", "--cgroup-parent", "/ci/jobs/"}, want: "/ci/jobs"},
		{name: "daemon_json", argv: []string{"dockerd"}, files: map[string]string{"/etc/docker/daemon.json": `{"cgroup-parent": "/build"}`}, want: "/build"},
		{name: "flag_wins_over_json", argv: []string{"dockerd", "--cgroup-parent=/flag"}, files: map[string]string{"/etc/docker/daemon.json": `{"cgroup-parent": "/json"}`}, want: "/flag"},
		{name: "config_file_flag", argv: []string{"dockerd", "--config-file", "/cfg/d.json"}, files: map[string]string{"/cfg/d.json": `{"cgroup-parent": "/cfg", "exec-opts": ["native.cgroupdriver=cgroupfs"]}`}, want: "/cfg"},
		{name: "systemd_driver_flag", argv: []string{"dockerd", "--exec-opt", "native.cgroupdriver=systemd"},
			wantErr: `no headroom reserve: cgroup driver "systemd": only cgroupfs parents are known before dockerd starts`},
		{name: "systemd_driver_json", argv: []string{"dockerd"}, files: map[string]string{"/etc/docker/daemon.json": `{"exec-opts": ["native.cgroupdriver=systemd"]}`},
			wantErr: `no headroom reserve: cgroup driver "systemd": only cgroupfs parents are known before dockerd starts`},
		{name: "relative_parent", argv: []string{"dockerd", "--cgroup-parent=ci"},
			wantErr: `no headroom reserve: relative cgroup parent "ci": runc places it under its own cgroup`},
		{name: "root_parent", argv: []string{"dockerd", "--cgroup-parent=/"},
			wantErr: `no headroom reserve: cgroup parent "/" is the root or envbox's own /init`},
		{name: "init_parent", argv: []string{"dockerd", "--cgroup-parent=/init/x"},
			wantErr: `no headroom reserve: cgroup parent "/init/x" is the root or envbox's own /init`},
		// dockerd starts with an empty daemon.json, and with one that
		// begins with a UTF-8 byte order mark (an editor's on Windows).
		{name: "empty_json", argv: []string{"dockerd"}, files: map[string]string{"/etc/docker/daemon.json": " \n"}, want: "/docker"},
		{name: "bom_json", argv: []string{"dockerd"}, files: map[string]string{"/etc/docker/daemon.json": "\ufeff{\"cgroup-parent\": \"/bom\"}\n"}, want: "/bom"},
		{name: "bad_json", argv: []string{"dockerd"}, files: map[string]string{"/etc/docker/daemon.json": `{`},
			wantErr: "no headroom reserve: parse /etc/docker/daemon.json: unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := afero.NewMemMapFs()
			for p, c := range tt.files {
				if err := afero.WriteFile(fsys, p, []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := CgroupParent(fsys, tt.argv)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrNoReserve) {
					t.Errorf("CgroupParent(%q) = %q, %v; want error %q", tt.argv, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("CgroupParent(%q) = %q, %v; want %q", tt.argv, got, err, tt.want)
			}
		})
	}
}

// podFs is a delegated namespace root as the guest kernel shows it after
// delegate.sh: every controller offered and enabled, /init present.
func podFs(t *testing.T, memMax, pidsMax string) afero.Fs {
	t.Helper()
	fsys := afero.NewMemMapFs()
	ctl := "cpuset cpu io memory hugetlb pids rdma misc\n"
	for p, c := range map[string]string{
		"/sys/fs/cgroup/cgroup.controllers":     ctl,
		"/sys/fs/cgroup/cgroup.subtree_control": ctl,
		"/sys/fs/cgroup/memory.max":             memMax,
		"/sys/fs/cgroup/pids.max":               pidsMax,
		"/sys/fs/cgroup/init/cgroup.procs":      "1\n",
	} {
		if err := afero.WriteFile(fsys, p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fsys
}

// kernelDir adds what the kernel puts in a new child of a cgroup with
// every controller enabled.
func kernelDir(t *testing.T, fsys afero.Fs, dir string) {
	t.Helper()
	for f, c := range map[string]string{
		"cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n", "cgroup.subtree_control": "",
		"memory.max": "max\n", "pids.max": "max\n",
	} {
		if err := afero.WriteFile(fsys, dir+"/"+f, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, fsys afero.Fs, p string) string {
	t.Helper()
	b, err := afero.ReadFile(fsys, p)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// wantFiles checks that each file of want holds exactly its data.
func wantFiles(t *testing.T, fsys afero.Fs, want map[string]string) {
	t.Helper()
	for p, data := range want {
		if got := readFile(t, fsys, p); got != data {
			t.Errorf("%s = %q, want %q", p, got, data)
		}
	}
}

func TestApplyReserve(t *testing.T) {
	t.Parallel()
	fsys := podFs(t, "536870912\n", "256\n")
	// MemMapFs does not make a cgroup's files on mkdir: the kernel's are
	// put there first, as an existing /docker (a restart) has them.
	kernelDir(t, fsys, "/sys/fs/cgroup/docker")
	what, err := ApplyReserve(fsys, "/sys/fs/cgroup", []string{"dockerd", "--host=unix:///var/run/docker.sock"}, DefaultReserve)
	if err != nil {
		t.Fatalf("ApplyReserve: %v", err)
	}
	wantWhat := "headroom reserve in /docker: memory.max 335544320 (pod 536870912 - reserve 201326592); pids.max 128 (pod 256 - reserve 128)"
	if what != wantWhat {
		t.Errorf("ApplyReserve text = %q, want %q", what, wantWhat)
	}
	wantFiles(t, fsys, map[string]string{
		"/sys/fs/cgroup/docker/memory.max":             "335544320",
		"/sys/fs/cgroup/docker/pids.max":               "128",
		"/sys/fs/cgroup/docker/cgroup.subtree_control": "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc",
		"/sys/fs/cgroup/memory.max":                    "536870912\n",
		"/sys/fs/cgroup/cgroup.subtree_control":        "cpuset cpu io memory hugetlb pids rdma misc\n",
	})
}

// TestApplyReserveExplicitParent: a parent given (envbox run
// --cgroup-parent) is used as it is, created with every controller
// enabled down to it: neither CMD's argv nor a daemon.json is read, even
// when they look like dockerd's.
func TestApplyReserveExplicitParent(t *testing.T) {
	t.Parallel()
	fsys := podFs(t, "1073741824\n", "4096\n")
	kernelDir(t, fsys, "/sys/fs/cgroup/kubepods")
	kernelDir(t, fsys, "/sys/fs/cgroup/kubepods/burstable")
	_ = afero.WriteFile(fsys, "/etc/docker/daemon.json", []byte("not json"), 0o644)
	r := Reserve{Memory: Amount{N: 256 << 20}, Pids: Amount{Percent: 10}, Parent: "/kubepods/burstable"}
	argv := []string{"kubelet", "--cgroup-parent=/elsewhere", "--exec-opt", "native.cgroupdriver=systemd"}
	what, err := ApplyReserve(fsys, "/sys/fs/cgroup", argv, r)
	if err != nil {
		t.Fatalf("ApplyReserve: %v", err)
	}
	wantWhat := "headroom reserve in /kubepods/burstable: memory.max 805306368 (pod 1073741824 - reserve 268435456); pids.max 3696 (pod 4096 - reserve 400)"
	if what != wantWhat {
		t.Errorf("ApplyReserve text = %q, want %q", what, wantWhat)
	}
	wantFiles(t, fsys, map[string]string{
		"/sys/fs/cgroup/kubepods/burstable/memory.max":             "805306368",
		"/sys/fs/cgroup/kubepods/burstable/pids.max":               "3696",
		"/sys/fs/cgroup/kubepods/memory.max":                       "max\n",
		"/sys/fs/cgroup/kubepods/cgroup.subtree_control":           "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc",
		"/sys/fs/cgroup/kubepods/burstable/cgroup.subtree_control": "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc",
	})
	if ok, _ := afero.DirExists(fsys, "/sys/fs/cgroup/elsewhere"); ok {
		t.Error("ApplyReserve made /elsewhere from CMD's argv")
	}
}

func TestApplyCgroupReserveNested(t *testing.T) {
	t.Parallel()
	fsys := podFs(t, "max\n", "1000\n")
	kernelDir(t, fsys, "/sys/fs/cgroup/ci")
	kernelDir(t, fsys, "/sys/fs/cgroup/ci/jobs")
	plan := PlanCgroupReserve(Unlimited, 1000, Reserve{Pids: Amount{N: 100}})
	if err := ApplyCgroupReserve(fsys, "/sys/fs/cgroup", "/ci/jobs", plan); err != nil {
		t.Fatalf("ApplyCgroupReserve: %v", err)
	}
	wantFiles(t, fsys, map[string]string{
		"/sys/fs/cgroup/ci/jobs/pids.max":               "900",
		"/sys/fs/cgroup/ci/jobs/memory.max":             "max\n",
		"/sys/fs/cgroup/ci/pids.max":                    "max\n",
		"/sys/fs/cgroup/ci/cgroup.subtree_control":      "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc",
		"/sys/fs/cgroup/ci/jobs/cgroup.subtree_control": "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc",
	})
}

func TestApplyReserveNothingDone(t *testing.T) {
	t.Parallel()
	v1 := afero.NewMemMapFs() // cgroup v1 or hybrid: no cgroup.controllers at the root
	_ = afero.WriteFile(v1, "/sys/fs/cgroup/memory/memory.limit_in_bytes", []byte("536870912\n"), 0o644)
	undelegated := podFs(t, "536870912\n", "256\n")
	_ = afero.WriteFile(undelegated, "/sys/fs/cgroup/cgroup.subtree_control", []byte("\n"), 0o644)
	pidsOnly := podFs(t, "536870912\n", "256\n")
	_ = afero.WriteFile(pidsOnly, "/sys/fs/cgroup/cgroup.subtree_control", []byte("pids\n"), 0o644)
	tests := []struct {
		name    string
		fsys    afero.Fs
		r       Reserve
		wantErr string
	}{
		{"v1_or_hybrid", v1, DefaultReserve, "no headroom reserve: no cgroup v2 at /sys/fs/cgroup (v1 or hybrid host)"},
		{"no_controllers_delegated", undelegated, DefaultReserve,
			`no headroom reserve: controller memory not enabled in /sys/fs/cgroup/cgroup.subtree_control (enabled: "")`},
		{"memory_not_delegated", pidsOnly, DefaultReserve,
			`no headroom reserve: controller memory not enabled in /sys/fs/cgroup/cgroup.subtree_control (enabled: "pids")`},
		{"systemd_driver", podFs(t, "536870912\n", "256\n"), DefaultReserve,
			`no headroom reserve: cgroup driver "systemd": only cgroupfs parents are known before dockerd starts`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			argv := []string{"dockerd"}
			if tt.name == "systemd_driver" {
				argv = append(argv, "--exec-opt=native.cgroupdriver=systemd")
			}
			_, err := ApplyReserve(tt.fsys, "/sys/fs/cgroup", argv, tt.r)
			if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrNoReserve) {
				t.Errorf("ApplyReserve = %v, want %q", err, tt.wantErr)
			}
			if ok, _ := afero.DirExists(tt.fsys, "/sys/fs/cgroup/docker"); ok {
				t.Errorf("/sys/fs/cgroup/docker was created")
			}
		})
	}
}

func TestApplyReserveDisabledOrUnlimitedWritesNothing(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		mem, pid string
		r        Reserve
	}{
		{"disabled", "536870912\n", "256\n", Reserve{}},
		{"unlimited", "max\n", "max\n", DefaultReserve},
	} {
		fsys := podFs(t, tt.mem, tt.pid)
		if _, err := ApplyReserve(fsys, "/sys/fs/cgroup", []string{"dockerd"}, tt.r); err != nil {
			t.Errorf("%s: ApplyReserve: %v", tt.name, err)
		}
		if ok, _ := afero.DirExists(fsys, "/sys/fs/cgroup/docker"); ok {
			t.Errorf("%s: /sys/fs/cgroup/docker was created", tt.name)
		}
	}
}

func TestApplyReserveBadPodFiles(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		mem, pids, wantErr string
	}{
		{"lots\n", "256\n", `parse /sys/fs/cgroup/memory.max "lots\n": want "max" or a whole number`},
		{"536870912\n", "-1\n", `parse /sys/fs/cgroup/pids.max "-1\n": want "max" or a whole number`},
		{"", "256\n", `parse /sys/fs/cgroup/memory.max "": want "max" or a whole number`},
	} {
		fsys := podFs(t, tt.mem, tt.pids)
		_, err := ApplyReserve(fsys, "/sys/fs/cgroup", []string{"dockerd"}, DefaultReserve)
		if err == nil || err.Error() != tt.wantErr {
			t.Errorf("ApplyReserve(memory.max %q, pids.max %q) = %v, want %q", tt.mem, tt.pids, err, tt.wantErr)
		}
	}
}

func TestApplyCgroupReserveWriteFails(t *testing.T) {
	t.Parallel()
	plan := PlanCgroupReserve(536870912, 256, DefaultReserve)
	fsys := podFs(t, "536870912\n", "256\n")
	// A read-only filesystem stands for a kernel that refuses the mkdir.
	err := ApplyCgroupReserve(afero.NewReadOnlyFs(fsys), "/sys/fs/cgroup", "/docker", plan)
	want := "mkdir /sys/fs/cgroup/docker: operation not permitted"
	if err == nil || err.Error() != want {
		t.Errorf("ApplyCgroupReserve on a read-only fs = %v, want %q", err, want)
	}
	// A limit file missing stands for a controller the kernel did not give.
	kernelDir(t, fsys, "/sys/fs/cgroup/docker")
	if err := fsys.Remove("/sys/fs/cgroup/docker/pids.max"); err != nil {
		t.Fatal(err)
	}
	err = ApplyCgroupReserve(fsys, "/sys/fs/cgroup", "/docker", plan)
	want = `write "128" to /sys/fs/cgroup/docker/pids.max: open /sys/fs/cgroup/docker/pids.max: file does not exist`
	if err == nil || err.Error() != want {
		t.Errorf("ApplyCgroupReserve without pids.max = %v, want %q", err, want)
	}
	if got := readFile(t, fsys, "/sys/fs/cgroup/docker/memory.max"); got != "335544320" {
		t.Errorf("memory.max = %q, want 335544320 (written before pids.max)", got)
	}
}
