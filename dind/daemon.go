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
	// where the headroom reserve applies (Deps.ReserveHeadroom). "" = none.
	CgroupParent string
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
// budget and back-off, signal forwarding, PID-1 reaping, stop grace).
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
	if err := reserveHeadroom(ctx, cfg, deps); err != nil {
		return err
	}
	stopReaper, err := deps.StartReaper(ctx, log)
	if err != nil {
		return err
	}
	defer stopReaper()
	l := &Launcher{Wrapper: Wrapper{Attempts: cfg.Attempts, Isolated: cfg.Isolated}, Log: log,
		Delegated: deps.Delegated, OpenNS: deps.OpenNS}
	defer l.Close()
	s := &Supervisor{Log: log, Launcher: l, Start: deps.Start, Signals: deps.Signals,
		Dockerd: cfg.Argv, Name: cfg.name(), Restarts: cfg.Restarts, StopGrace: cfg.StopGrace,
		IdentifyTimeout: cfg.IdentifyTimeout, CleanExitEnds: true}
	return s.Run(ctx)
}

// reserveHeadroom is the seam of the headroom reserve: it applies to
// cfg.CgroupParent, before the daemon starts, when the build has one
// (Deps.ReserveHeadroom); otherwise the parent is only recorded.
func reserveHeadroom(ctx context.Context, cfg DaemonConfig, deps Deps) error {
	if cfg.CgroupParent == "" {
		return nil
	}
	if deps.ReserveHeadroom == nil {
		deps.Log.Info(ctx, "cgroup parent recorded; no headroom reserve is applied to it",
			slog.F("cgroup_parent", cfg.CgroupParent), slog.F("daemon", cfg.name()))
		return nil
	}
	if err := deps.ReserveHeadroom(ctx, cfg.CgroupParent); err != nil {
		return fmt.Errorf("reserve headroom for cgroup parent %s: %w", cfg.CgroupParent, err)
	}
	return nil
}
