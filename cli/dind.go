package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"cdr.dev/slog"
	"github.com/spf13/afero"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/envbox/envbox/background"
	"github.com/envbox/envbox/dind"
	"github.com/envbox/envbox/xunix"
)

const (
	// restartWindow is the span in which at most Restarts restarts happen.
	restartWindow = 10 * time.Minute
	// legacyIPTablesDir holds iptables → iptables-legacy links put first in
	// dockerd's PATH when legacy mode is chosen.
	legacyIPTablesDir = "/run/envbox/iptables-legacy"
)

// dindConfig is everything `envbox dind` needs, parsed and validated.
type dindConfig struct {
	Plan           dind.Plan
	Attempts       int
	Restarts       int
	Isolated       bool
	StopGrace      time.Duration
	ReadyTimeout   time.Duration
	LogFormat      string
	TLSSAN         string
	IPTablesLegacy *string
	// Env is what docker:dind's entrypoint reads, for dind.ResolveEntrypoint.
	Env dind.EntrypointEnv
	// ContainerSetup is docker:dind's start-up hygiene (pid files, mounts);
	// on when envbox is PID 1, i.e. the container's entrypoint.
	ContainerSetup bool
}

// dindDeps are envbox dind's seams to the system.
type dindDeps struct {
	fs       afero.Fs
	mounter  dind.Mounter
	lookPath func(string) (string, error)
	// iptablesWorks runs "<bin> -nL" and reports success.
	iptablesWorks func(bin string) bool
	hostname      func() (string, error)
	interfaceIPs  func() ([]net.IP, error)
}

func dindCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dind [envbox flags --] [dockerd flags | dockerd ... | command ...]",
		Short: "Run dockerd with its containers nested in this container's cgroup (docker:dind entrypoint)",
		Long:  dindLong,
		// Arguments belong to dockerd (docker:dind semantics); envbox's own
		// flags are parsed by parseDindArgs, before "--" only.
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
				return c.Help()
			}
			cfg, err := parseDindArgs(args, os.LookupEnv, os.Getpid() == 1)
			if errors.Is(err, pflag.ErrHelp) {
				return c.Help()
			}
			if err != nil {
				return usageError(err)
			}
			log, err := newLogger(c.ErrOrStderr(), cfg.LogFormat, false)
			if err != nil {
				return usageError(err)
			}
			return runDind(c.Context(), log, cfg, osDindDeps())
		},
	}
}

func osDindDeps() dindDeps {
	return dindDeps{
		fs:       afero.NewOsFs(),
		mounter:  xunix.OSMounter{Fs: afero.NewOsFs()},
		lookPath: exec.LookPath,
		iptablesWorks: func(bin string) bool {
			return exec.Command(bin, "-nL").Run() == nil
		},
		hostname:     os.Hostname,
		interfaceIPs: interfaceIPs,
	}
}

// runDind prepares the container like docker:dind, starts dockerd through
// the delegation wrapper and supervises it until it exits for good or a
// termination signal arrives.
func runDind(ctx context.Context, log slog.Logger, cfg dindConfig, deps dindDeps) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	if err := preflight(ctx, log, deps.fs); err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	env, err := prepareDind(ctx, log, cfg, deps)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	w := dind.Wrapper{Attempts: cfg.Attempts, Isolated: cfg.Isolated, CgroupNS: delegatedNamespace(ctx, log, osDelegatedNamespace(deps.fs))}
	cmd, err := w.Wrap(cfg.Plan.Dockerd[0], cfg.Plan.Dockerd[1:])
	if err != nil {
		return usageError(err)
	}
	dockerd, err := background.New(ctx, log, cmd.BinName, cmd.Path, cmd.Args...)
	if err != nil {
		return err
	}
	dockerd.Env = append(env, cmd.Env...)
	log.Info(ctx, "starting dockerd", slog.F("dockerd_argv", cfg.Plan.Dockerd), slog.F("wrapper_argv_prefix", cmd.Argv()[:len(cmd.Argv())-len(cfg.Plan.Dockerd)-1]))
	// PID-1 duty (as PID 1, else as child subreaper): reap orphans without
	// taking dockerd's status. Started after prepareDind, whose plain
	// exec.Command would not be protected from it.
	stopReaper, err := background.StartReaper(ctx, log)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	defer stopReaper()
	if err := dockerd.Start(); err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	ns := &cgroupNSKeeper{}
	defer ns.close()
	go ns.capture(ctx, log, dockerd)
	s := &dindSupervisor{log: log, cfg: cfg, wrapper: w, ns: ns, dockerd: dockerd, sigs: sigs,
		budget: newRestartBudget(cfg.Restarts, restartWindow), started: time.Now()}
	if len(cfg.Plan.Command) > 0 {
		return s.runCommand(ctx)
	}
	return s.superviseDockerd(ctx)
}

