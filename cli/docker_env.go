package cli

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/distribution/reference"
	"github.com/spf13/afero"

	"github.com/envbox/envbox/dind"
	"github.com/envbox/envbox/dind/workspace"
)

// The environment contract of `envbox docker`, compatible with coder/envbox.
const (
	envInnerImage           = "CODER_INNER_IMAGE"
	envInnerUsername        = "CODER_INNER_USERNAME"
	envAgentToken           = workspace.EnvAgentToken
	envAgentURL             = workspace.EnvAgentURL
	envAgentSubsystem       = workspace.EnvAgentSubsystem
	envInnerEnvs            = "CODER_INNER_ENVS"
	envInnerHostname        = "CODER_INNER_HOSTNAME"
	envInnerWorkDir         = "CODER_INNER_WORK_DIR"
	envImagePullSecret      = workspace.EnvImagePullSecret
	envDockerConfig         = "CODER_DOCKER_CONFIG"
	envBridgeCIDR           = "CODER_DOCKER_BRIDGE_CIDR"
	envBootstrapScript      = "CODER_BOOTSTRAP_SCRIPT"
	envMounts               = "CODER_MOUNTS"
	envUsrLibDir            = "CODER_USR_LIB_DIR"
	envInnerUsrLibDir       = "CODER_INNER_USR_LIB_DIR"
	envAddTUN               = "CODER_ADD_TUN"
	envAddFUSE              = "CODER_ADD_FUSE"
	envAddGPU               = "CODER_ADD_GPU"
	envCPUs                 = "CODER_CPUS"
	envMemory               = "CODER_MEMORY"
	envDisableIDMappedMount = workspace.EnvDisableIDMappedMount
	envExtraCertsPath       = workspace.EnvExtraCertsPath
	envContainerName        = "CODER_CVM_CONTAINER_NAME"
	envDebug                = "CODER_DEBUG"

	// envbox's own knobs for the workspace flow.
	envInnerRuntime  = "ENVBOX_INNER_RUNTIME"
	envDockerd       = "ENVBOX_DOCKERD"
	envDataRoot      = "ENVBOX_DOCKER_DATA_ROOT"
	envDockerSocket  = "ENVBOX_DOCKER_SOCKET"
	envDockerTimeout = "ENVBOX_DOCKERD_TIMEOUT"
	envStopGrace     = "ENVBOX_STOP_GRACE"
	envDockerdArgs   = "ENVBOX_DOCKERD_EXTRA_ARGS"
	envPull          = "ENVBOX_PULL"
)

// minMemory is dockerd's lower bound for a container memory limit (6 MiB).
const minMemory = 6 << 20

// dockerConfig is everything `envbox docker` needs, parsed and validated:
// the session's configuration and what only cli uses.
type dockerConfig struct {
	workspace.SessionConfig
	LogFormat string
}

// dockerVar is one row of the contract of `envbox docker`.
type dockerVar = envVar[dockerConfig]

