package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
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

// adoptVars is the table of `envbox adopt-proxy`.
var adoptVars = varTable[adoptConfig]{
	{flag: "listen", def: "/var/run/docker.sock", meaning: "unix socket to serve the Docker API on (path or unix://path)",
		set: func(c *adoptConfig, v string) error { return setString(&c.Listen, v) }},
	{flag: "upstream", def: "/var/run/docker-real.sock", meaning: "dockerd's real unix socket",
		set: func(c *adoptConfig, v string) error { return setString(&c.Upstream, v) }},
	{flag: "max-connections", def: strconv.Itoa(adopt.DefaultMaxConns), meaning: "client connections served at once; one more is answered 503",
		set: setMaxConns},
	{flag: "allow-override", isBool: true, def: "false", meaning: "let a create keep a CgroupParent other than its creator's (permissive)",
		set: func(c *adoptConfig, v string) error { return setBool(&c.AllowOverride, v) }},
	{flag: "debug", isBool: true, def: "false", meaning: "log every connection",
		set: func(c *adoptConfig, v string) error { return setBool(&c.Debug, v) }},
	logFormatVar(func(c *adoptConfig) *string { return &c.LogFormat }),
}

func adoptCmd() *cobra.Command {
	var vals map[string]*rawValue
	cmd := &cobra.Command{
		Use:   "adopt-proxy --listen SOCKET --upstream SOCKET [--allow-override]",
		Short: "Serve the Docker API so that containers inherit the cgroup of the process creating them",
		Long: `Listens on a unix socket and forwards requests to dockerd's real socket.
Each connection's caller is identified by the kernel (SO_PEERCRED, and its
pidfd where the kernel has one); on container create and build an empty
cgroup parent is set to the caller's cgroup, in the form of dockerd's cgroup
driver (GET /info). A different one gets HTTP 400 unless --allow-override.
A caller whose cgroup cannot be read gets an error, never an unadopted
container. The routes that can carry a cgroup parent or a HostConfig are
modelled (an allowlist): a start with a body, a form-body build, an update
naming a CgroupParent, BuildKit, swarm service and plugin install routes and
any POST/PUT route it does not know are refused with 400 and one line naming
the route and why. GET, HEAD and DELETE, and attach/exec streams, pass
through unchanged. TCP is refused.

` + adoptVars.help("Flags and variables (a flag wins over its variable; empty = unset):"),
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var cfg adoptConfig
			if err := adoptVars.parse(&cfg, os.LookupEnv, vals, c.Flags().Changed); err != nil {
				return usageError(err)
			}
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
	vals = adoptVars.flags(cmd.Flags())
	return cmd
}

// maxSocketPath is the room for a path in sockaddr_un, less the NUL.
const maxSocketPath = 107

func setMaxConns(c *adoptConfig, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1<<20 {
		return errors.New("want a whole number from 1 to 1048576")
	}
	c.MaxConns = n
	return nil
}

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
