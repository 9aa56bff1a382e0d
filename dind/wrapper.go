package dind

import (
	"fmt"
	"path"
	"strconv"

	"github.com/envbox/envbox/embed"
)

// DefaultDelegateAttempts is the script's default bound; see embed/delegate.sh.
const DefaultDelegateAttempts = 100

// Wrapper launches a binary through the cgroup delegation script inside a
// new cgroup namespace.
type Wrapper struct {
	// Unshare is the util-linux unshare binary ("unshare" when empty).
	Unshare string
	// Shell runs the script ("/bin/sh" when empty).
	Shell string
	// Attempts bounds the script's migration loop (DefaultDelegateAttempts
	// when zero).
	Attempts int
	// Isolated also unshares the mount namespace, so the cgroup2 remount
	// stays private to the daemon instead of leaking into the container.
	// It breaks sysbox-fs mount propagation unless /var/lib/sysboxfs is
	// rshared first, hence off by default.
	Isolated bool
	// CgroupNS, when set, is a cgroup namespace file to join (with
	// nsenter) instead of creating a new one. A restarted dockerd must
	// rejoin the namespace of the first delegation: envbox itself then
	// lives in /init, and a new namespace would be rooted there, nesting
	// every restart one /init deeper.
	CgroupNS string
	// Nsenter is the util-linux nsenter binary ("nsenter" when empty).
	Nsenter string
	// Hook, when set, is the envbox binary the script runs as
	// "Hook delegate-hook -- BIN ARGS..." once the tree is delegated, to
	// apply Reserve in the namespace BIN will run in.
	Hook    string
	Reserve Reserve
	// OOMScoreAdj, when set, is BIN's oom_score_adj: the one envbox had
	// before ProtectSelf, so the daemons keep the pod's score, not envbox's.
	OOMScoreAdj *int
}

// Command is a fully resolved command line: what background.Process runs.
type Command struct {
	// BinName is what the process becomes after the wrapper execs.
	BinName string
	Path    string
	Args    []string
	// Env holds the variables to add to the inherited environment.
	Env []string
}

// Argv returns Path followed by Args, as the kernel sees it.
func (c Command) Argv() []string { return append([]string{c.Path}, c.Args...) }

// Wrap returns the command that delegates the cgroup tree and then execs
// bin with args. bin becomes the script's $0.
func (w Wrapper) Wrap(bin string, args []string) (Command, error) {
	if bin == "" {
		return Command{}, fmt.Errorf("wrap: empty binary name")
	}
	if w.Attempts < 0 {
		return Command{}, fmt.Errorf("wrap %s: delegate attempts %d: must be positive", bin, w.Attempts)
	}
	unshare := w.Unshare
	if unshare == "" {
		unshare = "unshare"
	}
	shell := w.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	attempts := w.Attempts
	if attempts == 0 {
		attempts = DefaultDelegateAttempts
	}
	var prog string
	var argv []string
	switch {
	case w.CgroupNS == "":
		prog, argv = unshare, []string{"--cgroup"}
		if w.Isolated {
			argv = append(argv, "--mount", "--propagation", "slave")
		}
	case w.Isolated:
		prog, argv = w.nsenter(), []string{"--cgroup=" + w.CgroupNS, "--", unshare, "--mount", "--propagation", "slave"}
	default:
		prog, argv = w.nsenter(), []string{"--cgroup=" + w.CgroupNS}
	}
	argv = append(argv, "--", shell, "-c", embed.DelegateScript, bin)
	argv = append(argv, args...)
	env := []string{embed.EnvDelegateAttempts + "=" + strconv.Itoa(attempts)}
	if w.Hook != "" {
		env = append(env, embed.EnvDelegateHook+"="+w.Hook)
		env = append(env, w.Reserve.Env()...)
	}
	if w.OOMScoreAdj != nil {
		env = append(env, embed.EnvOOMScoreAdj+"="+strconv.Itoa(*w.OOMScoreAdj))
	}
	return Command{
		BinName: path.Base(bin),
		Path:    prog,
		Args:    argv,
		Env:     env,
	}, nil
}

func (w Wrapper) nsenter() string {
	if w.Nsenter == "" {
		return "nsenter"
	}
	return w.Nsenter
}
