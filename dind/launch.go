package dind

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"cdr.dev/slog"

	"github.com/envbox/envbox/background"
)

// Launcher is the one launch policy of dockerd, for `envbox dind` and
// `envbox docker` alike. Every start and restart goes through Wrapper, in
// the cgroup namespace this rule picks, asked again at every start until a
// namespace is kept:
//
//  1. the namespace kept from an earlier run that became dockerd;
//  2. the pod's own namespace, when envbox already sits in /init of a
//     delegated one (DelegatedNamespace: started again, a restart after
//     the first delegation, kubectl exec);
//  3. a new one (unshare --cgroup). On a restart that nests dockerd one
//     /init deeper, so it is logged as a warning.
type Launcher struct {
	// Wrapper holds the binaries, attempts and mount isolation; its
	// CgroupNS is chosen by the rule above.
	Wrapper Wrapper
	Log     slog.Logger
	// Delegated finds the pod's own namespace (DelegatedNamespace for
	// this process); "" when a new one is right.
	Delegated func() (string, error)
	// OpenNS opens pid's cgroup namespace (xunix.OpenNamespace).
	OpenNS func(pid int) (*os.File, error)
	// Unshared reports whether an opened cgroup namespace is not envbox's
	// own: the wrapper has made it (xunix.OtherNamespace). Keep then keeps
	// it although the run was not identified (yet). Nil: only an
	// identified run's namespace is kept.
	Unshared func(ns *os.File) bool

	mu     sync.Mutex
	kept   *os.File
	starts int
	closed bool // a Keep still running then keeps nothing
}

// Command returns the wrapped command line of argv for the next start.
func (l *Launcher) Command(ctx context.Context, argv []string) (Command, error) {
	if len(argv) == 0 {
		return Command{}, fmt.Errorf("launch: empty command line")
	}
	l.mu.Lock()
	restart := l.starts > 0
	l.starts++
	kept := l.keptPath()
	l.mu.Unlock()
	w := l.Wrapper
	w.CgroupNS = kept
	if w.CgroupNS == "" {
		w.CgroupNS = l.delegated(ctx)
	}
	if w.CgroupNS == "" && restart {
		l.Log.Warn(ctx, "no cgroup namespace kept from an earlier run and none delegated: "+
			"this restart makes a new one, one /init deeper (still inside the pod)")
	}
	cmd, err := w.Wrap(argv[0], argv[1:])
	if err != nil {
		return Command{}, err
	}
	how := "a new cgroup namespace"
	if w.CgroupNS != "" {
		how = w.CgroupNS
	}
	l.Log.Info(ctx, "launching through the delegation wrapper",
		slog.F("argv", background.LoggedArgv(argv)), slog.F("cgroup_namespace", how), slog.F("restart", restart))
	return cmd, nil
}

// delegated asks Delegated and logs the answer. Unreadable is logged and
// "": a new namespace still keeps everything inside the pod.
func (l *Launcher) delegated(ctx context.Context) string {
	if l.Delegated == nil {
		return ""
	}
	ns, err := l.Delegated()
	if err != nil {
		l.Log.Warn(ctx, "cannot tell whether this container was delegated before; delegating in a new cgroup namespace", slog.Error(err))
		return ""
	}
	if ns != "" {
		l.Log.Info(ctx, "already in /init of this container's cgroup namespace: "+
			"delegating in this namespace, rooted at the pod, not in a new one rooted at /init", slog.F("cgroup_namespace", ns))
	}
	return ns
}

// keepPoll is how often Keep looks whether a run not identified yet has
// left envbox's cgroup namespace.
const keepPoll = 5 * time.Millisecond

// Keep keeps the namespace of p's current run for every later start, once
// that run has become its binary (it then runs in the namespace the
// wrapper chose), or earlier, once the run is seen in a namespace that is
// not envbox's own (Unshared: the wrapper made it, rooted where envbox
// was). A run that dies or never becomes its binary before either keeps
// nothing: the next start asks the rule again. Without Unshared, such a
// run in a pod sharing the node's cgroup namespace left envbox in /init,
// and each restart nested one /init deeper. Call it after every start
// until Kept.
//
// Keep runs beside the supervisor: the run it waited for may have died
// and been restarted before it looks. It keeps only a namespace opened
// while that same run was alive (its pid not yet reaped, so not reused).
func (l *Launcher) Keep(ctx context.Context, p Proc) {
	if l.Kept() || l.OpenNS == nil {
		return
	}
	done := p.Done()
	pid := p.Pid() // of done's run, or of a later one, which keep catches
	identified := make(chan error, 1)
	go func() { identified <- p.WaitIdentified(ctx) }()
	var tick <-chan time.Time
	if l.Unshared != nil {
		t := time.NewTicker(keepPoll)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case err := <-identified:
			if err == nil || l.Unshared != nil {
				l.keep(ctx, p, pid, done, err == nil)
			}
			return // background logged why it was not identified
		case <-tick:
			if l.keep(ctx, p, pid, done, false) {
				return
			}
		case <-done:
			return
		case <-ctx.Done():
			return
		}
	}
}

// keep opens pid's namespace and keeps it when pid is still done's run and
// that run was identified or has left envbox's namespace. It reports
// whether looking again is pointless.
func (l *Launcher) keep(ctx context.Context, p Proc, pid int, done <-chan struct{}, identified bool) bool {
	if p.Done() != done {
		return true // a later run: its own Keep decides
	}
	f, err := l.OpenNS(pid)
	if err != nil {
		if identified {
			l.Log.Warn(ctx, "keep the daemon's cgroup namespace for restarts", slog.Error(err))
		}
		return false
	}
	if !identified && !l.Unshared(f) {
		f.Close() // still envbox's own namespace: maybe the node's
		return false
	}
	select {
	case <-done:
		f.Close() // the run ended: pid may have named another process
		return true
	default:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kept != nil || l.closed {
		f.Close()
		return true
	}
	l.kept = f
	return true
}

// Kept reports whether a namespace is kept.
func (l *Launcher) Kept() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.kept != nil
}

// keptPath names the kept namespace for nsenter, "" when none; l.mu held.
func (l *Launcher) keptPath() string {
	if l.kept == nil {
		return ""
	}
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), l.kept.Fd())
}

// Close releases the kept namespace.
func (l *Launcher) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.kept != nil {
		l.kept.Close()
		l.kept = nil
	}
}
