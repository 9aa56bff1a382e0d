package dind

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"cdr.dev/slog"
	"github.com/spf13/afero"

	"github.com/envbox/envbox/background"
	"github.com/envbox/envbox/xunix"
)

// legacyIPTablesDir holds iptables → iptables-legacy links put first in
// dockerd's PATH when legacy mode is chosen.
const legacyIPTablesDir = "/run/envbox/iptables-legacy"

// Config is everything `envbox dind` runs with, parsed and validated by cli.
type Config struct {
	Plan         Plan
	Attempts     int
	Restarts     int
	Isolated     bool
	StopGrace    time.Duration
	ReadyTimeout time.Duration
	TLSSAN       string
	// IPTablesLegacy is DOCKER_IPTABLES_LEGACY, nil when unset.
	IPTablesLegacy *string
	// ContainerSetup is docker:dind's start-up hygiene (pid files, mounts);
	// on when envbox is PID 1, i.e. the container's entrypoint.
	ContainerSetup bool
	// MTU is ENVBOX_MTU: nil detects (ChooseMTU), 0 leaves dockerd's default.
	MTU *int
	// Headroom is the reserve and the oom_score_adj for the daemons.
	Headroom Headroom
	// ExecPids is ENVBOX_RESERVE_EXEC_PIDS: what each new container's cap
	// leaves of the parent's pids.max (ExecShare); 0 = no cap.
	ExecPids int64
}

// Deps are the seams of Run to the system; OSDeps builds the real ones.
type Deps struct {
	Log      slog.Logger
	Fs       afero.Fs
	Mounter  Mounter
	LookPath func(string) (string, error)
	// IPTablesWorks runs "<bin> -nL" and reports success.
	IPTablesWorks func(bin string) bool
	Hostname      func() (string, error)
	InterfaceIPs  func() ([]net.IP, error)
	// InterfaceMTU is the MTU of a network interface of this namespace.
	InterfaceMTU func(name string) (int, error)
	Signals      <-chan os.Signal
	Start        Starter
	// StartReaper takes on PID 1's duty of reaping orphans.
	StartReaper func(ctx context.Context, log slog.Logger) (stop func(), err error)
	// Delegated and OpenNS feed the Launcher.
	Delegated func() (string, error)
	OpenNS    func(pid int) (*os.File, error)
	// WatchDir wakes the per-container PID cap at a new cgroup
	// (xunix.WatchDir); nil: its scans alone.
	WatchDir func(dir string) (<-chan struct{}, func(), error)
}

// OSDeps are the real seams, logging to log and receiving sigs.
func OSDeps(log slog.Logger, sigs <-chan os.Signal) Deps {
	fs := afero.NewOsFs()
	return Deps{
		Log: log, Fs: fs, Mounter: xunix.OSMounter{Fs: fs}, LookPath: exec.LookPath,
		IPTablesWorks: func(bin string) bool { return exec.Command(bin, "-nL").Run() == nil },
		Hostname:      os.Hostname, InterfaceIPs: interfaceIPs, InterfaceMTU: interfaceMTU, Signals: sigs,
		Start: StartBackground, StartReaper: background.StartReaper,
		Delegated: func() (string, error) { return DelegatedNamespace(fs, os.Readlink, os.Getpid()) },
		OpenNS:    func(pid int) (*os.File, error) { return xunix.OpenNamespace(pid, "cgroup") },
		WatchDir:  xunix.WatchDir,
	}
}