// dockerVars is THE table. Order is the order of --help and the docs.
var dockerVars = varTable[dockerConfig]{
	{env: envInnerImage, flag: "image", required: true, meaning: "image of the inner workspace container",
		set: setImage},
	{env: envInnerUsername, flag: "username", required: true, meaning: "user the bootstrap script runs as inside the workspace",
		set: func(c *dockerConfig, v string) error { return setName(&c.Username, v, userRE) }},
	{env: envAgentToken, flag: "agent-token", required: true, secret: true, meaning: "Coder agent token, given to the bootstrap script only; redacted from every log line",
		conflicts: "a flag shows in /proc/*/cmdline: prefer the variable",
		set:       setToken},
	{env: envAgentURL, flag: "agent-url", meaning: "URL of the Coder deployment, passed into the workspace",
		set: setAgentURL},
	{env: envAgentSubsystem, flag: "agent-subsystem", def: "envbox", meaning: `comma list passed into the workspace; "envbox" is always added`,
		set: setSubsystem},
	{env: envInnerEnvs, flag: "envs", meaning: "comma list of outer variables copied into the workspace: NAME or PREFIX_*",
		conflicts: "never copies " + envAgentToken + " or " + envImagePullSecret,
		set: func(c *dockerConfig, v string) (err error) {
			c.InnerEnvs, err = workspace.ParseEnvPatterns(v)
			return err
		}},
	{env: envInnerHostname, flag: "hostname", meaning: "hostname of the workspace", defText: "the container name",
		set: func(c *dockerConfig, v string) error { return setName(&c.Hostname, v, hostnameRE) }},
	{env: envInnerWorkDir, flag: "work-dir", meaning: "working directory of the workspace (absolute)", defText: "the image's",
		set: func(c *dockerConfig, v string) error { return setAbs(&c.WorkDir, v) }},
	{env: envImagePullSecret, flag: "image-secret", secret: true, meaning: "a .dockerconfigjson document used to pull the image; never logged",
		conflicts: "wins over " + envDockerConfig,
		set:       setPullSecret},
	{env: envDockerConfig, flag: "docker-config", def: "/root/.docker/config.json", meaning: "docker config file consulted for pull credentials when it exists",
		conflicts: "ignored when " + envImagePullSecret + " is set",
		set:       func(c *dockerConfig, v string) error { return setAbs(&c.DockerConfig, v) }},
	{env: envBridgeCIDR, flag: "bridge-cidr", def: "172.19.0.1/30", meaning: "IPv4 CIDR of the inner dockerd's bridge (--bip and --fixed-cidr)",
		set: setBridge},
	{env: envBootstrapScript, flag: "bootstrap-script", meaning: "shell script run with /bin/sh -s as the user once the workspace started; usually starts the agent", defText: "none: no bootstrap",
		set: func(c *dockerConfig, v string) error { c.BootstrapScript = v; return nil }},
	{env: envMounts, flag: "mounts", meaning: `comma list of bind mounts "src:dst[:ro]", absolute paths`,
		set: func(c *dockerConfig, v string) (err error) { c.Mounts, err = workspace.ParseMounts(v); return err }},
	{env: envUsrLibDir, flag: "usr-lib-dir", meaning: "outer directory holding the host's GPU driver libraries",
		conflicts: "required by " + envAddGPU,
		set:       func(c *dockerConfig, v string) error { return setAbs(&c.UsrLibDir, v) }},
	{env: envInnerUsrLibDir, flag: "inner-usr-lib-dir", meaning: "where GPU libraries go in the workspace", defText: "from the image's /etc/os-release",
		conflicts: "only used with " + envAddGPU,
		set:       func(c *dockerConfig, v string) error { return setAbs(&c.InnerUsrLibDir, v) }},
	{env: envAddTUN, flag: "add-tun", isBool: true, def: "false", meaning: "give the workspace /dev/net/tun",
		set: func(c *dockerConfig, v string) error { return setBool(&c.AddTUN, v) }},
	{env: envAddFUSE, flag: "add-fuse", isBool: true, def: "false", meaning: "give the workspace /dev/fuse",
		set: func(c *dockerConfig, v string) error { return setBool(&c.AddFUSE, v) }},
	{env: envAddGPU, flag: "add-gpu", isBool: true, def: "false", meaning: "give the workspace the outer /dev/nvidia* devices and driver libraries",
		conflicts: "needs " + envUsrLibDir,
		set:       func(c *dockerConfig, v string) error { return setBool(&c.AddGPU, v) }},
	{env: envCPUs, flag: "cpus", meaning: "CPU limit of the workspace, e.g. 1.5", defText: "the outer cgroup's quota",
		set: setCPUs},
	{env: envMemory, flag: "memory", meaning: "memory limit of the workspace in bytes", defText: "the outer cgroup's limit",
		set: setMemory},
	{env: envDisableIDMappedMount, flag: "disable-idmapped-mount", isBool: true, def: "false", meaning: "pass --disable-idmapped-mount to sysbox-mgr",
		conflicts: "no effect without sysbox",
		set:       func(c *dockerConfig, v string) error { return setBool(&c.DisableIDMapped, v) }},
	{env: envExtraCertsPath, flag: "extra-certs-path", meaning: "CA certificate file or directory (PEM): dockerd trusts it for the image's registry (/etc/docker/certs.d/<host[:port]>/ca.crt), and it is mounted read-only under /usr/local/share/ca-certificates/envbox",
		conflicts: "read before anything starts: a path holding no certificate exits 2",
		set:       func(c *dockerConfig, v string) error { return setAbs(&c.ExtraCertsPath, v) }},
	{env: envContainerName, flag: "container-name", def: "workspace_cvm", meaning: "name of the inner container",
		set: func(c *dockerConfig, v string) error { return setName(&c.ContainerName, v, containerNameRE) }},
	{env: envDebug, flag: "debug", isBool: true, def: "false", meaning: "log at debug level",
		set: func(c *dockerConfig, v string) error { return setBool(&c.Debug, v) }},
	{env: envInnerRuntime, flag: "runtime", meaning: "OCI runtime of the workspace", defText: "sysbox-runc when sysbox is installed, else runc",
		set: func(c *dockerConfig, v string) error { return setName(&c.Runtime, v, runtimeRE) }},
	{env: envDockerd, flag: "dockerd", def: "dockerd", meaning: "dockerd binary, started through the delegation wrapper",
		set: setDockerd},
	{env: envDataRoot, flag: "data-root", def: "/var/lib/docker", meaning: "dockerd --data-root",
		set: func(c *dockerConfig, v string) error { return setAbs(&c.DataRoot, v) }},
	{env: envDockerSocket, flag: "docker-socket", def: "/var/run/docker.sock", meaning: "unix socket dockerd listens on",
		set: func(c *dockerConfig, v string) error { return setAbs(&c.Socket, v) }},
	{env: envDockerdArgs, flag: "dockerd-extra-args", meaning: "extra dockerd flags, space separated, appended after envbox's (e.g. --exec-root=/run/d --pidfile=/run/d.pid)",
		set: setDockerdArgs},
	{env: envPull, flag: "pull", def: workspace.PullMissing, meaning: `"missing": pull the image only when the data root lacks it; "always": pull at every start (a moving tag)`,
		set: setPull},
	{env: envDockerTimeout, flag: "dockerd-timeout", def: "60s", meaning: "how long to wait for the Docker API",
		conflicts: "envbox dind reads the same variable for the same wait (flag --ready-timeout there)",
		set:       func(c *dockerConfig, v string) error { return setDuration(&c.DockerTimeout, v) }},
	{env: envStopGrace, flag: "stop-grace", def: "15s", meaning: "time the workspace gets to stop on SIGTERM before it is killed; dockerd then gets up to 10s, so 15s + 10s fits Kubernetes' default terminationGracePeriodSeconds of 30s: keep grace + 10s below the pod's",
		conflicts: "also read by envbox dind, where it is dockerd's grace (default 10s)",
		set:       func(c *dockerConfig, v string) error { return setDuration(&c.StopGrace, v) }},
	delegateAttemptsVar(func(c *dockerConfig) *int { return &c.Attempts }),
	mtuVar(func(c *dockerConfig) **int { return &c.MTU }),
	reserveMemoryVar(func(c *dockerConfig) *dind.Amount { return &c.Headroom.Reserve.Memory }, dockerdReserve),
	reservePidsVar(func(c *dockerConfig) *dind.Amount { return &c.Headroom.Reserve.Pids }, dockerdReserve),
	logFormatVar(func(c *dockerConfig) *string { return &c.LogFormat }),
}

