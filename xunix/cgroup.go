package xunix

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/afero"
)

// ErrNoCgroup reports that /proc/<pid>/cgroup has no line for the requested
// hierarchy (no "0::" line on a v1-only host, no v1 line for a controller on
// a v2-only host).
var ErrNoCgroup = errors.New("no such cgroup hierarchy")

// deletedSuffix is what the kernel appends to a v2 path whose cgroup was
// removed while the process still referenced it (proc_cgroup_show).
const deletedSuffix = " (deleted)"

// CgroupEntry is one line of /proc/<pid>/cgroup: "ID:controllers:path".
type CgroupEntry struct {
	// ID is the hierarchy ID: 0 for cgroup v2, >= 1 for a v1 hierarchy.
	ID int
	// Controllers are the v1 controllers of the hierarchy ("cpu",
	// "cpuacct", "name=systemd"); empty for v2.
	Controllers []string
	// Path is relative to the reader's cgroup namespace root. It starts with
	// "/.." when the process lives outside that namespace.
	Path string
	// Deleted is set when the kernel marked the v2 cgroup as removed.
	Deleted bool
}

// Cgroups is the content of one /proc/<pid>/cgroup file.
type Cgroups []CgroupEntry

// ParseCgroupFile reads and parses a /proc/<pid>/cgroup file.
func ParseCgroupFile(fsys afero.Fs, path string) (Cgroups, error) {
	return parseFile(fsys, path, parseCgroup)
}

// parseCgroup parses /proc/<pid>/cgroup content: v1 lines, the v2 "0::"
// line, or both (hybrid), in any order.
func parseCgroup(r io.Reader) (Cgroups, error) {
	return parseLines(r, parseCgroupLine)
}

func parseCgroupLine(line string) (CgroupEntry, error) {
	fields := strings.SplitN(line, ":", 3) // a path may contain ':'
	if len(fields) != 3 {
		return CgroupEntry{}, errors.New("want ID:controllers:path")
	}
	id, err := strconv.Atoi(fields[0])
	if err != nil || id < 0 || fields[0] != strconv.Itoa(id) {
		return CgroupEntry{}, fmt.Errorf("hierarchy ID %q is not a non-negative integer", fields[0])
	}
	e := CgroupEntry{ID: id, Path: fields[2]}
	if fields[1] != "" {
		e.Controllers = strings.Split(fields[1], ",")
	}
	if (id == 0) != (len(e.Controllers) == 0) {
		return CgroupEntry{}, fmt.Errorf("hierarchy %d with controllers %q: only hierarchy 0 (v2) has none", id, fields[1])
	}
	if slices.Contains(e.Controllers, "") {
		return CgroupEntry{}, fmt.Errorf("empty controller name in %q", fields[1])
	}
	if !strings.HasPrefix(e.Path, "/") {
		return CgroupEntry{}, fmt.Errorf("path %q is not absolute", e.Path)
	}
	if id == 0 {
		e.Path, e.Deleted = strings.CutSuffix(e.Path, deletedSuffix)
	}
	return e, nil
}

// V2 returns the cgroup v2 ("0::") entry, wherever it is in the file.
func (cgs Cgroups) V2() (CgroupEntry, error) {
	for _, e := range cgs {
		if e.ID == 0 {
			return e, nil
		}
	}
	return CgroupEntry{}, fmt.Errorf("cgroup v2 (0::) among %d entries: %w", len(cgs), ErrNoCgroup)
}

// V2Path is the cgroup v2 path, relative to the reader's namespace root.
func (cgs Cgroups) V2Path() (string, error) {
	e, err := cgs.V2()
	return e.Path, err
}

// V1Path is the path in the v1 hierarchy that holds controller ("cpu",
// "memory", "name=systemd").
func (cgs Cgroups) V1Path(controller string) (string, error) {
	for _, e := range cgs {
		if slices.Contains(e.Controllers, controller) {
			return e.Path, nil
		}
	}
	return "", fmt.Errorf("cgroup v1 controller %q among %d entries: %w", controller, len(cgs), ErrNoCgroup)
}
