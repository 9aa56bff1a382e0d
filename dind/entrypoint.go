package dind

import (
	"path"
	"strings"
)

// Environment variables of docker:dind's entrypoint that envbox honours.
const (
	EnvDockerHost     = "DOCKER_HOST"
	EnvTLSCertDir     = "DOCKER_TLS_CERTDIR"
	EnvTLSSAN         = "DOCKER_TLS_SAN"
	EnvIPTablesLegacy = "DOCKER_IPTABLES_LEGACY"
)

// DefaultSocket is dockerd's unix socket when DOCKER_HOST does not name one.
const DefaultSocket = "unix:///var/run/docker.sock"

// Plan is what `envbox dind ARGS...` runs, resolved the way docker:dind's
// dockerd-entrypoint.sh resolves its arguments.
type Plan struct {
	// Dockerd is the dockerd argv (argv[0] is the binary); always set.
	Dockerd []string
	// Command, when set, runs after dockerd answers, with DOCKER_HOST
	// pointing at it; envbox exits with its status.
	Command []string
	// TLSCertDir is where certificates live when TLS is on ("" = off).
	TLSCertDir string
	// Socket is the unix listener dockerd serves (a unix:// URL).
	Socket string
}

// EntrypointEnv is the part of the environment docker:dind's entrypoint reads.
type EntrypointEnv struct {
	DockerHost string
	// TLSCertDir is nil when DOCKER_TLS_CERTDIR is unset: envbox then
	// serves the unix socket only. Set but empty is docker:dind's "TLS
	// disabled": plain TCP on 2375.
	TLSCertDir *string
}

// ResolveEntrypoint maps docker:dind arguments to a Plan:
//   - no arguments, or a first argument starting with "-": dockerd with the
//     default listeners, followed by the arguments;
//   - "dockerd ...": used as given;
//   - anything else: dockerd with the defaults, then the command.
func ResolveEntrypoint(args []string, env EntrypointEnv) Plan {
	p := Plan{Socket: DefaultSocket}
	if strings.HasPrefix(env.DockerHost, "unix://") {
		p.Socket = env.DockerHost
	}
	if len(args) > 0 && path.Base(args[0]) == "dockerd" {
		// An explicit dockerd command line is used as given; like
		// docker:dind, no certificates are generated for it.
		p.Dockerd = args
		return p
	}
	defaults := []string{"dockerd", "--host=" + p.Socket}
	switch {
	case env.TLSCertDir == nil:
	case *env.TLSCertDir == "":
		// --tls=false: without it dockerd sleeps 15 s warning about an
		// unauthenticated TCP listener.
		defaults = append(defaults, "--host=tcp://0.0.0.0:2375", "--tls=false")
	default:
		dir := *env.TLSCertDir
		p.TLSCertDir = dir
		defaults = append(defaults,
			"--host=tcp://0.0.0.0:2376",
			"--tlsverify",
			"--tlscacert", dir+"/server/ca.pem",
			"--tlscert", dir+"/server/cert.pem",
			"--tlskey", dir+"/server/key.pem",
		)
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		p.Dockerd = append(defaults, args...)
		return p
	}
	p.Dockerd = defaults
	p.Command = args
	return p
}