var (
	userRE          = regexp.MustCompile(`^[a-z_][a-z0-9_.-]*\$?$|^[0-9]+$`)
	hostnameRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	containerNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
	runtimeRE       = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	subsystemRE     = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
)

// setImage accepts what docker pull accepts: a normalized reference.
func setImage(c *dockerConfig, v string) error {
	if _, err := reference.ParseNormalizedNamed(v); err != nil {
		return fmt.Errorf("want an image reference such as debian:12 or ghcr.io/org/img@sha256:... (%w)", err)
	}
	c.Image = v
	return nil
}

// setToken refuses a token that cannot be one: a blank or a control
// character would end up in the workspace's environment as given. The
// error never holds the value.
func setToken(c *dockerConfig, v string) error {
	if strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return errors.New("want a token without blanks or control characters")
	}
	c.AgentToken = v
	return nil
}

// setDockerd takes a name looked up in PATH or an absolute path.
func setDockerd(c *dockerConfig, v string) error {
	if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsSpace) || (strings.Contains(v, "/") && !path.IsAbs(v)) {
		return errors.New("want a binary name or an absolute path without blanks")
	}
	c.Dockerd = v
	return nil
}

// parseDocker fills a config from flags (which win) and variables. changed
// reports whether a flag was given on the command line.
func parseDocker(lookup func(string) (string, bool), vals map[string]*rawValue, changed func(string) bool) (dockerConfig, error) {
	var c dockerConfig
	if err := dockerVars.parse(&c, lookup, vals, changed); err != nil {
		return c, err
	}
	return c, c.validate()
}

