package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"cdr.dev/slog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/envbox/envbox/dind"
)

// envbox run's own knobs; ENVBOX_ISOLATED_MOUNT, ENVBOX_STOP_GRACE,
// ENVBOX_DELEGATE_ATTEMPTS and ENVBOX_LOG_FORMAT mean what they mean for
// envbox dind.
const (
	envRestarts        = "ENVBOX_RESTARTS"
	envCgroupParent    = "ENVBOX_CGROUP_PARENT"
	envIdentifyTimeout = "ENVBOX_IDENTIFY_TIMEOUT"
)

// runConfig is everything `envbox run` needs, parsed and validated.
type runConfig struct {
	dind.DaemonConfig
	LogFormat string
}

// binNameRE is a binary's basename as --name takes it.
var binNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.+-]*$`)

// runVars is the table of `envbox run`. Flags go before "--".
var runVars = varTable[runConfig]{
	{flag: "name", defText: "the basename of CMD",
		meaning: "the binary CMD must become after the wrapper execs it (a launcher script that execs k3s: --name=k3s); envbox reports, as an error, a process that never does",
		set:     func(c *runConfig, v string) error { return setName(&c.Name, v, binNameRE) }},
	{env: envRestarts, flag: "restarts", def: "0",
		meaning: "restarts of CMD allowed per 10 minutes, through the delegation wrapper, back-off 250ms doubling to 8s; 0 = envbox exits with CMD's status",
		set: func(c *runConfig, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxWhole {
				return errors.New("want a whole number from 0 to 999999999")
			}
			c.Restarts = n
			return nil
		}},
	{env: envCgroupParent, flag: "cgroup-parent", defText: "none",
		meaning: "the cgroup, as the pod sees it once delegated, under which CMD creates its workloads' cgroups (/kubepods for kubelet, /default for containerd's default namespace): " +
			"the delegation hook gives it the pod's limits minus the headroom reserve before CMD starts; none = no reserve",
		set: setCgroupParent},
	reserveMemoryVar(func(c *runConfig) *dind.Amount { return &c.Headroom.Reserve.Memory }, runReserve),
	reservePidsVar(func(c *runConfig) *dind.Amount { return &c.Headroom.Reserve.Pids }, runReserve),
	{env: envIsolatedMount, flag: "isolated-mount", isBool: true, def: "false",
		meaning:   "also unshare the mount namespace, so the cgroup2 remount stays private to CMD instead of showing in this container",
		conflicts: "breaks sysbox-fs mount propagation unless /var/lib/sysboxfs is rshared first",
		set:       func(c *runConfig, v string) error { return setBool(&c.Isolated, v) }},
	{env: envStopGrace, flag: "stop-grace", def: "10s",
		meaning: "time CMD gets between the forwarded SIGTERM/SIGINT/SIGQUIT and SIGKILL",
		set:     func(c *runConfig, v string) error { return setDuration(&c.StopGrace, v) }},
	{env: envIdentifyTimeout, flag: "identify-timeout", def: "30s",
		meaning: "how long each start may spend in the wrapper before CMD must be running as --name",
		set:     func(c *runConfig, v string) error { return setDuration(&c.IdentifyTimeout, v) }},
	delegateAttemptsVar(func(c *runConfig) *int { return &c.Attempts }),
	logFormatVar(func(c *runConfig) *string { return &c.LogFormat }),
}

// maxCgroupPath is PATH_MAX: a longer cgroup path cannot be opened.
const maxCgroupPath = 4096

// setCgroupParent takes a clean absolute cgroup path below the pod's root.
func setCgroupParent(c *runConfig, v string) error {
	if len(v) > maxCgroupPath {
		return fmt.Errorf("want at most %d bytes, got %d", maxCgroupPath, len(v))
	}
	if !path.IsAbs(v) || path.Clean(v) != v || v == "/" {
		return errors.New("want a clean absolute cgroup path below the root such as /kubepods")
	}
	if v == "/init" || strings.HasPrefix(v, "/init/") {
		return errors.New("/init is envbox's own cgroup (the delegated processes', a leaf): want another such as /kubepods")
	}
	c.CgroupParent = v
	return nil
}

var runLong = `Runs CMD, any nested runtime (containerd, buildkitd, podman, k3s/kubelet),
through the same cgroup delegation wrapper and launch policy as envbox dind's
dockerd: a new cgroup namespace, cgroup2 remounted so this container's cgroup
is the root, every process moved into /init, every controller enabled. The
cgroups CMD creates then nest under this container's cgroup, inside its
limits. envbox stays in front: preflight first, then it forwards
SIGTERM/SIGINT/SIGHUP/SIGQUIT, reaps zombies when it is PID 1, restarts CMD
within ENVBOX_RESTARTS and exits with CMD's status. With --cgroup-parent,
that cgroup gets the pod's memory.max and pids.max minus a reserve before
CMD starts, so envbox and CMD keep room when the workloads reach the pod's
limits; as PID 1, envbox also lowers its own oom_score_adj to -999 (CMD
keeps the pod's).

  envbox run [envbox flags] -- CMD [ARGS...]

` + runVars.help(`envbox's flags (before "--") and variables (a flag wins over its variable;
an empty variable is unset):`) + `
Exit status: CMD's status when it ends and no restart is left (0 included),
128+N when it was killed by signal N; 0 after a clean stop on
SIGTERM/SIGINT/SIGQUIT; 2 for bad flags, environment or no CMD (nothing
started); 127 when CMD does not exist, 126 when it is not executable
(nothing started); 1 when preflight fails (nothing started).`

func runCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run [envbox flags] -- CMD [ARGS...]",
		Short: "Run any nested runtime (containerd, k3s, ...) with its cgroups nested in this container's cgroup",
		Long:  runLong,
		// Everything after "--" belongs to CMD; envbox's flags are parsed
		// by parseRunArgs, before "--" only.
		DisableFlagParsing: true,
		RunE: rawArgsRunE(func(args []string) (runConfig, error) {
			return parseRunArgs(args, os.LookupEnv)
		}, func(cfg runConfig) string { return cfg.LogFormat }, runRun),
	}
}

// parseRunArgs splits envbox's flags (before "--") from CMD (after it) and
// reads the environment through lookup.
func parseRunArgs(args []string, lookup func(string) (string, bool)) (runConfig, error) {
	var cfg runConfig
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	vals := runVars.flags(fs)
	i := slices.Index(args, "--")
	if i < 0 {
		if err := fs.Parse(args); err != nil {
			return cfg, err
		}
		return cfg, fmt.Errorf(`no "--" before CMD: want envbox run [flags] -- CMD [ARGS...]`)
	}
	if err := fs.Parse(args[:i]); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments before --: %q", fs.Args())
	}
	if err := runVars.parse(&cfg, lookup, vals, fs.Changed); err != nil {
		return cfg, err
	}
	cfg.Argv = args[i+1:]
	switch {
	case len(cfg.Argv) == 0:
		return cfg, fmt.Errorf(`empty CMD after "--": want envbox run [flags] -- CMD [ARGS...]`)
	case cfg.Argv[0] == "":
		return cfg, fmt.Errorf(`CMD after "--" is "": want a binary name or path`)
	}
	return cfg, nil
}

// runRun runs `envbox run` with the real system and maps its end to an
// exit status.
func runRun(ctx context.Context, log slog.Logger, cfg runConfig) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	cfg.Headroom = withHook(cfg.Headroom, os.Getpid() == 1)
	return exitError(dind.RunDaemon(ctx, cfg.DaemonConfig, dind.OSDeps(log, sigs)))
}
