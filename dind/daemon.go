package dind

import (
	"context"
	"fmt"
	"path"
	"time"

	"cdr.dev/slog"
)

// DaemonConfig is everything `envbox run -- CMD` runs with, parsed and
// validated by cli: any nested runtime (containerd, buildkitd, podman,
// k3s/kubelet) started and kept like dockerd.
type DaemonConfig struct {
	// Argv is CMD and its arguments; Argv[0] is the binary.
	Argv []string
	// Name is the binary the process must become after the wrapper execs
	// (path.Base(Argv[0]) when empty).
	Name     string
	Attempts int
	// Restarts allowed per RestartWindow; 0 = exit with the daemon's status.
	Restarts        int
	Isolated        bool
	StopGrace       time.Duration
	IdentifyTimeout time.Duration
	// CgroupParent is the cgroup (in the pod's namespace, e.g. /kubepods or
	// /default) under which the daemon creates its workloads' cgroups:
	// where the delegation hook applies Headroom.Reserve. "" = no reserve.
	CgroupParent string
	// Headroom is the reserve and the oom_score_adj, as for dockerd.
	Headroom Headroom
}

// name is what the daemon becomes.
func (c DaemonConfig) name() string {
	if c.Name != "" {
		return c.Name
	}
	return path.Base(c.Argv[0])
}

// RunDaemon is `envbox run`: preflight, then CMD through the same Launcher
// and Supervisor as dockerd (delegation wrapper on every start, restart
// budget and back-off, signal forwarding, PID-1 reaping, stop grace, the
// headroom reserve in cfg.CgroupParent applied by the delegation hook).
// Nothing starts when CMD cannot be found or preflight fails.
func RunDaemon(ctx context.Context, cfg DaemonConfig, deps Deps) error {
	log := deps.Log
	if len(cfg.Argv) == 0 || cfg.Argv[0] == "" {
		return fmt.Errorf("run: empty command line")
	}
	if _, err := deps.LookPath(cfg.Argv[0]); err != nil {
		return &StartError{Bin: cfg.Argv[0], Err: fmt.Errorf("look up %s: %w", cfg.Argv[0], err)}
	}
	if err := preflight(ctx, log, deps.Fs); err != nil {
		return err
	}
	stopReaper, err := deps.StartReaper(ctx, log)
	if err != nil {
		return err
	}
	defer stopReaper()
	w := cfg.headroom(ctx, log).Wrapper(ctx, log, deps.Fs, Wrapper{Attempts: cfg.Attempts, Isolated: cfg.Isolated})
	l := &Launcher{Wrapper: w, Log: log,
		Delegated: deps.Delegated, OpenNS: deps.OpenNS}
	defer l.Close()
	s := &Supervisor{Log: log, Launcher: l, Start: deps.Start, Signals: deps.Signals,
		Dockerd: cfg.Argv, Name: cfg.name(), Restarts: cfg.Restarts, StopGrace: cfg.StopGrace,
		IdentifyTimeout: cfg.IdentifyTimeout, CleanExitEnds: true}
	return s.Run(ctx)
}

// headroom is cfg.Headroom with the reserve told its parent: the daemon's
// argv is not dockerd's, so the hook must not look for one there. Without
// a parent the reserve has nowhere to go: no hook (logged once); envbox's
// own oom_score_adj still applies.
func (c DaemonConfig) headroom(ctx context.Context, log slog.Logger) Headroom {
	h := c.Headroom
	if c.CgroupParent == "" {
		log.Info(ctx, "no headroom reserve: no cgroup parent (--cgroup-parent) names where the daemon creates its workloads' cgroups",
			slog.F("daemon", c.name()))
		h.Hook, h.Reserve = "", Reserve{}
		return h
	}
	h.Reserve.Parent = c.CgroupParent
	return h
}