// preflight logs what envbox sees and stops on a known-fatal setup.
func preflight(ctx context.Context, log slog.Logger, fsys afero.Fs) error {
	facts, err := dind.ReadFacts(fsys)
	if err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	log.Info(ctx, "preflight: "+facts.Summary())
	var fatal []string
	for _, f := range dind.Check(facts) {
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

// prepareDind does docker:dind's start-up work and returns extra environment
// for dockerd.
func prepareDind(ctx context.Context, log slog.Logger, cfg dindConfig, deps dindDeps) ([]string, error) {
	if cfg.ContainerSetup {
		removed, err := dind.RemoveStalePIDFiles(deps.fs, "/run", "/var/run")
		if err != nil {
			return nil, err
		}
		if len(removed) > 0 {
			log.Info(ctx, "removed stale pid files", slog.F("files", removed))
		}
		done, err := dind.SetupMounts(deps.mounter, deps.fs)
		if err != nil {
			return nil, err
		}
		log.Info(ctx, "container mounts ready", slog.F("done", done))
	}
	if cfg.Plan.TLSCertDir != "" {
		if err := ensureTLS(ctx, log, cfg, deps); err != nil {
			return nil, err
		}
	}
	choice := dind.ChooseIPTables(deps.fs, cfg.IPTablesLegacy, deps.iptablesWorks)
	log.Info(ctx, "iptables mode chosen", slog.F("legacy", choice.Legacy), slog.F("reason", choice.Reason))
	if !choice.Legacy {
		return nil, nil
	}
	if err := dind.LegacyIPTablesDir(deps.fs, legacyIPTablesDir, deps.lookPath); err != nil {
		return nil, err
	}
	return []string{"PATH=" + legacyIPTablesDir + ":" + os.Getenv("PATH")}, nil
}

func ensureTLS(ctx context.Context, log slog.Logger, cfg dindConfig, deps dindDeps) error {
	tc := dind.TLSConfig{Dir: cfg.Plan.TLSCertDir, ExtraSAN: cfg.TLSSAN}
	if h, err := deps.hostname(); err == nil {
		tc.DNSNames = append(tc.DNSNames, h)
	}
	ips, err := deps.interfaceIPs()
	if err != nil {
		return fmt.Errorf("list addresses for TLS SANs: %w", err)
	}
	tc.IPs = ips
	if err := dind.EnsureTLS(deps.fs, tc); err != nil {
		return err
	}
	log.Info(ctx, "tls certificates ready", slog.F("dir", tc.Dir), slog.F("dns", tc.DNSNames), slog.F("ips", ips))
	return nil
}

// osDelegatedNamespace is dind.DelegatedNamespace for this process.
func osDelegatedNamespace(fsys afero.Fs) func() (string, error) {
	return func() (string, error) { return dind.DelegatedNamespace(fsys, os.Readlink, os.Getpid()) }
}

// delegatedNamespace asks find and logs the answer: "" (a new cgroup
// namespace) unless an earlier delegation in this container already put
// envbox in /init. Unreadable is logged and "": a new namespace still keeps
// everything inside the pod, one level deeper.
func delegatedNamespace(ctx context.Context, log slog.Logger, find func() (string, error)) string {
	ns, err := find()
	if err != nil {
		log.Warn(ctx, "cannot tell whether this container was delegated before; delegating in a new cgroup namespace", slog.Error(err))
		return ""
	}
	if ns != "" {
		log.Info(ctx, "already in /init of this container's cgroup namespace (envbox started again, or run through kubectl exec): "+
			"delegating in this namespace, rooted at the pod, not in a new one rooted at /init", slog.F("cgroup_namespace", ns))
	}
	return ns
}
