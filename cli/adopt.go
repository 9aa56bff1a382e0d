package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"cdr.dev/slog"
	"github.com/spf13/afero"
	"github.com/spf13/cobra"

	"github.com/envbox/envbox/dind/adopt"
)

// adoptConfig is everything `envbox adopt-proxy` needs, parsed and validated.
type adoptConfig struct {
	Listen        string
	Upstream      string
	AllowOverride bool
	MaxConns      int
	LogFormat     string
	Debug         bool
}

func adoptCmd() *cobra.Command {
	cfg := adoptConfig{}
	cmd := &cobra.Command{
		Use:   "adopt-proxy --listen SOCKET --upstream SOCKET [--allow-override]",
		Short: "Serve the Docker API so that containers inherit the cgroup of the process creating them",
		Long: `Listens on a unix socket and forwards every request to dockerd's real socket.
Each connection's caller is identified by the kernel (SO_PEERCRED) when it
connects; on POST /containers/create an empty HostConfig.CgroupParent is set
to the caller's cgroup, in the form of dockerd's cgroup driver (GET /info).
A different CgroupParent gets HTTP 400 unless --allow-override. A caller whose
cgroup cannot be read gets an error, never an unadopted container. Everything
else, attach/exec streams included, passes through unchanged. TCP is refused.

Environment:
  ` + envLogFormat + `  json or human (default: human on a terminal)`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg.LogFormat, _ = os.LookupEnv(envLogFormat)
			if err := cfg.validate(); err != nil {
				return usageError(err)
			}
			log, err := newLogger(c.ErrOrStderr(), cfg.LogFormat, cfg.Debug)
			if err != nil {
				return usageError(err)
			}
			return runAdopt(c.Context(), log, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "/var/run/docker.sock", "unix socket to serve the Docker API on (path or unix://path)")
	f.StringVar(&cfg.Upstream, "upstream", "/var/run/docker-real.sock", "dockerd's real unix socket")
	f.BoolVar(&cfg.AllowOverride, "allow-override", false, "let a create keep a CgroupParent other than its creator's (permissive)")
	f.IntVar(&cfg.MaxConns, "max-connections", adopt.DefaultMaxConns, "client connections served at once; one more is answered 503")
	f.BoolVar(&cfg.Debug, "debug", false, "log every connection")
	return cmd
}

// maxSocketPath is the room for a path in sockaddr_un, less the NUL.
const maxSocketPath = 107

func (c *adoptConfig) validate() error {
	p, err := adopt.SocketPath(c.Listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if len(p) > maxSocketPath {
		return fmt.Errorf("--listen %q: longer than the %d bytes of a unix socket path", c.Listen, maxSocketPath)
	}
	if c.Upstream == "" {
		return errors.New("--upstream: empty socket path")
	}
	if !strings.HasPrefix(c.Upstream, "/") {
		return fmt.Errorf("--upstream %q: want an absolute socket path (dockerd's unix socket)", c.Upstream)
	}
	if c.MaxConns < 1 {
		return fmt.Errorf("--max-connections %d: want at least 1", c.MaxConns)
	}
	if c.Upstream == p {
		return fmt.Errorf("--upstream %q and --listen %q name the same socket", c.Upstream, c.Listen)
	}
	return nil
}

// runAdopt serves until SIGTERM or SIGINT.
func runAdopt(ctx context.Context, log slog.Logger, cfg adoptConfig) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ln, err := adopt.Listen(cfg.Listen)
	if err != nil {
		return err
	}
	p := &adopt.Proxy{Upstream: cfg.Upstream, AllowOverride: cfg.AllowOverride, MaxConns: cfg.MaxConns, Fs: afero.NewOsFs(), Log: log}
	log.Info(ctx, "adopt-proxy serving", slog.F("listen", ln.Addr().String()), slog.F("upstream", cfg.Upstream),
		slog.F("allow_override", cfg.AllowOverride))
	return p.Serve(ctx, ln)
}
