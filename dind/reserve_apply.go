package dind

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/afero"

	"github.com/envbox/envbox/xunix"
)

// DefaultCgroupParent is dockerd's parent cgroup of containers with the
// cgroupfs driver, relative to its cgroup namespace root.
const DefaultCgroupParent = "/docker"

// ErrNoReserve is a setup where no reserve can be made (no cgroup v2 at the
// root, controllers not delegated, a parent envbox cannot know): the
// caller warns and starts dockerd as it is.
var ErrNoReserve = errors.New("no headroom reserve")

// CgroupParent is the cgroup dockerd will create its containers under, from
// its argv (the binary first) and its daemon.json, as an absolute path
// below the namespace root.
func CgroupParent(fsys afero.Fs, argv []string) (string, error) {
	flags := argv[1:]
	parent, driver := flagValue(flags, "--cgroup-parent"), ""
	config := flagValue(flags, "--config-file")
	if config == "" {
		config = DaemonJSON
	}
	for _, o := range flagValues(flags, "--exec-opt") {
		if d, ok := strings.CutPrefix(o, "native.cgroupdriver="); ok {
			driver = d
		}
	}
	var dj struct {
		Parent   string   `json:"cgroup-parent"`
		ExecOpts []string `json:"exec-opts"`
	}
	if err := readDaemonConfig(fsys, config, &dj); err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoReserve, err)
	}
	if parent == "" {
		parent = dj.Parent
	}
	for _, o := range dj.ExecOpts {
		if d, ok := strings.CutPrefix(o, "native.cgroupdriver="); ok && driver == "" {
			driver = d
		}
	}
	if driver != "" && driver != "cgroupfs" {
		return "", fmt.Errorf("%w: cgroup driver %q: only cgroupfs parents are known before dockerd starts", ErrNoReserve, driver)
	}
	if parent == "" {
		return DefaultCgroupParent, nil
	}
	if !path.IsAbs(parent) {
		return "", fmt.Errorf("%w: relative cgroup parent %q: runc places it under its own cgroup", ErrNoReserve, parent)
	}
	c := path.Clean(parent)
	if err := CheckReserveParent(c); err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoReserve, err)
	}
	return c, nil
}

// ReadPodLimits reads memory.max and pids.max of the namespace root (the
// pod after the delegation remount); Unlimited for "max", and for a
// controller the pod's parent does not give it (no file).
func ReadPodLimits(fsys afero.Fs, root string) (memory, pids int64, err error) {
	if memory, err = readLimit(fsys, path.Join(root, "memory.max")); err != nil {
		return 0, 0, err
	}
	if pids, err = readLimit(fsys, path.Join(root, "pids.max")); err != nil {
		return 0, 0, err
	}
	return memory, pids, nil
}

func readLimit(fsys afero.Fs, file string) (int64, error) {
	b, err := afero.ReadFile(fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		return Unlimited, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", file, err)
	}
	return parseLimit(file, string(b))
}

// parseLimit parses memory.max or pids.max: "max" or a whole number.
func parseLimit(file, s string) (int64, error) {
	v := strings.TrimSuffix(s, "\n")
	if v == "max" {
		return Unlimited, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || v != strconv.FormatInt(n, 10) {
		return 0, fmt.Errorf(`parse %s %q: want "max" or a whole number`, file, s)
	}
	return n, nil
}

// ApplyCgroupReserve creates parent below root (the delegated namespace
// root), enables every controller root offers down to it and in it, and
// writes the plan's limits into it. Without cgroup v2 at root, or with the
// planned controllers not enabled at root, it changes nothing and returns
// an ErrNoReserve. A cgroup that exists already is reused (a restarted
// dockerd, a parent the user made).
func ApplyCgroupReserve(fsys afero.Fs, root, parent string, plan ReservePlan) error {
	if !plan.Memory.Applies() && !plan.Pids.Applies() {
		return nil
	}
	if _, err := fsys.Stat(path.Join(root, "cgroup.controllers")); err != nil {
		return fmt.Errorf("%w: no cgroup v2 at %s (v1 or hybrid host)", ErrNoReserve, root)
	}
	enabled, err := xunix.ReadWords(fsys, path.Join(root, "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	for _, l := range []LimitPlan{plan.Memory, plan.Pids} {
		c := strings.TrimSuffix(l.File, ".max")
		if l.Applies() && !slices.Contains(enabled, c) {
			return fmt.Errorf("%w: controller %s not enabled in %s (enabled: %q)", ErrNoReserve,
				c, path.Join(root, "cgroup.subtree_control"), strings.Join(enabled, " "))
		}
	}
	dir := root
	for _, part := range strings.Split(strings.Trim(parent, "/"), "/") {
		dir = path.Join(dir, part)
		if err := fsys.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("mkdir %s: %w", dir, err)
		}
		if err := enableAll(fsys, dir); err != nil {
			return err
		}
	}
	for _, l := range []LimitPlan{plan.Memory, plan.Pids} {
		if !l.Applies() {
			continue
		}
		file, data := path.Join(dir, l.File), strconv.FormatInt(l.Value, 10)
		if err := writeCgroupFile(fsys, file, data); err != nil {
			return err
		}
	}
	return nil
}

// enableAll enables for dir's children every controller dir has.
func enableAll(fsys afero.Fs, dir string) error {
	offered, err := xunix.ReadWords(fsys, path.Join(dir, "cgroup.controllers"))
	if err != nil || len(offered) == 0 {
		return err
	}
	enable := make([]string, len(offered))
	for i, c := range offered {
		enable[i] = "+" + c
	}
	return writeCgroupFile(fsys, path.Join(dir, "cgroup.subtree_control"), strings.Join(enable, " "))
}

// writeCgroupFile writes data in one write(2), as the kernel wants it.
func writeCgroupFile(fsys afero.Fs, file, data string) error {
	f, err := fsys.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", data, file, err)
	}
	_, err = f.Write([]byte(data))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", data, file, err)
	}
	return nil
}

// ApplyReserve is the delegation hook's whole job, run in the daemon's
// cgroup namespace after the delegation and before the daemon: take the
// parent from r.Parent, or else from argv (dockerd's) and its daemon.json,
// read the pod's limits at root, plan, apply. The text says what was
// decided, for the log, also when err is not nil.
func ApplyReserve(fsys afero.Fs, root string, argv []string, r Reserve) (string, error) {
	if _, err := fsys.Stat(path.Join(root, "cgroup.controllers")); err != nil {
		return "no headroom reserve", fmt.Errorf("%w: no cgroup v2 at %s (v1 or hybrid host)", ErrNoReserve, root)
	}
	parent := r.Parent
	if parent == "" {
		var err error
		if parent, err = CgroupParent(fsys, argv); err != nil {
			return "no headroom reserve", err
		}
	}
	mem, pids, err := ReadPodLimits(fsys, root)
	if err != nil {
		return "no headroom reserve", err
	}
	plan := PlanCgroupReserve(mem, pids, r)
	what := fmt.Sprintf("headroom reserve in %s: %s", parent, plan)
	return what, ApplyCgroupReserve(fsys, root, parent, plan)
}
