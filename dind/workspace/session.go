package workspace

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"cdr.dev/slog"

	"github.com/envbox/envbox/dind"
)

const (
	// dockerdStopGrace is what dockerd gets to stop after the workspace.
	dockerdStopGrace = 10 * time.Second
	// sysboxReadyTimeout bounds the wait for sysbox's sockets.
	sysboxReadyTimeout = 30 * time.Second
	// lostContactWait is how long a failed container wait may precede the
	// dockerd exit that caused it.
	lostContactWait = 5 * time.Second
	// pullLogEvery rate-limits progress lines of one layer.
	pullLogEvery = 2 * time.Second
	// tailLines is how much of dockerd's output an error quotes.
	tailLines = 20
)

// sysboxSockets appear once sysbox-mgr and sysbox-fs serve.
var sysboxSockets = []string{"/run/sysbox/sysmgr.sock", "/run/sysbox/sysfs.sock"}

// session is one run of `envbox docker`: what was started, so it can be
// stopped in order.
type session struct {
	cfg      SessionConfig
	deps     SessionDeps
	log      slog.Logger
	launch   *dind.Launcher
	runtime  string
	sysbox   []dind.Proc
	dockerd  dind.Proc
	out      *dockerdOutput
	fallback bool            // dockerd runs on the no-space fallback data root
	mtu      *dind.MTUChoice // chosen at the first start
	client   APIClient
	api      API
	id       string
	stopped  bool
}

// dockerdOutput keeps dockerd's last lines and whether it reported a full
// data root.
type dockerdOutput struct {
	mu      sync.Mutex
	lines   []string
	noSpace bool
}

func (o *dockerdOutput) line(l string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lines = append(o.lines, l)
	if len(o.lines) > tailLines {
		o.lines = o.lines[1:]
	}
	if dind.IsNoSpace(l) {
		o.noSpace = true
	}
}

func (o *dockerdOutput) tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.lines, "\n")
}

func (o *dockerdOutput) sawNoSpace() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.noSpace
}

func (o *dockerdOutput) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lines, o.noSpace = nil, false
}

// dockerdArgs is the dockerd argv after the binary. On the fallback (the
// data root is full) dockerd uses DataRoot.bak with vfs, which works on any
// filesystem, so the workspace can start and the user can free space.
func dockerdArgs(cfg SessionConfig, fallback bool) []string {
	ones, _ := cfg.BridgeNet.Mask.Size()
	root := cfg.DataRoot
	if fallback {
		root += ".bak"
	}
	args := []string{
		"--host=unix://" + cfg.Socket,
		"--data-root=" + root,
		fmt.Sprintf("--bip=%s/%d", cfg.BridgeIP, ones),
		"--fixed-cidr=" + cfg.BridgeNet.String(),
	}
	if fallback {
		args = append(args, "--storage-driver=vfs")
	}
	if cfg.Debug {
		args = append(args, "--debug")
	}
	return append(args, cfg.DockerdArgs...)
}

// startSysbox starts sysbox when it is used and waits for it; a stopping
// signal ends the wait and is returned.
func (s *session) startSysbox(ctx context.Context) (os.Signal, error) {
	mgr, errMgr := s.deps.LookPath("sysbox-mgr")
	fs, errFS := s.deps.LookPath("sysbox-fs")
	installed := errMgr == nil && errFS == nil
	if !installed && s.cfg.Runtime == RuntimeSysbox {
		return nil, fmt.Errorf("runtime %s: sysbox-mgr or sysbox-fs not in PATH (%v; %v)", s.cfg.Runtime, errMgr, errFS)
	}
	if !installed || (s.cfg.Runtime != "" && s.cfg.Runtime != RuntimeSysbox) {
		s.runtime = s.cfg.Runtime
		if s.runtime == "" {
			s.runtime = RuntimeRunc
		}
		s.log.Info(ctx, "not using sysbox: the workspace runs under "+s.runtime,
			slog.F("runtime", s.runtime), slog.F("sysbox_installed", installed))
		if s.cfg.DisableIDMapped {
			s.log.Warn(ctx, EnvDisableIDMappedMount+" has no effect without sysbox")
		}
		return nil, nil
	}
	var mgrArgs []string
	if s.cfg.DisableIDMapped {
		mgrArgs = append(mgrArgs, "--disable-idmapped-mount")
	}
	for _, c := range []dind.Command{{BinName: "sysbox-mgr", Path: mgr, Args: mgrArgs}, {BinName: "sysbox-fs", Path: fs}} {
		p, err := s.start(ctx, c, nil)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", c.BinName, err)
		}
		s.sysbox = append(s.sysbox, p)
	}
	s.runtime = RuntimeSysbox
	return s.waitSysbox(ctx)
}

// waitSysbox polls for sysbox's sockets; a sysbox process dying first is
// the error (typically an unsupported kernel). A stopping signal ends the
// wait and is returned.
func (s *session) waitSysbox(ctx context.Context) (os.Signal, error) {
	deadline := s.deps.Now().Add(sysboxReadyTimeout)
	for {
		ready := true
		for _, sock := range sysboxSockets {
			if _, err := s.deps.Fs.Stat(sock); err != nil {
				ready = false
			}
		}
		if ready {
			return nil, nil
		}
		for _, p := range s.sysbox {
			select {
			case <-p.Done():
				return nil, fmt.Errorf("sysbox exited before it was ready: %w", p.Wait())
			default:
			}
		}
		if s.deps.Now().After(deadline) {
			return nil, fmt.Errorf("sysbox not ready after %s: no %s", sysboxReadyTimeout, strings.Join(sysboxSockets, " or "))
		}
		select {
		case sig := <-s.deps.Signals:
			return sig, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(s.deps.Poll):
		}
	}
}

