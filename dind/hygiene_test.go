package dind

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/afero"
)

func TestRemoveStalePIDFiles(t *testing.T) {
	t.Parallel()
	fsys := writeFiles(t, map[string]string{
		"/run/docker.pid":                   "123",
		"/run/docker/containerd/Docker.PID": "124",
		"/run/dockerd-rootless.pid":         "125",
		"/run/containerd.pid":               "126",
		"/run/docker.sock.keep":             "",
	})
	removed, err := RemoveStalePIDFiles(fsys, "/run", "/var/run")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/run/docker/containerd/Docker.PID", "/run/docker.pid", "/run/dockerd-rootless.pid"}
	if !slices.Equal(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	for _, keep := range []string{"/run/containerd.pid", "/run/docker.sock.keep"} {
		if ok, _ := afero.Exists(fsys, keep); !ok {
			t.Errorf("%s was removed", keep)
		}
	}
}

type fakeMounter struct {
	mounted map[string]bool
	failOn  string
	calls   []string
}

func (f *fakeMounter) IsMountPoint(p string) (bool, error) { return f.mounted[p], nil }

func (f *fakeMounter) Mount(source, target, fstype string, flags uintptr, data string) error {
	call := fmt.Sprintf("mount(%q, %q, %q, %#x, %q)", source, target, fstype, flags, data)
	f.calls = append(f.calls, call)
	if target == f.failOn {
		return errors.New("operation not permitted")
	}
	return nil
}

func TestSetupMounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		dirs      []string
		mounted   map[string]bool
		failOn    string
		wantCalls []string
		wantDone  []string
		wantErr   string
	}{
		{
			name: "bare_container",
			dirs: []string{"/sys/kernel/security", "/tmp"},
			wantCalls: []string{
				`mount("none", "/sys/kernel/security", "securityfs", 0x0, "")`,
				`mount("none", "/tmp", "tmpfs", 0x0, "")`,
				`mount("", "/", "", 0x104000, "")`,
			},
			wantDone: []string{"mounted securityfs on /sys/kernel/security", "mounted tmpfs on /tmp", "made / rshared"},
		},
		{
			name:      "already_mounted_or_absent",
			dirs:      []string{"/tmp"},
			mounted:   map[string]bool{"/tmp": true},
			wantCalls: []string{`mount("", "/", "", 0x104000, "")`},
			wantDone:  []string{"made / rshared"},
		},
		{
			name:      "securityfs_refused",
			dirs:      []string{"/sys/kernel/security", "/tmp"},
			failOn:    "/sys/kernel/security",
			wantCalls: []string{`mount("none", "/sys/kernel/security", "securityfs", 0x0, "")`},
			wantErr:   "mount -t securityfs none /sys/kernel/security: operation not permitted",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := afero.NewMemMapFs()
			for _, d := range tt.dirs {
				_ = fsys.MkdirAll(d, 0o755)
			}
			m := &fakeMounter{mounted: tt.mounted, failOn: tt.failOn}
			done, err := SetupMounts(m, fsys)
			if (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
				t.Fatalf("SetupMounts error = %v, want %q", err, tt.wantErr)
			}
			if !slices.Equal(m.calls, tt.wantCalls) {
				t.Errorf("calls =\n%q\nwant\n%q", m.calls, tt.wantCalls)
			}
			if err == nil && !slices.Equal(done, tt.wantDone) {
				t.Errorf("done = %q, want %q", done, tt.wantDone)
			}
		})
	}
}

func TestChooseIPTables(t *testing.T) {
	t.Parallel()
	one, empty := "1", ""
	tests := []struct {
		name     string
		files    map[string]string
		override *string
		working  []string
		want     IPTablesChoice
	}{
		{name: "override_legacy", override: &one, working: []string{"iptables"}, want: IPTablesChoice{Legacy: true, Reason: `DOCKER_IPTABLES_LEGACY="1"`}},
		{name: "override_nft", override: &empty, files: map[string]string{"/proc/net/ip_tables_names": "filter\n"}, want: IPTablesChoice{Reason: `DOCKER_IPTABLES_LEGACY=""`}},
		{name: "legacy_rules_exist", files: map[string]string{"/proc/net/ip_tables_names": "nat\nfilter\n"}, working: []string{"iptables"}, want: IPTablesChoice{Legacy: true, Reason: "legacy rules exist (/proc/net/ip_tables_names)"}},
		{name: "empty_tables_nft_works", files: map[string]string{"/proc/net/ip_tables_names": ""}, working: []string{"iptables", "iptables-legacy"}, want: IPTablesChoice{Reason: "no legacy rules; iptables works"}},
		{name: "nft_broken_legacy_works", working: []string{"iptables-legacy"}, want: IPTablesChoice{Legacy: true, Reason: "iptables -nL fails, iptables-legacy -nL works"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			works := func(bin string) bool { return slices.Contains(tt.working, bin) }
			if got := ChooseIPTables(writeFiles(t, tt.files), tt.override, works); got != tt.want {
				t.Errorf("ChooseIPTables = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLegacyIPTablesDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "iptables-legacy")
	look := func(name string) (string, error) {
		if name == "ip6tables-restore-legacy" {
			return "", errors.New("not found")
		}
		return "/usr/sbin/xtables-legacy-multi/" + name, nil
	}
	if err := LegacyIPTablesDir(afero.NewOsFs(), dir, look); err != nil {
		t.Fatal(err)
	}
	// Twice: a restarted envbox finds the links already there.
	if err := LegacyIPTablesDir(afero.NewOsFs(), dir, look); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"iptables":         "/usr/sbin/xtables-legacy-multi/iptables-legacy",
		"iptables-save":    "/usr/sbin/xtables-legacy-multi/iptables-save-legacy",
		"iptables-restore": "/usr/sbin/xtables-legacy-multi/iptables-restore-legacy",
		"ip6tables":        "/usr/sbin/xtables-legacy-multi/ip6tables-legacy",
		"ip6tables-save":   "/usr/sbin/xtables-legacy-multi/ip6tables-save-legacy",
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(want) {
		t.Errorf("%d entries in %s, want %d", len(entries), dir, len(want))
	}
	for name, target := range want {
		got, err := os.Readlink(filepath.Join(dir, name))
		if err != nil || got != target {
			t.Errorf("readlink %s = %q, %v; want %q", name, got, err, target)
		}
	}
	err := LegacyIPTablesDir(afero.NewOsFs(), dir, func(string) (string, error) { return "", errors.New("not found") })
	if err == nil || err.Error() != "legacy iptables requested but iptables-legacy not found: not found" {
		t.Errorf("missing iptables-legacy: %v", err)
	}
}
