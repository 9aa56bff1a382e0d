package workspace

import (
	"context"
	"errors"
	"net"
	"os"
	"time"

	"cdr.dev/slog"
	"github.com/spf13/afero"

	"github.com/envbox/envbox/dind"
	"github.com/envbox/envbox/xunix"
)

// Variables of the Coder contract that the session itself names: in the
// workspace's environment, and blanked in the daemons'.
const (
	EnvAgentToken           = "CODER_AGENT_TOKEN" //nolint:gosec // a name, not a credential
	EnvAgentURL             = "CODER_AGENT_URL"
	EnvAgentSubsystem       = "CODER_AGENT_SUBSYSTEM"
	EnvImagePullSecret      = "CODER_IMAGE_PULL_SECRET" //nolint:gosec // a name, not a credential
	EnvDisableIDMappedMount = "CODER_DISABLE_IDMAPPED_MOUNT"
	EnvExtraCertsPath       = "CODER_EXTRA_CERTS_PATH"
)

// ErrStopped: the workspace container or dockerd stopped on its own; the
// pod must restart.
var ErrStopped = errors.New("the workspace stopped")

// SessionConfig is everything one `envbox docker` session runs with, parsed
// and validated by cli.
type SessionConfig struct {
	Image           string
	Username        string
	AgentToken      string
	AgentURL        string
	AgentSubsystem  []string
	InnerEnvs       []string // patterns: NAME or PREFIX*
	Hostname        string
	WorkDir         string
	PullSecret      *DockerConfig
	DockerConfig    string
	BridgeIP        net.IP
	BridgeNet       *net.IPNet
	BootstrapScript string
	Mounts          []Mount
	UsrLibDir       string
	InnerUsrLibDir  string
	AddTUN          bool
	AddFUSE         bool
	AddGPU          bool
	CPUs            float64 // 0: derive from the outer cgroup
	Memory          int64   // 0: derive from the outer cgroup
	DisableIDMapped bool
	ExtraCertsPath  string
	// RegistryCAs are the PEM certificates read from ExtraCertsPath
	// (ReadCAs): dockerd trusts them for the image's registry.
	RegistryCAs []byte
	// Pull is PullMissing or PullAlways.
	Pull          string
	ContainerName string
	Debug         bool

	Runtime       string // "" = sysbox-runc when installed, else runc
	Dockerd       string
	DataRoot      string
	Socket        string
	DockerdArgs   []string
	DockerTimeout time.Duration
	StopGrace     time.Duration
	Attempts      int
	// MTU is ENVBOX_MTU: nil detects (dind.ChooseMTU), 0 leaves dockerd's.
	MTU *int
	// Headroom is the reserve and the oom_score_adj for the daemons.
	Headroom dind.Headroom
}

// SessionDeps are the seams of a session; tests replace every one.
type SessionDeps struct {
	Log      slog.Logger
	Fs       afero.Fs
	Environ  []string
	LookPath func(string) (string, error)
	Signals  <-chan os.Signal
	Start    dind.Starter
	// StartReaper takes on PID 1's duty of reaping orphans (exited exec
	// and shim children) without taking a supervised process's status.
	StartReaper func(ctx context.Context, log slog.Logger) (stop func(), err error)
	// API connects to dockerd's socket; the session closes it.
	API func(socket string) (APIClient, error)
	// Delegated and OpenNS feed the dind.Launcher.
	Delegated func() (string, error)
	OpenNS    func(pid int) (*os.File, error)
	Cgroup    CgroupLimits
	// InterfaceMTU is the MTU of a network interface of this namespace.
	InterfaceMTU func(name string) (int, error)
	Now          func() time.Time
	// WatchModified signals when one of the files changes (the
	// workspace's cgroup event files); nil: they are read on a timer only.
	WatchModified func(ctx context.Context, paths ...string) (<-chan struct{}, error)
	// Poll is the Docker API ping interval.
	Poll time.Duration
	// ExitReportWait is how long dockerd's report of the workspace's exit
	// status is awaited once the kernel said its processes are gone
	// (cgroup.events populated 0); then envbox goes on without it.
	ExitReportWait time.Duration
}

// exitReportWait is the real ExitReportWait. In the VM dockerd reported
// the exit 0.7-3.3 s after the workspace's PID 1 was gone
// (docs/limits.md): the wait catches a report already on its way, and
// holds the pod's end back by 250 ms at most when there is none.
const exitReportWait = 250 * time.Millisecond

// OSDeps are the real seams, logging to log and receiving sigs; the
// process and namespace seams are package dind's.
func OSDeps(log slog.Logger, sigs <-chan os.Signal) SessionDeps {
	d := dind.OSDeps(log, sigs)
	return SessionDeps{
		Log: log, Fs: d.Fs, Environ: os.Environ(), LookPath: d.LookPath, Signals: sigs,
		Start: d.Start, StartReaper: d.StartReaper, Delegated: d.Delegated, OpenNS: d.OpenNS, InterfaceMTU: d.InterfaceMTU,
		API:    func(socket string) (APIClient, error) { return NewClient(socket) },
		Cgroup: CgroupFS{Fs: d.Fs}, Now: time.Now, Poll: 250 * time.Millisecond,
		WatchModified: xunix.WatchModified, ExitReportWait: exitReportWait,
	}
}

// APIClient is an API that holds a connection to close.
type APIClient interface {
	API
	Close() error
}

// Run is the whole `envbox docker` session: sysbox, dockerd through the
// launch policy of package dind, the workspace, then supervision until
// the workspace or dockerd ends or a signal stops it (nil: a clean stop).
func Run(ctx context.Context, cfg SessionConfig, deps SessionDeps) error {
	s := &session{cfg: cfg, deps: deps, log: deps.Log,
		launch: &dind.Launcher{Wrapper: cfg.Headroom.Wrapper(ctx, deps.Log, deps.Fs, dind.Wrapper{Attempts: cfg.Attempts}), Log: deps.Log,
			Delegated: deps.Delegated, OpenNS: deps.OpenNS}}
	if deps.StartReaper != nil {
		stop, err := deps.StartReaper(ctx, deps.Log)
		if err != nil {
			return err
		}
		defer stop()
	}
	defer s.close(ctx)
	if sig, err := s.startSysbox(ctx); sig != nil {
		return s.shutdown(ctx, sig)
	} else if err != nil {
		return err
	}
	if err := s.trustRegistryCAs(ctx); err != nil {
		return err
	}
	if err := s.startDockerd(ctx); err != nil {
		return err
	}
	sig, err := s.setupOrSignal(ctx)
	if s.failedForSpace(err) {
		s.log.Warn(ctx, "dockerd data root is full, restarting dockerd on the fallback data root", slog.Error(err))
		if err = s.restartDockerd(ctx); err == nil {
			sig, err = s.setupOrSignal(ctx)
		}
	}
	if sig != nil {
		return s.shutdown(ctx, sig)
	}
	if err != nil {
		return err
	}
	return s.supervise(ctx)
}

// isNoSpace: err (a pull, a create, or dockerd's end with its last output)
// says the data root is full, in the words package dind recognises.
func isNoSpace(err error) bool {
	return err != nil && dind.IsNoSpace(err.Error())
}