// wrapDockerd is the only way dockerd is launched: through the launch
// policy of package dind, first start and restart alike.
func (s *session) wrapDockerd(ctx context.Context) (dind.Command, error) {
	argv := append([]string{s.cfg.Dockerd}, dockerdArgs(s.cfg, s.fallback)...)
	if s.mtu == nil {
		m := dind.ChooseMTU(s.deps.Fs, argv, s.cfg.MTU, s.deps.InterfaceMTU)
		s.log.Info(ctx, "dockerd bridge mtu", slog.F("flag", m.Flag), slog.F("reason", m.Reason))
		s.mtu = &m
	}
	if s.mtu.Flag != "" {
		argv = append(argv, s.mtu.Flag)
	}
	s.log.Info(ctx, "starting dockerd", slog.F("fallback_data_root", s.fallback))
	return s.launch.Command(ctx, argv)
}

// start launches a daemon. The daemons never need the workspace's
// secrets: they are blanked in the inherited environment (the last value
// of a name wins).
func (s *session) start(ctx context.Context, cmd dind.Command, onLine func(string)) (dind.Proc, error) {
	return s.deps.Start(ctx, s.log, cmd, dind.StartOptions{
		Env: []string{EnvAgentToken + "=", EnvImagePullSecret + "="}, OnLine: onLine})
}

func (s *session) startDockerd(ctx context.Context) error {
	cmd, err := s.wrapDockerd(ctx)
	if err != nil {
		return err
	}
	s.out = &dockerdOutput{}
	p, err := s.start(ctx, cmd, s.out.line)
	if err != nil {
		return fmt.Errorf("start dockerd: %w", err)
	}
	s.dockerd = p
	go s.launch.Keep(ctx, p)
	return nil
}

// restartDockerd moves dockerd to the fallback data root, through the same
// wrapper and the same supervised process.
func (s *session) restartDockerd(ctx context.Context) error {
	if s.fallback {
		return fmt.Errorf("dockerd ran out of space on the fallback data root too; last output:\n%s", s.out.tail())
	}
	s.fallback = true
	cmd, err := s.wrapDockerd(ctx)
	if err != nil {
		return err
	}
	s.out.reset()
	if err := s.dockerd.Restart(dockerdStopGrace, cmd.BinName, cmd.Path, cmd.Args...); err != nil {
		return fmt.Errorf("restart dockerd: %w", err)
	}
	go s.launch.Keep(ctx, s.dockerd)
	return nil
}

// failedForSpace: err says the data root is full, or dockerd died after
// saying so (its last output may have moved on: containerd prints the
// cause dozens of times, then dockerd a different final error).
func (s *session) failedForSpace(err error) bool {
	if err == nil {
		return false
	}
	if isNoSpace(err) {
		return true
	}
	select {
	case <-s.dockerd.Done():
		return s.out.sawNoSpace()
	default:
		return false
	}
}

// waitAPI waits for the Docker API, giving up early when dockerd exits.
func (s *session) waitAPI(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.DockerTimeout)
	defer cancel()
	go func() {
		select {
		case <-s.dockerd.Done():
			cancel()
		case <-wctx.Done():
		}
	}()
	err := WaitForAPI(wctx, s.api, s.deps.Poll)
	if err == nil {
		return nil
	}
	select {
	case <-s.dockerd.Done():
		return fmt.Errorf("dockerd exited before its API at %s answered: %w", s.cfg.Socket, s.dockerd.Wait())
	default:
	}
	return fmt.Errorf("wait for dockerd API at %s (timeout %s): %w; dockerd's last output:\n%s",
		s.cfg.Socket, s.cfg.DockerTimeout, err, s.out.tail())
}

// stopDaemons stops dockerd, then sysbox, once.
func (s *session) stopDaemons(ctx context.Context) {
	if s.stopped {
		return
	}
	s.stopped = true
	if s.dockerd != nil {
		if err := s.dockerd.Stop(dockerdStopGrace); err != nil {
			s.log.Warn(ctx, "stop dockerd", slog.Error(err))
		}
	}
	for i := len(s.sysbox) - 1; i >= 0; i-- {
		if err := s.sysbox[i].Stop(dockerdStopGrace); err != nil {
			s.log.Warn(ctx, "stop sysbox", slog.Error(err))
		}
	}
}

// shutdown answers SIGTERM/SIGINT: the workspace gets the grace period,
// then dockerd and sysbox stop. A clean shutdown is exit 0.
func (s *session) shutdown(ctx context.Context, sig os.Signal) error {
	s.log.Info(ctx, "stopping the workspace", slog.F("signal", sig.String()), slog.F("grace", s.cfg.StopGrace.String()))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.StopGrace+dockerdStopGrace)
	defer cancel()
	if s.id != "" {
		if err := Stop(sctx, s.api, s.id, s.cfg.StopGrace); err != nil {
			s.log.Warn(ctx, "stop the workspace; stopping dockerd kills it", slog.Error(err))
		}
	}
	s.stopDaemons(ctx)
	s.log.Info(ctx, "stopped")
	return nil
}

// close stops what is still running and releases the session's
// connections, once the session ends for any reason.
func (s *session) close(ctx context.Context) {
	s.stopDaemons(ctx)
	s.launch.Close()
	if s.client != nil {
		_ = s.client.Close()
	}
}
