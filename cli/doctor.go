package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/spf13/afero"
	"github.com/spf13/cobra"

	"github.com/envbox/envbox/dind"
	"github.com/envbox/envbox/dind/doctor"
)

// doctorConfig is everything `envbox doctor` needs, parsed and validated.
type doctorConfig struct {
	JSON           bool
	Host           string // Docker API URL: unix:///path or tcp://host:port
	HostCgroupRoot string // host path of the cgroup2 mount's root; "" = from mountinfo
	PID            string // envbox's PID: a number or "self"
}

// doctorDeps are the OS seams of runDoctor.
type doctorDeps struct {
	Fs        afero.Fs
	Inode     func(path string) (uint64, error)
	NewDocker func(host string) (doctor.Docker, error)
}

// doctorVars is the table of `envbox doctor`.
var doctorVars = varTable[doctorConfig]{
	{flag: "json", isBool: true, def: "false", meaning: "print the report as JSON",
		set: func(c *doctorConfig, v string) error { return setBool(&c.JSON, v) }},
	{env: dind.EnvDockerHost, flag: "host", def: dind.DefaultSocket,
		meaning: "Docker API of the dockerd whose containers are checked (unix:///PATH or tcp://HOST:PORT)",
		set:     func(c *doctorConfig, v string) error { return setDockerHost(&c.Host, v) }},
	{flag: "host-cgroup-root", defText: "the mount's root in /proc/self/mountinfo",
		meaning: "the host's path of the pod's cgroup (the cgroup2 mount's root), e.g. from the node, to print host paths",
		set:     setHostCgroupRoot},
	{flag: "pid", def: "1", meaning: `PID of envbox in this PID namespace (1 when envbox is the container's init), or "self"`,
		set: setDoctorPID},
}

func setHostCgroupRoot(c *doctorConfig, v string) error {
	if !path.IsAbs(v) || path.Clean(v) != v {
		return errors.New("want a clean absolute cgroup path such as /kubepods.slice/pod.slice")
	}
	c.HostCgroupRoot = v
	return nil
}

func setDoctorPID(c *doctorConfig, v string) error {
	if n, err := strconv.Atoi(v); v != "self" && (err != nil || n <= 0 || strconv.Itoa(n) != v) {
		return errors.New(`want a positive process ID or "self"`)
	}
	c.PID = v
	return nil
}

func doctorCmd() *cobra.Command {
	var vals map[string]*rawValue
	cmd := &cobra.Command{
		Use:   "doctor [--json] [--host URL] [--host-cgroup-root PATH] [--pid PID]",
		Short: "Check that envbox and every running container are attributed to the pod's cgroup",
		Long: `Prints the cgroup mode, the cgroup2 mount and its root (the cgroup namespace
root), whether the delegation happened (an "init" leaf, every controller of
cgroup.controllers enabled in cgroup.subtree_control), the pod's CPU and memory
limits with the file they came from, and for envbox and every running
container of the local dockerd: its cgroup as seen here and as the host sees it,
its cgroup ID (the directory's inode: what Tetragon and Falco key on) and
whether it is at or below envbox's own cgroup root. Without a Docker API
(envbox run -- containerd, k3s, ...) it still lists every cgroup at or below
the pod with its processes, host path and cgroup ID, and checks that every
process envbox started (its descendants) is in one of them.

Exit status: 0 every process is attributed; 1 an offender (listed on stderr:
a container or a process outside the pod) or nothing could be checked; 2 a
bad flag or environment value.

` + doctorVars.help("Flags and variables (a flag wins over its variable; empty = unset):"),
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var cfg doctorConfig
			if err := doctorVars.parse(&cfg, os.LookupEnv, vals, c.Flags().Changed); err != nil {
				return usageError(err)
			}
			if cfg.PID == "self" {
				cfg.PID = strconv.Itoa(os.Getpid())
			}
			deps := doctorDeps{Fs: afero.NewOsFs(), Inode: doctor.OSInode, NewDocker: doctor.NewClient}
			return runDoctor(c.Context(), c.OutOrStdout(), cfg, deps)
		},
	}
	vals = doctorVars.flags(cmd.Flags())
	return cmd
}

// socketOf returns the socket path of a unix:// host, "" for tcp://.
func socketOf(host string) (string, error) {
	u, err := url.Parse(host)
	switch {
	case err != nil:
		return "", fmt.Errorf("docker host %q: %w", host, err)
	case u.Scheme == "unix" && u.Path != "" && u.Host == "":
		return u.Path, nil
	case u.Scheme == "tcp" && u.Host != "":
		return "", nil
	}
	return "", fmt.Errorf("docker host %q: want unix:///PATH or tcp://HOST:PORT", host)
}

// runDoctor prints the report and turns offenders into exit status 1.
func runDoctor(ctx context.Context, w io.Writer, cfg doctorConfig, deps doctorDeps) error {
	chk := &doctor.Checker{Fs: deps.Fs, Inode: deps.Inode, DockerHost: cfg.Host, PID: cfg.PID, HostRoot: cfg.HostCgroupRoot}
	if err := connectDocker(chk, cfg.Host, deps); err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	r, err := chk.Run(ctx)
	if err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("doctor: %w", err)}
	}
	if cfg.JSON {
		err = doctor.WriteJSON(w, r)
	} else {
		err = doctor.WriteHuman(w, r)
	}
	if err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("write report: %w", err)}
	}
	if len(r.Offenders) > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d not attributed: %s", len(r.Offenders), strings.Join(r.Offenders, "; "))}
	}
	return nil
}

// connectDocker sets chk.Docker, or a note when a unix socket does not
// exist: no dockerd runs, so there is no container to misplace.
func connectDocker(chk *doctor.Checker, host string, deps doctorDeps) error {
	sock, _ := socketOf(host) // validated
	if sock != "" {
		if _, err := deps.Fs.Stat(sock); errors.Is(err, fs.ErrNotExist) {
			chk.DockerNote = "no socket " + sock + " (dockerd not running)"
			return nil
		}
	}
	d, err := deps.NewDocker(host)
	if err != nil {
		return err
	}
	chk.Docker = d
	return nil
}
