package dind

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"syscall"
	"time"

	"cdr.dev/slog"
	"github.com/spf13/afero"

	"github.com/envbox/envbox/xunix"
)

// The per-container PID share: the reserve keeps /init's room, but a full
// /docker is full for every container in it, and `docker exec` joins the
// target container's cgroup, under /docker. Moby has no daemon-wide
// default pids limit, so while dockerd runs envbox gives every new
// container cgroup under the parent whose pids.max is still "max" the
// parent's pids.max minus an exec headroom: one runaway container then
// leaves that headroom for `docker exec` and new containers.
const (
	EnvReserveExecPids = "ENVBOX_RESERVE_EXEC_PIDS"
	// DefaultExecPids is the exec headroom: a `docker exec` needs runc
	// init and its threads (about 10 tasks) plus what the command forks.
	DefaultExecPids = 32
	// MaxExecPids bounds the setting: the kernel's PID_MAX_LIMIT.
	MaxExecPids = 1 << 22
	// ExecShareInterval is how often the parent is scanned for new
	// containers.
	ExecShareInterval = 200 * time.Millisecond
)

// ExecShare caps each new container of one dockerd run. runc creates a
// container's cgroup and writes the container's own limits (--pids-limit)
// only later, when its init is ready, so a user's limit overwrites the cap
// rather than the other way round; `docker update --pids-limit` does too.
type ExecShare struct {
	Log slog.Logger
	// Fs is the whole system: the parent is read through
	// /proc/<dockerd>/root, so dockerd's mounts (--isolated-mount) count.
	Fs afero.Fs
	// Headroom is what each cap leaves of the parent's pids.max; 0 = off.
	Headroom int64
	// Parent is the containers' parent cgroup below the namespace root;
	// "" = dockerd's, from Argv and its daemon.json (CgroupParent).
	Parent string
	Argv   []string
	// After paces the scans (time.After when nil); Interval is
	// ExecShareInterval when zero.
	After    func(d time.Duration) <-chan time.Time
	Interval time.Duration
	// Notify, when set, wakes a scan as soon as a cgroup is made in the
	// parent (xunix.WatchDir): a container is capped at runc's mkdir,
	// before its process runs, where a scan could come after a fast fork
	// bomb filled the parent. Armed while the cap is on; failing, the
	// scans stay paced by Interval alone.
	Notify func(dir string) (wake <-chan struct{}, stop func(), err error)
}

// Watch caps the containers of p's current run until that run ends or ctx
// is done. It runs beside the supervisor after every start: it never
// returns an error and never panics into it; what goes wrong is logged.
func (e *ExecShare) Watch(ctx context.Context, p Proc) {
	if e == nil || e.Headroom == 0 {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			e.Log.Error(ctx, "per-container PID cap stopped", slog.F("panic", fmt.Sprint(r)))
		}
	}()
	done := p.Done()
	pid := p.Pid() // of done's run, or of a later one, which the check below catches
	if err := p.WaitIdentified(ctx); err != nil || p.Done() != done {
		return // never became dockerd (background logged why), or a later run's Watch decides
	}
	root := fmt.Sprintf("/proc/%d/root", pid)
	fsys := afero.NewBasePathFs(e.Fs, root)
	parent := e.Parent
	if parent == "" {
		var err error
		if parent, err = CgroupParent(fsys, e.Argv); err != nil {
			e.Log.Info(ctx, "no per-container PID cap", slog.Error(err))
			return
		}
	}
	s := shareScan{fsys: fsys, dir: path.Join(xunix.CgroupRoot, parent), parent: parent, headroom: e.Headroom,
		seen: map[string]dirID{}}
	after, interval := e.After, e.Interval
	if after == nil {
		after = time.After
	}
	if interval == 0 {
		interval = ExecShareInterval
	}
	n := notifier{notify: e.Notify, dir: path.Join(root, s.dir), interval: interval}
	defer n.disarm()
	by := "scan" // what started the scan, in the log: "inotify" or "scan"
	for {
		s.scan(ctx, e.Log, by)
		n.follow(ctx, e.Log, s.state == "on")
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-after(interval):
			by = "scan"
		case <-n.wake:
			by = "inotify"
		}
	}
}

// notifier holds the parent's inotify watch while the cap is on.
type notifier struct {
	notify   func(dir string) (<-chan struct{}, func(), error)
	dir      string
	interval time.Duration
	wake     <-chan struct{}
	stop     func()
	failed   bool // said once; the scans go on without
}

// follow arms the watch when on (the parent exists with a limit) and
// disarms it otherwise: a parent made again is a new directory.
func (n *notifier) follow(ctx context.Context, log slog.Logger, on bool) {
	switch {
	case !on:
		n.disarm()
	case n.notify == nil || n.wake != nil || n.failed:
	default:
		wake, stop, err := n.notify(n.dir)
		if err != nil {
			n.failed = true
			log.Warn(ctx, "per-container PID cap: no notification of new containers, scanning every "+
				n.interval.String()+" only", slog.Error(err))
			return
		}
		n.wake, n.stop = wake, stop
	}
}

