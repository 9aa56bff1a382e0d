package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/afero"

	"github.com/envbox/envbox/xunix"
)

// Cgroup is one cgroup at or below the pod's, with the processes in it:
// what any nested runtime (containerd's /default/<id>, kubelet's
// /kubepods/...) created, without asking the runtime.
type Cgroup struct {
	// Path is the cgroup as the reader's namespace names it.
	Path string `json:"path"`
	// HostPath is the host's path: HostRoot plus Path below NamespaceRoot.
	HostPath string `json:"host_path"`
	// CgroupID is the inode of the cgroup directory.
	CgroupID  uint64    `json:"cgroup_id"`
	Processes []Process `json:"processes"`
	Error     string    `json:"error,omitempty"`
}

// Process is one process as the reader's PID namespace shows it. PID 0 is
// a process of another PID namespace (the kernel's 0 in cgroup.procs).
type Process struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	// Cgroup is set for a process outside the pod: where it is.
	Cgroup string `json:"cgroup,omitempty"`
}

// cgroups lists every cgroup at or below the pod directory dir, depth
// first in name order, with its processes. A cgroup removed while it is
// read is left out; any other failure is recorded on the entry.
func (v view) cgroups(dir string) []Cgroup {
	out := []Cgroup{}
	err := afero.Walk(v.c.Fs, dir, func(p string, info fs.FileInfo, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		cg := Cgroup{Path: path.Join(v.r.PodCgroup, filepath.ToSlash(rel)), Processes: []Process{}}
		if err != nil {
			// A directory that cannot be listed comes back here after its
			// own entry: the error goes on that entry.
			if n := len(out); n > 0 && out[n-1].Path == cg.Path {
				out[n-1].Error = strings.TrimPrefix(out[n-1].Error+"; "+err.Error(), "; ")
				return nil
			}
			cg.Error = err.Error()
			out = append(out, cg)
			return nil
		}
		if !info.IsDir() {
			return nil
		}
		if host, ok := hostPath(v.r.HostRoot, v.r.NamespaceRoot, cg.Path); ok {
			cg.HostPath = host
		}
		pids, err := readProcs(v.c.Fs, filepath.Join(p, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed since the walk listed it
		}
		if err == nil {
			cg.CgroupID, err = v.c.Inode(p)
		}
		if err != nil {
			cg.Error = err.Error()
		}
		for _, pid := range pids {
			cg.Processes = append(cg.Processes, Process{PID: pid, Comm: comm(v.c.Fs, pid)})
		}
		out = append(out, cg)
		return nil
	})
	if err != nil {
		out = append(out, Cgroup{Path: dir, Processes: []Process{}, Error: err.Error()})
	}
	return out
}

// outside finds every descendant of envbox (pid) whose cgroup is not at or
// below the pod's and records each as an offender. Only envbox's own tree
// is checked: the reader may see other pods' or the node's processes. A
// container's process is checked once, as its subject.
func (v view) outside(pid int) []Process {
	out := []Process{}
	checked := map[int]bool{}
	for _, s := range v.r.Subjects {
		checked[s.PID] = true
	}
	children, err := childrenOf(v.c.Fs)
	if err != nil {
		v.r.Offenders = append(v.r.Offenders, fmt.Sprintf("processes of envbox (pid %d): %v", pid, err))
		return out
	}
	for _, d := range descendants(children, pid) {
		if checked[d] {
			continue
		}
		cgs, err := xunix.ParseCgroupFile(v.c.Fs, "/proc/"+strconv.Itoa(d)+"/cgroup")
		if errors.Is(err, fs.ErrNotExist) {
			continue // exited
		}
		var cg string
		if err == nil {
			cg, err = cgs.V2Path()
		}
		p := Process{PID: d, Comm: comm(v.c.Fs, d), Cgroup: cg}
		if err != nil {
			v.r.Offenders = append(v.r.Offenders, fmt.Sprintf("process %d (%s): %v", d, p.Comm, err))
			continue
		}
		if _, ok := below(v.r.PodCgroup, cg); ok {
			continue
		}
		out = append(out, p)
		v.r.Offenders = append(v.r.Offenders, fmt.Sprintf("process %d (%s): cgroup %s is not below the pod cgroup %s", d, p.Comm, cg, v.r.PodCgroup))
	}
	return out
}

// childrenOf maps every visible process to its children, from
// /proc/<pid>/stat. A process that exits while it is read is left out.
func childrenOf(fsys afero.Fs) (map[int][]int, error) {
	entries, err := afero.ReadDir(fsys, "/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		p := "/proc/" + e.Name() + "/stat"
		data, err := afero.ReadFile(fsys, p)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		ppid, err := parseStatPPid(string(data))
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", p, err)
		}
		children[ppid] = append(children[ppid], pid)
	}
	return children, nil
}

// descendants lists pid's descendants, breadth first, children in /proc
// order, each once: /proc is read one process at a time, so a pid reused
// meanwhile can close a parent cycle.
func descendants(children map[int][]int, pid int) []int {
	var out []int
	seen := map[int]bool{pid: true}
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	return out
}

// parseStatPPid returns the parent PID of /proc/<pid>/stat text: the
// second field after the command, which is in parentheses and may itself
// hold spaces and ")".
func parseStatPPid(stat string) (int, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat %q: no \")\" after the command", short(stat))
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("stat %q: no parent pid field", short(stat))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil || ppid < 0 {
		return 0, fmt.Errorf("stat %q: parent pid %q is not a number", short(stat), f[1])
	}
	return ppid, nil
}

// readProcs reads a cgroup.procs file: one decimal PID per line.
func readProcs(fsys afero.Fs, p string) ([]int, error) {
	data, err := afero.ReadFile(fsys, p)
	if err != nil {
		return nil, err
	}
	var pids []int
	for i, w := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(w)
		if err != nil || pid < 0 {
			return pids, fmt.Errorf("parse %s entry %d %q: not a pid", p, i+1, w)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// comm is /proc/<pid>/comm, "?" when it cannot be read (exited, or PID 0:
// a process of another PID namespace).
func comm(fsys afero.Fs, pid int) string {
	if pid <= 0 {
		return "?"
	}
	data, err := afero.ReadFile(fsys, "/proc/"+strconv.Itoa(pid)+"/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSuffix(string(data), "\n")
}

// short keeps a bad input readable in an error.
func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
