package dind

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/afero"

	"github.com/envbox/envbox/xunix"
)

// capSysAdmin is CAP_SYS_ADMIN's bit in /proc/<pid>/status Cap* masks.
const capSysAdmin = 21

// ReadFacts gathers preflight facts from fsys (the real root in
// production, a MemMapFs in tests). A file that cannot be read is an error
// naming it: preflight must never guess.
func ReadFacts(fsys afero.Fs) (Facts, error) {
	var f Facts
	mounts, err := xunix.ParseMountinfoFile(fsys, "/proc/self/mountinfo")
	if err != nil {
		return f, fmt.Errorf("read mount table: %w", err)
	}
	if f.Mode, err = xunix.CgroupModeOf(mounts); err != nil {
		return f, err
	}
	if f.CapSysAdmin, err = readCapSysAdmin(fsys, "/proc/self/status"); err != nil {
		return f, err
	}
	if f.UserNS, err = xunix.InUserNamespace(fsys); err != nil {
		return f, err
	}
	f.OwnCgroup = "/"
	if f.Mode != xunix.CgroupV2 {
		return f, nil
	}
	cgs, err := xunix.ParseCgroupFile(fsys, "/proc/self/cgroup")
	if err != nil {
		return f, err
	}
	if f.OwnCgroup, err = cgs.V2Path(); err != nil {
		return f, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	data, err := afero.ReadFile(fsys, "/sys/fs/cgroup/cgroup.controllers")
	if err != nil {
		return f, fmt.Errorf("read cgroup controllers: %w", err)
	}
	f.Controllers = strings.Fields(string(data))
	f.ReadOnly = cgroupReadOnly(mounts)
	f.RealtimePIDs, err = readRealtimePIDs(fsys)
	return f, err
}

// readCapSysAdmin reads the CapEff mask of a /proc/<pid>/status file.
func readCapSysAdmin(fsys afero.Fs, path string) (bool, error) {
	data, err := afero.ReadFile(fsys, path)
	if err != nil {
		return false, fmt.Errorf("read capabilities: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		v, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return false, fmt.Errorf("parse %s line %q: %w", path, line, err)
		}
		return mask&(1<<capSysAdmin) != 0, nil
	}
	return false, fmt.Errorf("parse %s: no CapEff line", path)
}

// cgroupReadOnly looks at the topmost mount on /sys/fs/cgroup.
func cgroupReadOnly(mounts []xunix.Mount) bool {
	ro := false
	for _, m := range mounts {
		if m.MountPoint == "/sys/fs/cgroup" {
			ro = slices.Contains(strings.Split(m.Options, ","), "ro")
		}
	}
	return ro
}

// readRealtimePIDs lists processes whose scheduling policy (field 41 of
// /proc/<pid>/stat) is SCHED_FIFO (1) or SCHED_RR (2). Processes that exit
// while being read are skipped.
func readRealtimePIDs(fsys afero.Fs) ([]int, error) {
	entries, err := afero.ReadDir(fsys, "/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		path := "/proc/" + e.Name() + "/stat"
		data, err := afero.ReadFile(fsys, path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		policy, err := parseStatPolicy(string(data))
		if err != nil {
			return nil, fmt.Errorf("parse %s %q: %w", path, data, err)
		}
		if policy == 1 || policy == 2 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// parseStatPolicy returns field 41 of proc_pid_stat(5). The command name
// (field 2) may hold spaces and parentheses, so fields are counted from the
// last ')'.
func parseStatPolicy(stat string) (int, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	fields := strings.Fields(stat[i+1:])
	const idx = 41 - 3 // fields after ')' start at field 3 (state)
	if len(fields) <= idx {
		return 0, fmt.Errorf("%d fields after the command name, want > %d", len(fields), idx)
	}
	return strconv.Atoi(fields[idx])
}