func (n *notifier) disarm() {
	if n.stop != nil {
		n.stop()
	}
	n.wake, n.stop = nil, nil
}

// shareScan is the state of one run's watch.
type shareScan struct {
	fsys     afero.Fs
	dir      string // the parent's directory in fsys
	parent   string // the parent cgroup, for the log
	headroom int64
	// seen are the children already handled, by name, with the identity
	// of the directory handled: each is capped at most once, so a limit set
	// later (docker update) stays; a name made again (docker restart, a
	// restart policy) is a new cgroup, even when no scan saw it gone.
	seen map[string]dirID
	// state is the last logged reason the cap is off, or "on".
	state string
}

// scan caps every child of the parent not seen before whose pids.max is
// "max". It writes nothing when the parent is missing or has no numeric
// pids.max (the reserve did not apply).
func (s *shareScan) scan(ctx context.Context, log slog.Logger, by string) {
	limit, why := s.limit()
	capv := limit - s.headroom
	if why == "" && capv < 1 {
		why = fmt.Sprintf("the parent's pids.max %d leaves nothing after the exec headroom %d", limit, s.headroom)
	}
	if why != "" {
		if why != s.state {
			log.Info(ctx, "no per-container PID cap: "+why, slog.F("cgroup", s.parent))
			s.state = why
		}
		return
	}
	if s.state != "on" {
		log.Info(ctx, "per-container PID cap: new containers get the parent's pids.max minus the exec headroom",
			slog.F("cgroup", s.parent), slog.F("parent_pids_max", limit), slog.F("exec_headroom", s.headroom),
			slog.F("pids_max", capv))
		s.state = "on"
	}
	entries, err := afero.ReadDir(s.fsys, s.dir)
	if err != nil {
		return // removed since limit() read it: the next scan says so
	}
	present := make(map[string]bool, len(entries))
	for _, fi := range entries {
		if !fi.IsDir() {
			continue
		}
		name := fi.Name()
		present[name] = true
		id := dirIdentity(fi)
		if old, ok := s.seen[name]; ok && old == id {
			continue
		}
		s.seen[name] = id
		cg := path.Join(s.parent, name)
		file := path.Join(s.dir, name, "pids.max")
		b, err := afero.ReadFile(s.fsys, file)
		if errors.Is(err, fs.ErrNotExist) {
			continue // gone already
		}
		if err != nil {
			log.Warn(ctx, "per-container PID cap: read "+file, slog.F("cgroup", cg), slog.Error(err))
			continue
		}
		if v := string(b); v != "max\n" && v != "max" {
			log.Debug(ctx, "per-container PID cap: the container keeps its own pids.max", slog.F("cgroup", cg),
				slog.F("pids_max", v))
			continue
		}
		data := strconv.FormatInt(capv, 10)
		if err := writeCgroupFile(s.fsys, file, data); err != nil {
			log.Warn(ctx, "per-container PID cap: "+err.Error(), slog.F("cgroup", cg))
			continue
		}
		log.Info(ctx, "per-container PID cap: capped a new container", slog.F("cgroup", cg), slog.F("pids_max", capv),
			slog.F("seen_by", by))
	}
	for name := range s.seen {
		if !present[name] {
			delete(s.seen, name)
		}
	}
}

// dirID tells one directory from another made later under its name: the
// inode (a cgroup's ID on cgroupfs), or the modification time where the
// file system has no inode (memory, in tests).
type dirID struct {
	ino   uint64
	mtime int64
}

func dirIdentity(fi fs.FileInfo) dirID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return dirID{ino: st.Ino}
	}
	return dirID{mtime: fi.ModTime().UnixNano()}
}

// limit is the parent's numeric pids.max, or why there is none.
func (s *shareScan) limit() (int64, string) {
	file := path.Join(s.dir, "pids.max")
	b, err := afero.ReadFile(s.fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, "the parent cgroup has no pids.max (missing, or the pids controller is off)"
	}
	if err != nil {
		return 0, err.Error()
	}
	n, err := parseLimit(file, string(b))
	switch {
	case err != nil:
		return 0, err.Error()
	case n == Unlimited:
		return 0, "the parent's pids.max is max (no reserve applied)"
	}
	return n, ""
}

// ParseExecPids reads ENVBOX_RESERVE_EXEC_PIDS: a whole number from 0
// (off) to MaxExecPids.
func ParseExecPids(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > MaxExecPids || v != strconv.FormatInt(n, 10) {
		return 0, fmt.Errorf("want a whole number from 0 (off) to %d", MaxExecPids)
	}
	return n, nil
}
