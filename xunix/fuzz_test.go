package xunix

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

// checkNamesInput fails unless err is nil or a *ParseError whose content is
// part of the input and appears quoted in the message: every error names
// what it could not parse.
func checkNamesInput(t *testing.T, fn string, err error, inputs ...string) {
	t.Helper()
	if err == nil {
		return
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("%s(%q) error %v (%T) is not a *ParseError", fn, inputs, err, err)
	}
	found := false
	for _, in := range inputs {
		found = found || strings.Contains(in, pe.Content)
	}
	if !found {
		t.Fatalf("%s(%q) error content %q is not part of the input", fn, inputs, pe.Content)
	}
	if !strings.Contains(err.Error(), strconv.Quote(pe.Content)) {
		t.Fatalf("%s(%q) error %q does not quote the content %q", fn, inputs, err, pe.Content)
	}
}

func FuzzParseCgroupFile(f *testing.F) {
	for _, s := range []string{hybridCgroup, nsCgroup, nsOutsideCgroup, v2Cgroup, "2:cpu,cpuacct:/a:b\n", "0::/x (deleted)\n", "", "0:/\n", "3::/\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		const path = "/proc/self/cgroup"
		fsys := afero.NewMemMapFs()
		if err := afero.WriteFile(fsys, path, []byte(in), 0o444); err != nil {
			t.Fatal(err)
		}
		cgs, err := ParseCgroupFile(fsys, path)
		checkNamesInput(t, "ParseCgroupFile", err, in)
		if pe := (*ParseError)(nil); errors.As(err, &pe) && pe.Path != path {
			t.Fatalf("ParseCgroupFile(%q) error %q does not name %s", in, err, path)
		}
		if err == nil && len(cgs) == 0 {
			t.Fatalf("parseCgroup(%q) = no entries and no error", in)
		}
		for _, e := range cgs {
			if !strings.HasPrefix(e.Path, "/") {
				t.Fatalf("parseCgroup(%q) accepted relative path %q", in, e.Path)
			}
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	for _, s := range []string{hybridMountinfo, nsMountinfo, v2Mountinfo, escapedMountinfo, "1 2 0:21 / /a\\04 rw - tmpfs t rw\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ms, err := parseMountinfo(strings.NewReader(in))
		checkNamesInput(t, "parseMountinfo", err, in)
		if err == nil && len(ms) == 0 {
			t.Fatalf("parseMountinfo(%q) = no mounts and no error", in)
		}
		// Resolution must not panic on whatever table was accepted.
		_, _ = CgroupV2Dir(ms, "/a")
		_, _ = CgroupModeOf(ms)
	})
}

func FuzzCgroupDir(f *testing.F) {
	f.Add(nsMountinfo, "/..")
	f.Add(v2Mountinfo, "/kubepods/pod1/ctr")
	f.Add("23 22 0:21 /kubepods /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "/kubepods/../x")
	f.Fuzz(func(t *testing.T, mountinfo, cgPath string) {
		ms, err := parseMountinfo(strings.NewReader(mountinfo))
		if err != nil {
			return
		}
		dir, err := CgroupV2Dir(ms, cgPath)
		if err == nil && strings.Contains("/"+dir+"/", "/../") {
			t.Fatalf("CgroupV2Dir(%q) = %q climbs out of its mount", cgPath, dir)
		}
	})
}

func FuzzParseCPUMax(f *testing.F) {
	for _, s := range []string{v2CPUMaxDefault, v2CPUMaxHalf, "max\n", "0 100000\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		q, err := parseCPUMax(in)
		checkNamesInput(t, "parseCPUMax", err, in)
		if err == nil && (q.Period <= 0 || (!q.Unlimited && q.Quota <= 0)) {
			t.Fatalf("parseCPUMax(%q) = %+v: a zero limit without error", in, q)
		}
	})
}

func FuzzParseCFS(f *testing.F) {
	f.Add(v1CFSQuotaDefault, v1CFSPeriodDefault)
	f.Add("150000\n", "100000\n")
	f.Add("0\n", "-1\n")
	f.Fuzz(func(t *testing.T, quota, period string) {
		q, err := parseCFS(quota, period)
		checkNamesInput(t, "parseCFS", err, quota, period)
		if err == nil && (q.Period <= 0 || (!q.Unlimited && q.Quota <= 0)) {
			t.Fatalf("parseCFS(%q, %q) = %+v: a zero limit without error", quota, period, q)
		}
	})
}

func FuzzParseMemoryLimit(f *testing.F) {
	for _, s := range []string{v2MemoryMaxDefault, v2MemoryMax32M, v1MemoryUnlimited, "32M\n", "-1\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		l, err := parseMemoryLimit(in)
		checkNamesInput(t, "parseMemoryLimit", err, in)
		if err == nil && l.Unlimited != (l.Bytes == -1) {
			t.Fatalf("parseMemoryLimit(%q) = %+v: Unlimited and Bytes disagree", in, l)
		}
	})
}

func FuzzParseIDMap(f *testing.F) {
	for _, s := range []string{uidMapInitial, uidMapRootOnly, uidMapEmpty, "0 0\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		_, err := parseIDMap(strings.NewReader(in))
		checkNamesInput(t, "parseIDMap", err, in)
	})
}
