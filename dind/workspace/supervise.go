package workspace

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"cdr.dev/slog"
)

// setupOrSignal runs setup, abandoning it when SIGTERM/SIGINT arrives (a
// pull can take minutes; Kubernetes kills after its grace period). The
// signal is returned for shutdown once setup has unwound.
func (s *session) setupOrSignal(ctx context.Context) (os.Signal, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.setup(sctx) }()
	select {
	case err := <-errc:
		return nil, err
	case sig := <-s.deps.Signals:
		s.log.Info(ctx, "signal during start-up, abandoning it", slog.F("signal", sig.String()))
		cancel()
		<-errc
		return sig, nil
	}
}

// setup brings the workspace up on the running dockerd: API, image,
// container, bootstrap.
func (s *session) setup(ctx context.Context) error {
	if s.client == nil {
		c, err := s.deps.API(s.cfg.Socket)
		if err != nil {
			return err
		}
		s.client, s.api = c, c
	}
	if err := s.waitAPI(ctx); err != nil {
		return err
	}
	if err := s.pull(ctx); err != nil {
		return err
	}
	spec, err := s.spec(ctx)
	if err != nil {
		return err
	}
	return s.createWorkspace(ctx, spec)
}

func (s *session) createWorkspace(ctx context.Context, spec Spec) error {
	cfg, host := ContainerConfig(spec)
	s.log.Info(ctx, "creating the workspace container",
		slog.F("name", s.cfg.ContainerName), slog.F("image", cfg.Image), slog.F("runtime", host.Runtime),
		slog.F("cpu_quota", host.CPUQuota), slog.F("cpu_period", host.CPUPeriod), slog.F("memory", host.Memory),
		slog.F("binds", host.Binds), slog.F("devices", len(host.Devices)), slog.F("env", cfg.Env))
	id, err := Create(ctx, s.api, s.cfg.ContainerName, cfg, host)
	if err != nil {
		return err
	}
	s.id = id
	s.log.Info(ctx, "workspace started", slog.F("id", id))
	if s.cfg.BootstrapScript == "" {
		s.log.Info(ctx, "no bootstrap script")
		return nil
	}
	env := []string{EnvAgentToken + "=" + s.cfg.AgentToken}
	s.log.Info(ctx, "running the bootstrap script", slog.F("user", s.cfg.Username), slog.F("bytes", len(s.cfg.BootstrapScript)))
	err = Bootstrap(ctx, s.api, s.log.Named("bootstrap"), id, s.cfg.Username, s.cfg.BootstrapScript, env)
	if err == nil {
		return nil
	}
	// A workspace that died under the bootstrap is the failure to report.
	if e, stopped, ierr := Stopped(ctx, s.api, id); ierr == nil && stopped {
		return fmt.Errorf("%w: workspace container %s (%s) stopped during the bootstrap: %s", ErrStopped, s.cfg.ContainerName, id, e)
	}
	return err
}

// spec gathers the inputs of the container configuration.
func (s *session) spec(ctx context.Context) (Spec, error) {
	limits, err := DeriveLimits(s.cfg.CPUs, s.cfg.Memory, s.deps.Cgroup)
	if err != nil {
		// The workspace still nests in the pod's cgroup, whose limits hold.
		s.log.Warn(ctx, "outer cgroup limits unreadable; the workspace gets only the explicit ones", slog.Error(err))
		limits, _ = DeriveLimits(s.cfg.CPUs, s.cfg.Memory, noLimits{})
	}
	devices, err := DetectDevices(s.deps.Fs, s.cfg.AddTUN, s.cfg.AddFUSE, s.cfg.AddGPU, s.cfg.UsrLibDir)
	if err != nil {
		return Spec{}, fmt.Errorf("detect devices: %w", err)
	}
	var img Image
	if s.runtime == RuntimeSysbox || (s.cfg.AddGPU && s.cfg.InnerUsrLibDir == "") {
		if img, err = InspectImage(ctx, s.api, s.cfg.Image, s.runtime); err != nil {
			return Spec{}, err
		}
	}
	return Spec{Config: s.workspaceConfig(), Limits: limits, Devices: devices, Image: img}, nil
}

func (s *session) workspaceConfig() Config {
	env := []string{EnvAgentSubsystem + "=" + strings.Join(s.cfg.AgentSubsystem, ",")}
	if s.cfg.AgentURL != "" {
		env = append(env, EnvAgentURL+"="+s.cfg.AgentURL)
	}
	env = append(env, MatchEnvs(s.cfg.InnerEnvs, s.deps.Environ,
		[]string{EnvAgentToken, EnvImagePullSecret, EnvAgentSubsystem, EnvAgentURL})...)
	return Config{
		Name: s.cfg.ContainerName, Image: s.cfg.Image, Hostname: s.cfg.Hostname, WorkDir: s.cfg.WorkDir,
		Runtime: s.runtime, Envs: env, Mounts: s.cfg.Mounts, ExtraCertsPath: s.cfg.ExtraCertsPath,
		UsrLibDir: s.cfg.UsrLibDir, InnerUsrLibDir: s.cfg.InnerUsrLibDir,
	}
}

// noLimits is an outer cgroup without limits.
type noLimits struct{}

func (noLimits) CPU() (int64, int64, error) { return -1, 0, nil }
func (noLimits) Memory() (int64, error)     { return -1, nil }

type waitResult struct {
	exit Exit
	err  error
}