// validate checks what no single value can: combinations.
func (c *dockerConfig) validate() error {
	if c.AddGPU && c.UsrLibDir == "" {
		return fmt.Errorf("%s=true needs %s (the outer driver library directory)", envAddGPU, envUsrLibDir)
	}
	if c.InnerUsrLibDir != "" && !c.AddGPU {
		return fmt.Errorf("%s is set but %s is not true", envInnerUsrLibDir, envAddGPU)
	}
	// The pull secret's entry for the image's registry is checked now,
	// not when a pull needs it: a bad value exits 2 before anything
	// starts. The error names the registry and the key, never a
	// credential.
	if c.PullSecret != nil {
		if _, err := c.PullSecret.CredentialsFor(c.Image); err != nil {
			return fmt.Errorf("%s: %w", dockerVars.row(envImagePullSecret).label(), err)
		}
	}
	return nil
}

func setAgentURL(c *dockerConfig, v string) error {
	u, err := url.Parse(v)
	if err != nil || !utf8.ValidString(v) || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(u.Hostname()) > 253 {
		return errors.New("want an absolute http(s) URL")
	}
	c.AgentURL = v
	return nil
}

// setSubsystem keeps the coder/envbox behaviour: the list is deduplicated,
// sorted, and always holds "envbox".
func setSubsystem(c *dockerConfig, v string) error {
	seen := map[string]bool{"envbox": true}
	subs := []string{"envbox"}
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		if !subsystemRE.MatchString(s) {
			return fmt.Errorf("name %q: want letters, digits, _ or -", s)
		}
		seen[s] = true
		subs = append(subs, s)
	}
	slices.Sort(subs)
	c.AgentSubsystem = subs
	return nil
}

func setPull(c *dockerConfig, v string) error {
	if v != workspace.PullMissing && v != workspace.PullAlways {
		return errors.New(`want "missing" or "always"`)
	}
	c.Pull = v
	return nil
}

func setPullSecret(c *dockerConfig, v string) error {
	d, err := workspace.ParseDockerConfig([]byte(v))
	if err != nil {
		return err
	}
	c.PullSecret = &d
	return nil
}

func setBridge(c *dockerConfig, v string) error {
	ip, n, err := net.ParseCIDR(v)
	if err != nil {
		return errors.New("want an IPv4 CIDR such as 172.19.0.1/30")
	}
	ones, bits := n.Mask.Size()
	if ip.To4() == nil || bits != 32 || ones > 30 {
		return errors.New("want an IPv4 CIDR with a prefix of at most /30")
	}
	if ip.Equal(n.IP) {
		// The network address names no host: the bridge takes the first one.
		ip = net.IPv4(n.IP[0], n.IP[1], n.IP[2], n.IP[3]+1).To4()
	}
	c.BridgeIP, c.BridgeNet = ip.To4(), n
	return nil
}

func setCPUs(c *dockerConfig, v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0) || f > 1<<20 { // !(f > 0) also rejects NaN
		return errors.New("want a positive number of CPUs such as 2 or 0.5")
	}
	if f*100000 < 1000 {
		return errors.New("below the kernel's minimum quota of 0.01 CPU")
	}
	c.CPUs = f
	return nil
}

func setMemory(c *dockerConfig, v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return errors.New("want a positive whole number of bytes")
	}
	if n < minMemory {
		return fmt.Errorf("below dockerd's minimum of %d bytes", minMemory)
	}
	c.Memory = n
	return nil
}

func setDockerdArgs(c *dockerConfig, v string) error {
	for _, a := range strings.Fields(v) {
		if !strings.HasPrefix(a, "--") {
			return fmt.Errorf("argument %q: want --flag or --flag=value", a)
		}
		c.DockerdArgs = append(c.DockerdArgs, a)
	}
	return nil
}

// readCAs reads CODER_EXTRA_CERTS_PATH before anything starts: a path
// holding no certificate is a bad value (exit 2), not a failed pull later.
func (c *dockerConfig) readCAs(fsys afero.Fs) error {
	if c.ExtraCertsPath == "" {
		return nil
	}
	cas, _, err := workspace.ReadCAs(fsys, c.ExtraCertsPath)
	if err != nil {
		return fmt.Errorf("%s: %w", dockerVars.row(envExtraCertsPath).label(), err)
	}
	c.RegistryCAs = cas
	return nil
}
