package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/afero"
)

// reserveParent is the containers' parent cgroup the doctor looks at:
// dockerd's default with the cgroupfs driver (dind.DefaultCgroupParent).
const reserveParent = "docker"

// Reserve is the headroom reserve as the kernel holds it: the pod's limits
// and those of the containers' parent cgroup; the difference is what is
// kept for envbox, dockerd and containerd.
type Reserve struct {
	// Parent is the containers' parent cgroup; Present whether it exists.
	Parent  string `json:"parent"`
	Present bool   `json:"present"`
	// PodMemory, ParentMemory, PodPids, ParentPids are the files' words:
	// "max" or a number.
	PodMemory    string `json:"pod_memory_max,omitempty"`
	ParentMemory string `json:"parent_memory_max,omitempty"`
	PodPids      string `json:"pod_pids_max,omitempty"`
	ParentPids   string `json:"parent_pids_max,omitempty"`
	// ContainerPids counts the parent's child cgroups by their pids.max:
	// envbox dind's per-container cap (ENVBOX_RESERVE_EXEC_PIDS), a
	// container's own --pids-limit, or "max".
	ContainerPids map[string]int `json:"container_pids_max,omitempty"`
	Error         string         `json:"error,omitempty"`
}

// reserve reads memory.max and pids.max of the pod directory and of its
// containers' parent. A missing file (controller not enabled) reads "".
func (c *Checker) reserve(podDir string) Reserve {
	r := Reserve{Parent: filepath.Join(podDir, reserveParent)}
	if st, err := c.Fs.Stat(r.Parent); err == nil && st.IsDir() {
		r.Present = true
	}
	for _, f := range []struct {
		dst  *string
		path string
	}{
		{&r.PodMemory, filepath.Join(podDir, "memory.max")}, {&r.PodPids, filepath.Join(podDir, "pids.max")},
		{&r.ParentMemory, filepath.Join(r.Parent, "memory.max")}, {&r.ParentPids, filepath.Join(r.Parent, "pids.max")},
	} {
		if !r.Present && strings.HasPrefix(f.path, r.Parent) {
			continue
		}
		b, err := afero.ReadFile(c.Fs, f.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			r.Error = err.Error()
			return r
		default:
			*f.dst = strings.TrimSpace(string(b))
		}
	}
	if r.Present {
		r.ContainerPids, r.Error = c.containerPids(r.Parent)
	}
	return r
}

// containerPids counts the children of parent by their pids.max; a child
// without the file (gone, or no pids controller) is not counted.
func (c *Checker) containerPids(parent string) (map[string]int, string) {
	entries, err := afero.ReadDir(c.Fs, parent)
	if err != nil {
		return nil, err.Error()
	}
	var n map[string]int
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := afero.ReadFile(c.Fs, filepath.Join(parent, e.Name(), "pids.max"))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return nil, err.Error()
		}
		if n == nil {
			n = map[string]int{}
		}
		n[strings.TrimSpace(string(b))]++
	}
	return n, ""
}

// reserveLine is the human line: what the parent may use of the pod's limit.
func reserveLine(r Reserve) string {
	switch {
	case r.Error != "":
		return "unknown: " + r.Error
	case !r.Present:
		return fmt.Sprintf("none yet (%s absent: dockerd has started no container, or another cgroup parent)", r.Parent)
	}
	line := fmt.Sprintf("%s memory.max %s of the pod's %s; pids.max %s of the pod's %s",
		r.Parent, orNone(r.ParentMemory), orNone(r.PodMemory), orNone(r.ParentPids), orNone(r.PodPids))
	if len(r.ContainerPids) > 0 {
		var counts []string
		for _, v := range slices.Sorted(maps.Keys(r.ContainerPids)) {
			counts = append(counts, fmt.Sprintf("%s (%d)", v, r.ContainerPids[v]))
		}
		line += "; containers' pids.max " + strings.Join(counts, ", ")
	}
	return line
}

func orNone(s string) string {
	if s == "" {
		return "(no file)"
	}
	return s
}
