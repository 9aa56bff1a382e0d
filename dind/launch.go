package dind

import (
	"context"
	"fmt"
	"os"
	"sync"

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

// Keep waits until p's current run has become its binary, so that it runs
// in the namespace the wrapper chose, and keeps that namespace for every
// later start. A run that never becomes its binary keeps nothing: the next
// start asks the rule again. Call it after every start until Kept.
//
// Keep runs beside the supervisor: the run it waited for may have died
// and been restarted before it looks. It keeps only a namespace opened
// while that same run was alive (its pid not yet reaped, so not reused).
func (l *Launcher) Keep(ctx context.Context, p Proc) {
	if l.Kept() || l.OpenNS == nil {
		return
	}
	done := p.Done()
	pid := p.Pid() // of done's run, or of a later one, which the check below catches
	if err := p.WaitIdentified(ctx); err != nil {
		return // background logged why
	}
	if p.Done() != done {
		return // a later run: its own Keep decides
	}
	f, err := l.OpenNS(pid)
	if err != nil {
		l.Log.Warn(ctx, "keep dockerd's cgroup namespace for restarts", slog.Error(err))
		return
	}
	select {
	case <-done:
		f.Close() // the run ended: pid may have named another process
		return
	default:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kept != nil || l.closed {
		f.Close()
		return
	}
	l.kept = f
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