// Run is `envbox dind`: it prepares the container like docker:dind, starts
// dockerd through the Launcher and supervises it. Nothing starts when
// preflight or the preparation fails.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	log := deps.Log
	if err := preflight(ctx, log, deps.Fs); err != nil {
		return err
	}
	env, err := prepare(ctx, cfg, deps)
	if err != nil {
		return err
	}
	dockerd := cfg.Plan.Dockerd
	mtu := ChooseMTU(deps.Fs, dockerd, cfg.MTU, deps.InterfaceMTU)
	log.Info(ctx, "dockerd bridge mtu", slog.F("flag", mtu.Flag), slog.F("reason", mtu.Reason))
	if mtu.Flag != "" {
		dockerd = append(slices.Clone(dockerd), mtu.Flag)
	}
	// PID-1 duty (as PID 1, else as child subreaper): reap orphans without
	// taking dockerd's status. Started after prepare, whose plain
	// exec.Command would not be protected from it.
	stopReaper, err := deps.StartReaper(ctx, log)
	if err != nil {
		return err
	}
	defer stopReaper()
	w := cfg.Headroom.Wrapper(ctx, log, deps.Fs, Wrapper{Attempts: cfg.Attempts, Isolated: cfg.Isolated})
	l := &Launcher{Wrapper: w, Log: log,
		Delegated: deps.Delegated, OpenNS: deps.OpenNS}
	defer l.Close()
	s := &Supervisor{Log: log, Launcher: l, Start: deps.Start, Signals: deps.Signals,
		Dockerd: dockerd, Env: env, Restarts: cfg.Restarts, StopGrace: cfg.StopGrace,
		ReadyTimeout: cfg.ReadyTimeout, Socket: cfg.Plan.Socket, Command: cfg.Plan.Command}
	if cfg.ExecPids > 0 {
		share := &ExecShare{Log: log, Fs: deps.Fs, Headroom: cfg.ExecPids, Parent: cfg.Headroom.Reserve.Parent, Argv: dockerd,
			Notify: deps.WatchDir}
		s.Watch = share.Watch
	}
	return s.Run(ctx)
}

// preflight logs what envbox sees and stops on a known-fatal setup.
func preflight(ctx context.Context, log slog.Logger, fsys afero.Fs) error {
	facts, err := ReadFacts(fsys)
	if err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	log.Info(ctx, "preflight: "+facts.Summary())
	var fatal []string
	for _, f := range Check(facts) {
		if f.Fatal {
			log.Error(ctx, "preflight: "+f.Message)
			fatal = append(fatal, f.Message)
			continue
		}
		log.Warn(ctx, "preflight: "+f.Message)
	}
	if len(fatal) > 0 {
		return fmt.Errorf("preflight: %s", strings.Join(fatal, "; "))
	}
	return nil
}

// prepare does docker:dind's start-up work and returns extra environment
// for dockerd.
func prepare(ctx context.Context, cfg Config, deps Deps) ([]string, error) {
	log := deps.Log
	if cfg.ContainerSetup {
		removed, err := RemoveStalePIDFiles(deps.Fs, "/run", "/var/run")
		if err != nil {
			return nil, err
		}
		if len(removed) > 0 {
			log.Info(ctx, "removed stale pid files", slog.F("files", removed))
		}
		done, err := SetupMounts(deps.Mounter, deps.Fs)
		if err != nil {
			return nil, err
		}
		log.Info(ctx, "container mounts ready", slog.F("done", done))
	}
	if cfg.Plan.TLSCertDir != "" {
		if err := ensureTLS(ctx, cfg, deps); err != nil {
			return nil, err
		}
	}
	choice := ChooseIPTables(deps.Fs, cfg.IPTablesLegacy, deps.IPTablesWorks)
	log.Info(ctx, "iptables mode chosen", slog.F("legacy", choice.Legacy), slog.F("reason", choice.Reason))
	if !choice.Legacy {
		return nil, nil
	}
	if err := LegacyIPTablesDir(deps.Fs, legacyIPTablesDir, deps.LookPath); err != nil {
		return nil, err
	}
	return []string{"PATH=" + legacyIPTablesDir + ":" + os.Getenv("PATH")}, nil
}

func ensureTLS(ctx context.Context, cfg Config, deps Deps) error {
	tc := TLSConfig{Dir: cfg.Plan.TLSCertDir, ExtraSAN: cfg.TLSSAN}
	if h, err := deps.Hostname(); err == nil {
		tc.DNSNames = append(tc.DNSNames, h)
	}
	ips, err := deps.InterfaceIPs()
	if err != nil {
		return fmt.Errorf("list addresses for TLS SANs: %w", err)
	}
	tc.IPs = ips
	if err := EnsureTLS(deps.Fs, tc); err != nil {
		return err
	}
	deps.Log.Info(ctx, "tls certificates ready", slog.F("dir", tc.Dir), slog.F("dns", tc.DNSNames), slog.F("ips", ips))
	return nil
}

// interfaceIPs lists the addresses of every local interface, for TLS SANs.
func interfaceIPs() ([]net.IP, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var ips []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ips = append(ips, n.IP)
		}
	}
	return ips, nil
}

// interfaceMTU is the MTU of the interface name, asked over netlink in this
// network namespace (sysfs may show another one's).
func interfaceMTU(name string) (int, error) {
	i, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return i.MTU, nil
}
