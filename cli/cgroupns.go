package cli

import (
	"context"
	"fmt"
	"os"
	"sync"

	"cdr.dev/slog"

	"github.com/envbox/envbox/background"
	"github.com/envbox/envbox/xunix"
)

// cgroupNSKeeper keeps the cgroup namespace of the first delegated dockerd
// open, so that every restart rejoins it (dind.Wrapper.CgroupNS). After the
// first delegation envbox lives in /init: a fresh namespace would be rooted
// there and each restart would nest dockerd one /init deeper.
type cgroupNSKeeper struct {
	mu sync.Mutex
	f  *os.File
}

// capture waits until p has become its binary (so it runs in the namespace
// the wrapper made) and keeps that namespace, once.
func (k *cgroupNSKeeper) capture(ctx context.Context, log slog.Logger, p *background.Process) {
	if err := p.WaitIdentified(ctx); err != nil {
		return // background already logged why; a restart then makes a new namespace
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.f != nil {
		return
	}
	f, err := xunix.OpenNamespace(p.Pid(), "cgroup")
	if err != nil {
		log.Warn(ctx, "keep dockerd's cgroup namespace for restarts", slog.Error(err))
		return
	}
	k.f = f
}

// path names the kept namespace for nsenter, "" when none is kept.
func (k *cgroupNSKeeper) path() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.f == nil {
		return ""
	}
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), k.f.Fd())
}

func (k *cgroupNSKeeper) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.f != nil {
		k.f.Close()
		k.f = nil
	}
}
