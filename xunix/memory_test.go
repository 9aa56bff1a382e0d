package xunix

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/spf13/afero"
)

func TestParseMemoryLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    MemoryLimit
		wantErr string
	}{
		{name: "v2_max", in: v2MemoryMaxDefault, want: MemoryLimit{Bytes: -1, Unlimited: true}},
		{name: "v2_32m", in: v2MemoryMax32M, want: MemoryLimit{Bytes: 33554432}},
		{name: "v1_unlimited_4k_pages", in: v1MemoryUnlimited, want: MemoryLimit{Bytes: -1, Unlimited: true}},
		// PAGE_COUNTER_MAX in bytes with 64 KiB pages (arm64, ppc64le).
		{name: "v1_unlimited_64k_pages", in: "9223372036854710272\n", want: MemoryLimit{Bytes: -1, Unlimited: true}},
		{name: "uint64_max", in: "18446744073709551615\n", want: MemoryLimit{Bytes: -1, Unlimited: true}},
		{name: "just_below_floor", in: "4611686018427387903\n", want: MemoryLimit{Bytes: 4611686018427387903}},
		{name: "zero_is_a_limit", in: "0\n", want: MemoryLimit{Bytes: 0}},
		{name: "empty", in: "", wantErr: `parse line 1 "": empty`},
		{name: "suffix_is_write_syntax_only", in: "32M\n", wantErr: `parse line 1 "32M": memory limit (bytes or "max"): strconv.ParseUint: parsing "32M": invalid syntax`},
		{name: "negative", in: "-1\n", wantErr: `parse line 1 "-1": memory limit (bytes or "max"): strconv.ParseUint: parsing "-1": invalid syntax`},
		{name: "beyond_uint64", in: "18446744073709551616\n", wantErr: `parse line 1 "18446744073709551616": memory limit (bytes or "max"): strconv.ParseUint: parsing "18446744073709551616": value out of range`},
		{name: "leading_zero", in: "0100\n", wantErr: `parse line 1 "0100": memory limit (bytes or "max"): "0100" is not written the way the kernel writes numbers`},
		{name: "Max_capitalised", in: "Max\n", wantErr: `parse line 1 "Max": memory limit (bytes or "max"): strconv.ParseUint: parsing "Max": invalid syntax`},
		{name: "two_lines", in: "max\n1\n", wantErr: `parse "max\n1\n": want one line`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseMemoryLimit(tt.in)
			checkErr(t, "parseMemoryLimit", tt.in, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("parseMemoryLimit(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// TestReadMemoryLimitV2 covers the fallback ReadEffectiveMemoryLimit takes
// when the own cgroup is not visible.
func TestReadMemoryLimitV2(t *testing.T) {
	t.Parallel()
	const own = "/sys/fs/cgroup/kubepods/pod1/ctr"
	tests := []struct {
		name    string
		files   map[string]string
		deny    bool
		want    MemoryLimit
		wantErr string
		wantIs  error
	}{
		{
			name:  "own_cgroup",
			files: map[string]string{own + "/memory.max": v2MemoryMax32M, "/sys/fs/cgroup/memory.max": v2MemoryMaxDefault},
			want:  MemoryLimit{Bytes: 33554432, Source: own + "/memory.max"},
		},
		{
			name:  "own_missing_falls_back",
			files: map[string]string{"/sys/fs/cgroup/memory.max": v2MemoryMax32M},
			want:  MemoryLimit{Bytes: 33554432, Source: "/sys/fs/cgroup/memory.max"},
		},
		{
			name:    "own_garbage_not_hidden",
			files:   map[string]string{own + "/memory.max": "lots\n", "/sys/fs/cgroup/memory.max": v2MemoryMax32M},
			wantErr: `parse /sys/fs/cgroup/kubepods/pod1/ctr/memory.max line 1 "lots": memory limit (bytes or "max"): strconv.ParseUint: parsing "lots": invalid syntax`,
		},
		{
			name:    "own_denied_not_hidden",
			files:   map[string]string{own + "/memory.max": v2MemoryMax32M, "/sys/fs/cgroup/memory.max": v2MemoryMax32M},
			deny:    true,
			wantErr: "open /sys/fs/cgroup/kubepods/pod1/ctr/memory.max: permission denied",
			wantIs:  fs.ErrPermission,
		},
		{
			name:    "both_missing",
			files:   map[string]string{},
			wantErr: "read memory.max: own cgroup: open /sys/fs/cgroup/kubepods/pod1/ctr/memory.max: file does not exist; namespace root: open /sys/fs/cgroup/memory.max: file does not exist",
			wantIs:  fs.ErrNotExist,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var fsys afero.Fs = afero.NewMemMapFs()
			writeFiles(t, fsys, tt.files)
			if tt.deny {
				fsys = denyFs{fsys}
			}
			got, err := readMemoryLimitV2(fsys, own, nil)
			checkErr(t, "readMemoryLimitV2", own, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("readMemoryLimitV2(%s) = %+v, want %+v", own, got, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("readMemoryLimitV2(%s) error %v is not %v", own, err, tt.wantIs)
			}
		})
	}
}
