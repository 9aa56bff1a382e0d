package xunix

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/spf13/afero"
)

func TestParseCPUMax(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    CPUQuota
		wantCPU float64
		wantErr string
	}{
		{name: "default_max", in: v2CPUMaxDefault, want: CPUQuota{Quota: -1, Period: 100000, Unlimited: true}, wantCPU: 0},
		{name: "half_cpu", in: v2CPUMaxHalf, want: CPUQuota{Quota: 50000, Period: 100000}, wantCPU: 0.5},
		{name: "two_and_a_half_cpus_short_period", in: "125000 50000\n", want: CPUQuota{Quota: 125000, Period: 50000}, wantCPU: 2.5},
		{name: "no_trailing_newline", in: "50000 100000", want: CPUQuota{Quota: 50000, Period: 100000}, wantCPU: 0.5},
		{name: "empty", in: "", wantErr: `parse line 1 "": empty`},
		{name: "newline_only", in: "\n", wantErr: `parse line 1 "\n": empty`},
		{name: "quota_only", in: "max\n", wantErr: `parse line 1 "max": want "$MAX $PERIOD"`},
		{name: "two_lines", in: "max 100000\nmax 100000\n", wantErr: `parse "max 100000\nmax 100000\n": want one line`},
		{name: "zero_quota", in: "0 100000\n", wantErr: `parse line 1 "0 100000": quota (a number or "max"): "0" is not a positive integer`},
		{name: "negative_quota", in: "-1 100000\n", wantErr: `parse line 1 "-1 100000": quota (a number or "max"): "-1" is not a positive integer`},
		{name: "word_quota", in: "unlimited 100000\n", wantErr: `parse line 1 "unlimited 100000": quota (a number or "max"): strconv.ParseInt: parsing "unlimited": invalid syntax`},
		{name: "max_period", in: "max max\n", wantErr: `parse line 1 "max max": period: strconv.ParseInt: parsing "max": invalid syntax`},
		{name: "extra_field", in: "50000 100000 1\n", wantErr: `parse line 1 "50000 100000 1": period: strconv.ParseInt: parsing "100000 1": invalid syntax`},
		{name: "leading_zero", in: "050000 100000\n", wantErr: `parse line 1 "050000 100000": quota (a number or "max"): "050000" is not a positive integer`},
		{name: "overflow", in: "99999999999999999999 100000\n", wantErr: `parse line 1 "99999999999999999999 100000": quota (a number or "max"): strconv.ParseInt: parsing "99999999999999999999": value out of range`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseCPUMax(tt.in)
			checkErr(t, "parseCPUMax", tt.in, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("parseCPUMax(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if c := got.CPUs(); c != tt.wantCPU {
				t.Errorf("parseCPUMax(%q).CPUs() = %v, want %v", tt.in, c, tt.wantCPU)
			}
		})
	}
}

func TestParseCFS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		quota, period string
		want          CPUQuota
		wantCPU       float64
		wantErr       string
	}{
		{name: "default_unlimited", quota: v1CFSQuotaDefault, period: v1CFSPeriodDefault, want: CPUQuota{Quota: -1, Period: 100000, Unlimited: true}},
		{name: "one_and_a_half", quota: "150000\n", period: "100000\n", want: CPUQuota{Quota: 150000, Period: 100000}, wantCPU: 1.5},
		{name: "quota_empty", quota: "", period: "100000\n", wantErr: `parse line 1 "": empty`},
		{name: "quota_minus_two", quota: "-2\n", period: "100000\n", wantErr: `parse line 1 "-2": cfs quota (-1 or positive): "-2" is not a positive integer`},
		{name: "quota_zero", quota: "0\n", period: "100000\n", wantErr: `parse line 1 "0": cfs quota (-1 or positive): "0" is not a positive integer`},
		{name: "quota_max_is_v2_syntax", quota: "max\n", period: "100000\n", wantErr: `parse line 1 "max": cfs quota (-1 or positive): strconv.ParseInt: parsing "max": invalid syntax`},
		{name: "period_zero", quota: "-1\n", period: "0\n", wantErr: `parse line 1 "0": cfs period: "0" is not a positive integer`},
		{name: "period_minus_one", quota: "50000\n", period: "-1\n", wantErr: `parse line 1 "-1": cfs period: "-1" is not a positive integer`},
		{name: "period_garbage", quota: "50000\n", period: "\x00\n", wantErr: `parse line 1 "\x00": cfs period: strconv.ParseInt: parsing "\x00": invalid syntax`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseCFS(tt.quota, tt.period)
			checkErr(t, "parseCFS", tt.quota+"|"+tt.period, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("parseCFS(%q, %q) = %+v, want %+v", tt.quota, tt.period, got, tt.want)
			}
			if c := got.CPUs(); c != tt.wantCPU {
				t.Errorf("parseCFS(%q, %q).CPUs() = %v, want %v", tt.quota, tt.period, c, tt.wantCPU)
			}
		})
	}
}

