package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"cdr.dev/slog"
	"github.com/spf13/afero"

	"github.com/envbox/envbox/dind"
	"github.com/envbox/envbox/xunix"
)

// Cause is what the kernel counted against the workspace's cgroup: OOM
// kills (memory.events oom_kill, which counts the victims in the cgroup
// and below it whichever limit was hit) and forks refused by a pids limit
// (pids.events max, counted in the cgroup of the task that forked).
type Cause struct {
	OOMKills int64
	PidsMax  int64
}

// String names each cause; "" when there is none.
func (c Cause) String() string {
	var parts []string
	if c.OOMKills > 0 {
		parts = append(parts, fmt.Sprintf("OOM kill (memory.events oom_kill %d)", c.OOMKills))
	}
	if c.PidsMax > 0 {
		parts = append(parts, fmt.Sprintf("PID limit reached (pids.events max %d)", c.PidsMax))
	}
	return strings.Join(parts, ", ")
}

// ReadCause reads memory.events and pids.events of the cgroup dir. A
// missing file reads as zero (controller not enabled); with both missing
// the cgroup is gone and err says so.
func ReadCause(fsys afero.Fs, dir string) (Cause, error) {
	var c Cause
	var errs []string
	for _, f := range []struct {
		name, key string
		dst       *int64
	}{{"memory.events", "oom_kill", &c.OOMKills}, {"pids.events", "max", &c.PidsMax}} {
		file := path.Join(dir, f.name)
		b, err := afero.ReadFile(fsys, file)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		n, err := flatKey(string(b), f.key)
		if err != nil {
			return Cause{}, fmt.Errorf("parse %s: %w", file, err)
		}
		*f.dst = n
	}
	if len(errs) == 2 {
		return Cause{}, fmt.Errorf("read the workspace's cgroup: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// flatKey is the value of key in a flat-keyed cgroup file ("oom_kill 1").
func flatKey(data, key string) (int64, error) {
	for _, line := range strings.Split(data, "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("line %q: want %s and a whole number", line, key)
		}
		return n, nil
	}
	return 0, fmt.Errorf("no %s line in %q", key, data)
}

// causeEvery is how often the workspace's cgroup counters are read.
const causeEvery = 250 * time.Millisecond

// workspaceCgroup is the workspace's cgroup as envbox sees it: below the
// remounted root (the pod), in dockerd's parent of containers.
func (s *session) workspaceCgroup() string {
	parent, err := dind.CgroupParent(s.deps.Fs, append([]string{s.cfg.Dockerd}, dockerdArgs(s.cfg, s.fallback)...))
	if err != nil {
		parent = dind.DefaultCgroupParent
	}
	return path.Join(xunix.CgroupRoot, parent, s.id)
}

// watchCause watches the workspace's cgroup: read at each change the
// kernel announces, and on a timer (a cgroup without the notice, or an
// announcement lost).
func (s *session) watchCause(ctx context.Context) *causeWatch {
	dir := s.workspaceCgroup()
	var changed <-chan struct{}
	if s.deps.WatchModified != nil {
		c, err := s.deps.WatchModified(ctx, path.Join(dir, "memory.events"), path.Join(dir, "pids.events"), path.Join(dir, "cgroup.events"))
		if err != nil {
			s.log.Warn(ctx, "the workspace's cgroup counters are read on a timer only", slog.Error(err),
				slog.F("every", causeEvery.String()))
		}
		changed = c
	}
	// A kill the workspace survives (a build's compiler, not its PID 1)
	// is said here too, the moment the kernel counted it.
	tell := func(c Cause, by string) {
		s.log.Warn(ctx, "the workspace's cgroup counted a kill or a refused fork", slog.F("cause", c.String()), slog.F("cgroup", dir),
			slog.F("read_at", by))
	}
	return watchCause(ctx, s.deps.Fs, dir, causeEvery, changed, tell)
}

// causeWatch keeps the last Cause read while the workspace runs: runc
// removes the cgroup as soon as the container is gone, often before
// dockerd reports the exit, so a read after the fact may find nothing.
// It also tells when the workspace's processes are gone, from the kernel:
// dockerd reports the exit 0.7-3.3 s later (containerd, the shim and
// `runc delete` come first; docs/limits.md).
type causeWatch struct {
	fsys afero.Fs
	dir  string
	// tell hears of each new OOM kill, and of the first refused fork, and
	// what made the watch read (readStart, readNotice, readTimer, readFinal).
	tell func(Cause, string)
	mu   sync.Mutex
	last Cause
	// present: cgroup.events was read once, so the cgroup is where the
	// watch looks (a path that was never there, as under dockerd's
	// systemd cgroup driver, never counts as ended).
	present bool
	// ended is closed when cgroup.events says populated 0 or the cgroup,
	// once present, is gone; endedBy says which and what made the watch
	// read then.
	ended   chan struct{}
	endedBy string
}

// watchCause reads dir's counters now, every interval and each time
// changed signals (the kernel's file-modified notice on memory.events,
// pids.events and cgroup.events; nil: the interval alone), until ctx
// ends. tell may be nil.
func watchCause(ctx context.Context, fsys afero.Fs, dir string, every time.Duration, changed <-chan struct{}, tell func(Cause, string)) *causeWatch {
	w := &causeWatch{fsys: fsys, dir: dir, tell: tell, ended: make(chan struct{})}
	w.read(readStart)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.read(readTimer)
			case <-changed:
				w.read(readNotice)
			}
		}
	}()
	return w
}

// What made the watch read, as told.
const (
	readStart  = "start"
	readNotice = "change notice"
	readTimer  = "timer"
	readFinal  = "exit"
)

func (w *causeWatch) read(by string) {
	defer w.readPopulated(by)
	c, err := ReadCause(w.fsys, w.dir)
	if err != nil {
		return
	}
	w.mu.Lock()
	prev := w.last
	w.last = Cause{OOMKills: max(prev.OOMKills, c.OOMKills), PidsMax: max(prev.PidsMax, c.PidsMax)}
	now := w.last
	w.mu.Unlock()
	if w.tell != nil && (now.OOMKills > prev.OOMKills || (prev.PidsMax == 0 && now.PidsMax > 0)) {
		w.tell(now, by)
	}
}

// readPopulated reads cgroup.events: populated 0 (no process left in the
// cgroup or below it), or the file gone with the cgroup once it was
// there, ends the watch's workspace.
func (w *causeWatch) readPopulated(by string) {
	file := path.Join(w.dir, "cgroup.events")
	b, err := afero.ReadFile(w.fsys, file)
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err == nil:
		n, perr := flatKey(string(b), "populated")
		if perr != nil {
			return
		}
		w.present = true
		if n == 0 {
			w.end("cgroup.events populated 0", by)
		}
	case errors.Is(err, fs.ErrNotExist) && w.present:
		w.end("its cgroup was removed", by)
	}
}

// end records why the workspace ended, once; w.mu is held.
func (w *causeWatch) end(why, by string) {
	if w.ended == nil || w.endedBy != "" {
		return
	}
	w.endedBy = why + ", read at " + by
	close(w.ended)
}

// gone is closed once the kernel says the workspace's processes are gone;
// why says how (e.g. "cgroup.events populated 0, read at change notice").
func (w *causeWatch) gone() <-chan struct{} { return w.ended }

func (w *causeWatch) goneWhy() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.endedBy
}

// final reads once more (the cgroup may still be there) and returns the
// most the counters ever showed.
func (w *causeWatch) final() Cause {
	w.read(readFinal)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}