// supervise runs until the workspace or dockerd ends, or a signal asks
// envbox to stop.
func (s *session) supervise(ctx context.Context) error {
	for {
		done, err := s.superviseOnce(ctx)
		if done {
			return err
		}
	}
}

func (s *session) superviseOnce(ctx context.Context) (bool, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	exited := make(chan waitResult, 1)
	api, id := s.api, s.id // setup may replace them while this waits
	cause := s.watchCause(wctx)
	go func() {
		e, err := WaitExit(wctx, api, id)
		exited <- waitResult{e, err}
	}()
	select {
	case sig := <-s.deps.Signals:
		return true, s.shutdown(ctx, sig)
	case <-s.dockerd.Done():
		return s.onDockerdExit(ctx)
	case r := <-exited:
		return s.onWorkspaceExit(ctx, r, cause, "dockerd")
	case <-cause.gone():
		return s.onWorkspaceGone(ctx, exited, cause)
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

// onWorkspaceExit: dockerd reported the workspace's exit (first, or
// within the wait after the kernel's notice: noticedBy says which).
func (s *session) onWorkspaceExit(ctx context.Context, r waitResult, cause *causeWatch, noticedBy string) (bool, error) {
	if r.err != nil {
		return s.onLostContact(ctx, r.err)
	}
	why := cause.final()
	s.log.Error(ctx, "the workspace container stopped; stopping dockerd so the pod restarts",
		slog.F("exit_code", r.exit.Code), slog.F("oom_killed", r.exit.OOMKilled),
		slog.F("cause", why.String()), slog.F("oom_kills", why.OOMKills), slog.F("pids_max_events", why.PidsMax),
		slog.F("noticed_by", noticedBy))
	s.stopDaemons(ctx)
	return true, s.stoppedError(r.exit.String(), why)
}

// onWorkspaceGone: the kernel says no process of the workspace is left,
// which it knows 0.7-3.3 s before dockerd reports the exit. dockerd's
// report gets deps.ExitReportWait to put the exit status in the line;
// without it the line names what the cgroup counted. A signal or
// dockerd's death meanwhile is handled as before the notice.
func (s *session) onWorkspaceGone(ctx context.Context, exited <-chan waitResult, cause *causeWatch) (bool, error) {
	wait := s.deps.ExitReportWait
	s.log.Warn(ctx, "the workspace's processes are gone; waiting briefly for dockerd to report the exit",
		slog.F("cgroup", cause.dir), slog.F("how", cause.goneWhy()), slog.F("wait", wait.String()))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case r := <-exited:
		return s.onWorkspaceExit(ctx, r, cause, "kernel")
	case sig := <-s.deps.Signals:
		return true, s.shutdown(ctx, sig)
	case <-s.dockerd.Done():
		return s.onDockerdExit(ctx)
	case <-ctx.Done():
		return true, ctx.Err()
	case <-t.C:
	}
	why := cause.final()
	s.log.Error(ctx, "the workspace's processes are gone; stopping dockerd so the pod restarts",
		slog.F("cause", why.String()), slog.F("oom_kills", why.OOMKills), slog.F("pids_max_events", why.PidsMax),
		slog.F("cgroup", cause.dir), slog.F("exit_status", "not reported by dockerd within "+wait.String()))
	s.stopDaemons(ctx)
	return true, s.stoppedError(fmt.Sprintf("its processes are gone (%s), no exit status from dockerd within %s", cause.goneWhy(), wait), why)
}

// stoppedError is the error of a workspace that stopped: how (the exit dockerd
// reported, or the kernel's word) and what its cgroup counted, if anything.
func (s *session) stoppedError(how string, why Cause) error {
	if why != (Cause{}) {
		return fmt.Errorf("%w: workspace container %s (%s) stopped: %s; its cgroup counted: %s", ErrStopped, s.cfg.ContainerName, s.id, how, why)
	}
	return fmt.Errorf("%w: workspace container %s (%s) stopped: %s", ErrStopped, s.cfg.ContainerName, s.id, how)
}

// onDockerdExit restarts dockerd on the fallback data root when it died of
// a full disk and recovers the workspace there; any other death ends envbox.
func (s *session) onDockerdExit(ctx context.Context) (bool, error) {
	werr := s.dockerd.Wait()
	if !s.out.sawNoSpace() {
		return true, fmt.Errorf("%w: dockerd exited: %w", ErrStopped, werr)
	}
	s.log.Warn(ctx, "dockerd ran out of space; restarting it on the fallback data root and recovering the workspace", slog.Error(werr))
	if err := s.restartDockerd(ctx); err != nil {
		return true, err
	}
	sig, err := s.setupOrSignal(ctx)
	if sig != nil {
		return true, s.shutdown(ctx, sig)
	}
	if err != nil {
		return true, fmt.Errorf("recover the workspace after the dockerd restart: %w", err)
	}
	return false, nil
}

// onLostContact: a failed wait usually means dockerd is going away; let
// its exit decide, briefly. A stopping signal meanwhile is a shutdown.
func (s *session) onLostContact(ctx context.Context, err error) (bool, error) {
	s.log.Warn(ctx, "lost contact with the workspace container; waiting briefly for dockerd to exit",
		slog.Error(err), slog.F("wait", lostContactWait.String()))
	select {
	case <-s.dockerd.Done():
		return s.onDockerdExit(ctx)
	case sig := <-s.deps.Signals:
		return true, s.shutdown(ctx, sig)
	case <-ctx.Done():
		return true, ctx.Err()
	case <-time.After(lostContactWait):
		return true, fmt.Errorf("lost the workspace container: %w", err)
	}
}
