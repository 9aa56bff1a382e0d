package cli

import (
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/envbox/envbox/dind"
)

// envbox dind's own knobs; the docker:dind ones are in package dind.
// envStopGrace and envDockerTimeout are shared with `envbox docker` (same
// name, same meaning for the dockerd each command runs; different defaults).
const (
	envIsolatedMount   = "ENVBOX_ISOLATED_MOUNT"
	envDockerdRestarts = "ENVBOX_DOCKERD_RESTARTS"
	envMTU             = "ENVBOX_MTU"
)

// dindVars is the table of `envbox dind`. envbox's rows are a variable and
// a flag; docker:dind's are variables only, read as its entrypoint reads
// them. Flags go before "--", so they never collide with dockerd's.
var dindVars = varTable[dindConfig]{
	{env: envIsolatedMount, flag: "isolated-mount", isBool: true, def: "false",
		meaning:   "also unshare the mount namespace, so the cgroup2 remount stays private to dockerd instead of showing in this container",
		conflicts: "breaks sysbox-fs mount propagation unless /var/lib/sysboxfs is rshared first",
		set:       func(c *dindConfig, v string) error { return setBool(&c.Isolated, v) }},
	{env: envStopGrace, flag: "stop-grace", def: "10s",
		meaning:   "time dockerd (and in command mode the command) gets between SIGTERM and SIGKILL, on a stop or a restart",
		conflicts: "also read by envbox docker, where it is the workspace's grace (default 15s)",
		set:       func(c *dindConfig, v string) error { return setDuration(&c.StopGrace, v) }},
	{env: envDockerTimeout, flag: "ready-timeout", def: "60s",
		meaning:   "command mode: how long to wait for the Docker API before the command starts",
		conflicts: "envbox docker reads the same variable for the same wait (flag --dockerd-timeout there)",
		set:       func(c *dindConfig, v string) error { return setDuration(&c.ReadyTimeout, v) }},
	delegateAttemptsVar(func(c *dindConfig) *int { return &c.Attempts }),
	{env: envDockerdRestarts, flag: "dockerd-restarts", def: "3",
		meaning: "dockerd restarts allowed per 10 minutes, back-off 250ms doubling to 8s; 0 = never (docker:dind's behaviour)",
		set:     setRestarts},
	mtuVar(func(c *dindConfig) **int { return &c.MTU }),
	reserveMemoryVar(func(c *dindConfig) *dind.Amount { return &c.Headroom.Reserve.Memory }, dockerdReserve),
	reservePidsVar(func(c *dindConfig) *dind.Amount { return &c.Headroom.Reserve.Pids }, dockerdReserve),
	{env: dind.EnvReserveExecPids, flag: "reserve-exec-pids", def: strconv.Itoa(dind.DefaultExecPids),
		meaning: "tasks kept for docker exec and new containers when one container forks without bound: while dockerd runs, " +
			"each new container whose pids.max is max gets the containers' parent cgroup's pids.max minus this; 0 = off",
		conflicts: "only when the parent has a numeric pids.max (the reserve applied); a container's own --pids-limit wins",
		set:       func(c *dindConfig, v string) (err error) { c.ExecPids, err = dind.ParseExecPids(v); return err }},
	logFormatVar(func(c *dindConfig) *string { return &c.LogFormat }),
	{env: dind.EnvTLSCertDir, defText: "unix socket only", empty: "plain TCP on 2375 (--tls=false)",
		meaning: "an absolute directory: certificates generated there (or verified, when there is no CA key) and TLS on 2376 with --tlsverify; docker:dind's image sets /certs",
		set:     setTLSCertDir},
	{env: dind.EnvTLSSAN, meaning: `extra certificate SANs, "DNS:name,IP:addr"`,
		conflicts: "only with " + dind.EnvTLSCertDir + " a directory",
		set:       func(c *dindConfig, v string) error { return setString(&c.TLSSAN, v) }},
	{env: dind.EnvDockerHost, defText: dind.DefaultSocket,
		meaning: "unix:///PATH moves dockerd's unix socket (tcp://HOST:PORT is accepted and moves nothing); the command gets DOCKER_HOST pointing at dockerd",
		set:     func(c *dindConfig, v string) error { return setDockerHost(&c.Env.DockerHost, v) }},
	{env: dind.EnvIPTablesLegacy, defText: "legacy when legacy rules exist or only iptables-legacy works, else nft", empty: "nft",
		meaning: "non-empty: dockerd uses iptables-legacy",
		set:     func(c *dindConfig, v string) error { c.IPTablesLegacy = &v; return nil }},
}

func setRestarts(c *dindConfig, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return errors.New("want a whole number >= 0")
	}
	c.Restarts = n
	return nil
}

// setTLSCertDir keeps docker:dind's three states: unset (never called),
// empty (TLS off) and a directory. Relative, certificates would be
// written wherever envbox was started.
func setTLSCertDir(c *dindConfig, v string) error {
	if v != "" && !path.IsAbs(v) {
		return errors.New("want an absolute directory")
	}
	c.Env.TLSCertDir = &v
	return nil
}

var dindLong = `Runs dockerd through the cgroup delegation wrapper: a new cgroup namespace,
cgroup2 remounted so this container's cgroup is the root, every process moved
into /init, every controller enabled. Every inner container then nests under
this container's cgroup, inside its limits. envbox stays in front: it forwards
SIGTERM/SIGINT/SIGHUP/SIGQUIT, reaps zombies when it is PID 1, restarts dockerd
when it dies and exits with dockerd's status.

Arguments follow docker:dind's entrypoint:
  (none)              dockerd with the default listeners
  --flag ...          the default listeners followed by these dockerd flags
  dockerd ...         this dockerd command line, as given
  any other command   dockerd with the defaults, then the command with
                      DOCKER_HOST set; envbox exits with its status
envbox's own flags go before "--": envbox dind [envbox flags] -- [arguments]

` + dindVars.help(`envbox's flags (before "--") and variables (a flag wins over its variable;
an empty variable is unset unless its row says what empty means):`) + `
Exit status: 0 after a clean stop on SIGTERM/SIGINT/SIGQUIT; 2 for bad flags
or environment (nothing started); 1 when preflight or set-up fails (nothing
started) or, with a command, dockerd does not answer within the ready
timeout; 126 or 127 when the command cannot be executed or does not exist;
otherwise dockerd's (or the command's) status, 128+N when it was killed by
signal N, and 128+N too when signal N stops envbox before the command started
(the command never ran).`

// parseDindArgs splits envbox's flags (before "--") from docker:dind's
// arguments (everything after "--", or all of them when there is no "--")
// and reads the environment through lookup.
func parseDindArgs(args []string, lookup func(string) (string, bool), pid1 bool) (dindConfig, error) {
	cfg := dindConfig{Config: dind.Config{ContainerSetup: pid1}}
	fs := pflag.NewFlagSet("dind", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	vals := dindVars.flags(fs)
	rest := args
	if i := slices.Index(args, "--"); i >= 0 {
		if err := fs.Parse(args[:i]); err != nil {
			return cfg, err
		}
		if fs.NArg() > 0 {
			return cfg, fmt.Errorf("unexpected arguments before --: %q", fs.Args())
		}
		rest = args[i+1:]
	}
	if err := dindVars.parse(&cfg, lookup, vals, fs.Changed); err != nil {
		return cfg, err
	}
	cfg.Plan = dind.ResolveEntrypoint(rest, cfg.Env)
	return cfg, nil
}
