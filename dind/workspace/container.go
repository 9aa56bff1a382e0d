package workspace

import (
	"path"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// Runtimes the workspace can run under.
const (
	RuntimeSysbox = "sysbox-runc"
	RuntimeRunc   = "runc"
)

// Inner device paths and the directory extra CA certificates land in.
const (
	TUNPath        = "/dev/net/tun"
	FUSEPath       = "/dev/fuse"
	InnerCertsDir  = "/usr/local/share/ca-certificates/envbox"
	hostGatewayMap = "host.docker.internal:host-gateway"
)

// Config is the validated description of the workspace container.
type Config struct {
	Name     string
	Image    string
	Hostname string // "" = Name
	WorkDir  string
	Runtime  string
	// Envs are the container's "NAME=value" entries, in order. The agent
	// token is never among them: it goes to the bootstrap exec only.
	Envs           []string
	Mounts         []Mount
	ExtraCertsPath string
	// UsrLibDir is the outer directory holding GPU driver libraries.
	UsrLibDir string
	// InnerUsrLibDir overrides the library directory detected from the
	// image's os-release.
	InnerUsrLibDir string
}

// Devices are what was found on the outer container for the workspace.
type Devices struct {
	TUN  bool
	FUSE bool
	// GPUs are device nodes (/dev/nvidia0, /dev/nvidiactl, ...).
	GPUs []string
	// GPULibs are driver libraries below Config.UsrLibDir.
	GPULibs []string
}

// Image is what envbox learned about the inner image before creating it.
type Image struct {
	// HasInit: /sbin/init exists; under sysbox it becomes PID 1.
	HasInit bool
	// OSReleaseID is ID= of /etc/os-release ("debian", "fedora", ...).
	OSReleaseID string
}

// Spec is the whole input of ContainerConfig.
type Spec struct {
	Config  Config
	Limits  Limits
	Devices Devices
	Image   Image
}

// ContainerConfig maps a spec to Docker's container and host configuration.
// It is pure: everything it depends on is in the spec.
func ContainerConfig(s Spec) (*container.Config, *container.HostConfig) {
	c := s.Config
	hostname := c.Hostname
	if hostname == "" {
		hostname = c.Name
	}
	entrypoint := []string{"sleep", "infinity"}
	if s.Image.HasInit && c.Runtime == RuntimeSysbox {
		// systemd as PID 1 needs sysbox; under runc it cannot run.
		entrypoint = []string{"/sbin/init"}
	}
	cfg := &container.Config{
		Image:      c.Image,
		Entrypoint: entrypoint,
		Cmd:        []string{},
		Env:        append([]string{}, c.Envs...),
		Hostname:   hostname,
		WorkingDir: c.WorkDir,
		User:       "root",
		Labels:     map[string]string{"dev.envbox.workspace": c.Name},
	}
	host := &container.HostConfig{
		Runtime:    c.Runtime,
		Binds:      binds(s),
		ExtraHosts: []string{hostGatewayMap},
		Resources: container.Resources{
			CPUPeriod: s.Limits.CPUPeriod,
			CPUQuota:  s.Limits.CPUQuota,
			Memory:    s.Limits.Memory,
			Devices:   devices(s.Devices),
		},
	}
	return cfg, host
}

func binds(s Spec) []string {
	out := []string{}
	for _, m := range s.Config.Mounts {
		out = append(out, m.Bind())
	}
	if p := s.Config.ExtraCertsPath; p != "" {
		out = append(out, Mount{Source: p, Target: path.Join(InnerCertsDir, path.Base(p)), ReadOnly: true}.Bind())
	}
	inner := s.Config.InnerUsrLibDir
	if inner == "" {
		inner = UsrLibDir(s.Image.OSReleaseID)
	}
	for _, lib := range s.Devices.GPULibs {
		rel := strings.TrimPrefix(lib, strings.TrimSuffix(s.Config.UsrLibDir, "/"))
		out = append(out, Mount{Source: lib, Target: path.Join(inner, rel), ReadOnly: true}.Bind())
	}
	return out
}

func devices(d Devices) []container.DeviceMapping {
	out := []container.DeviceMapping{}
	add := func(p string) {
		out = append(out, container.DeviceMapping{PathOnHost: p, PathInContainer: p, CgroupPermissions: "rwm"})
	}
	if d.TUN {
		add(TUNPath)
	}
	if d.FUSE {
		add(FUSEPath)
	}
	for _, g := range d.GPUs {
		add(g)
	}
	return out
}

// UsrLibDir is where an image's distribution keeps its shared libraries,
// by os-release ID: the GPU driver libraries go there.
func UsrLibDir(osReleaseID string) string {
	switch osReleaseID {
	case "debian", "ubuntu", "linuxmint", "pop", "kali":
		return "/usr/lib/x86_64-linux-gnu"
	case "fedora", "centos", "rhel", "rocky", "almalinux", "amzn", "ol", "opensuse-leap", "opensuse-tumbleweed", "sles":
		return "/usr/lib64"
	default:
		return "/usr/lib"
	}
}