func TestReadCPUQuotaV2(t *testing.T) {
	t.Parallel()
	const own = "/sys/fs/cgroup/kubepods/pod1/ctr"
	tests := []struct {
		name    string
		files   map[string]string
		fsys    func(afero.Fs) afero.Fs
		dir     string
		want    CPUQuota
		wantErr string
		wantIs  error
	}{
		{
			name:  "own_cgroup",
			files: map[string]string{own + "/cpu.max": v2CPUMaxHalf, "/sys/fs/cgroup/cpu.max": v2CPUMaxDefault},
			dir:   own,
			want:  CPUQuota{Quota: 50000, Period: 100000, Source: own + "/cpu.max"},
		},
		{
			name:  "own_missing_falls_back_to_namespace_root",
			files: map[string]string{"/sys/fs/cgroup/cpu.max": v2CPUMaxHalf},
			dir:   own,
			want:  CPUQuota{Quota: 50000, Period: 100000, Source: "/sys/fs/cgroup/cpu.max"},
		},
		{
			name:    "own_garbage_is_not_hidden_by_fallback",
			files:   map[string]string{own + "/cpu.max": "max\n", "/sys/fs/cgroup/cpu.max": v2CPUMaxHalf},
			dir:     own,
			wantErr: `parse /sys/fs/cgroup/kubepods/pod1/ctr/cpu.max line 1 "max": want "$MAX $PERIOD"`,
		},
		{
			name:    "own_unreadable_is_not_hidden_by_fallback",
			files:   map[string]string{own + "/cpu.max": v2CPUMaxDefault, "/sys/fs/cgroup/cpu.max": v2CPUMaxHalf},
			fsys:    func(f afero.Fs) afero.Fs { return denyFs{f} },
			dir:     own,
			wantErr: "open /sys/fs/cgroup/kubepods/pod1/ctr/cpu.max: permission denied",
			wantIs:  fs.ErrPermission,
		},
		{
			name:    "both_missing_wraps_both",
			files:   map[string]string{},
			dir:     own,
			wantErr: "read cpu.max: own cgroup: open /sys/fs/cgroup/kubepods/pod1/ctr/cpu.max: file does not exist; namespace root: open /sys/fs/cgroup/cpu.max: file does not exist",
			wantIs:  fs.ErrNotExist,
		},
		{
			name:    "root_garbage_after_fallback",
			files:   map[string]string{"/sys/fs/cgroup/cpu.max": "50000\n"},
			dir:     own,
			wantErr: `parse /sys/fs/cgroup/cpu.max line 1 "50000": want "$MAX $PERIOD"`,
		},
		{
			name:    "own_is_root_no_second_try",
			files:   map[string]string{},
			dir:     "/sys/fs/cgroup",
			wantErr: "open /sys/fs/cgroup/cpu.max: file does not exist",
			wantIs:  fs.ErrNotExist,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var fsys afero.Fs = afero.NewMemMapFs()
			writeFiles(t, fsys, tt.files)
			if tt.fsys != nil {
				fsys = tt.fsys(fsys)
			}
			got, err := ReadCPUQuotaV2(fsys, tt.dir)
			checkErr(t, "ReadCPUQuotaV2", tt.dir, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("ReadCPUQuotaV2(%s) = %+v, want %+v", tt.dir, got, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("ReadCPUQuotaV2(%s) error %v is not %v", tt.dir, err, tt.wantIs)
			}
		})
	}
}

func TestReadCPUQuotaV1(t *testing.T) {
	t.Parallel()
	const dir = "/sys/fs/cgroup/cpu"
	tests := []struct {
		name    string
		files   map[string]string
		want    CPUQuota
		wantErr string
	}{
		{
			name:  "unlimited",
			files: map[string]string{dir + "/cpu.cfs_quota_us": v1CFSQuotaDefault, dir + "/cpu.cfs_period_us": v1CFSPeriodDefault},
			want:  CPUQuota{Quota: -1, Period: 100000, Unlimited: true, Source: dir + "/cpu.cfs_quota_us"},
		},
		{
			name:  "two_cpus",
			files: map[string]string{dir + "/cpu.cfs_quota_us": "200000\n", dir + "/cpu.cfs_period_us": "100000\n"},
			want:  CPUQuota{Quota: 200000, Period: 100000, Source: dir + "/cpu.cfs_quota_us"},
		},
		{
			name:    "quota_missing",
			files:   map[string]string{dir + "/cpu.cfs_period_us": "100000\n"},
			wantErr: "open /sys/fs/cgroup/cpu/cpu.cfs_quota_us: file does not exist",
		},
		{
			name:    "period_missing",
			files:   map[string]string{dir + "/cpu.cfs_quota_us": "-1\n"},
			wantErr: "open /sys/fs/cgroup/cpu/cpu.cfs_period_us: file does not exist",
		},
		{
			name:    "quota_garbage_names_quota_file",
			files:   map[string]string{dir + "/cpu.cfs_quota_us": "lots\n", dir + "/cpu.cfs_period_us": "100000\n"},
			wantErr: `parse /sys/fs/cgroup/cpu/cpu.cfs_quota_us line 1 "lots": cfs quota (-1 or positive): strconv.ParseInt: parsing "lots": invalid syntax`,
		},
		{
			name:    "period_garbage_names_period_file",
			files:   map[string]string{dir + "/cpu.cfs_quota_us": "-1\n", dir + "/cpu.cfs_period_us": "0\n"},
			wantErr: `parse /sys/fs/cgroup/cpu/cpu.cfs_period_us line 1 "0": cfs period: "0" is not a positive integer`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := afero.NewMemMapFs()
			writeFiles(t, fsys, tt.files)
			got, err := ReadCPUQuotaV1(fsys, dir)
			checkErr(t, "ReadCPUQuotaV1", dir, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("ReadCPUQuotaV1(%s) = %+v, want %+v", dir, got, tt.want)
			}
		})
	}
}
