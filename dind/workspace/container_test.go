package workspace

import (
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestContainerConfigFull(t *testing.T) {
	t.Parallel()
	spec := Spec{
		Config: Config{
			Name:     "workspace_cvm",
			Image:    "ghcr.io/acme/dev:1.2",
			Hostname: "dev-box",
			WorkDir:  "/home/coder",
			Runtime:  RuntimeSysbox,
			Envs:     []string{"CODER_AGENT_SUBSYSTEM=envbox,exectrace", "CODER_AGENT_URL=https://coder.example.com", "FOO=bar"},
			Mounts: []Mount{
				{Source: "/home/coder", Target: "/home/coder"},
				{Source: "/var/lib/shared", Target: "/mnt/shared", ReadOnly: true},
			},
			ExtraCertsPath: "/etc/ssl/extra",
			UsrLibDir:      "/var/coder/usr/lib/",
		},
		Limits: Limits{CPUQuota: 150000, CPUPeriod: 100000, Memory: 2147483648},
		Devices: Devices{
			TUN:     true,
			FUSE:    true,
			GPUs:    []string{"/dev/nvidia0", "/dev/nvidiactl"},
			GPULibs: []string{"/var/coder/usr/lib/libcuda.so.1", "/var/coder/usr/lib/nvidia/libnvidia-ml.so.535.54.03"},
		},
		Image: Image{HasInit: true, OSReleaseID: "ubuntu"},
	}
	wantCfg := &container.Config{
		Image:      "ghcr.io/acme/dev:1.2",
		Entrypoint: []string{"/sbin/init"},
		Cmd:        []string{},
		Env:        []string{"CODER_AGENT_SUBSYSTEM=envbox,exectrace", "CODER_AGENT_URL=https://coder.example.com", "FOO=bar"},
		Hostname:   "dev-box",
		WorkingDir: "/home/coder",
		User:       "root",
		Labels:     map[string]string{"dev.envbox.workspace": "workspace_cvm"},
	}
	wantHost := &container.HostConfig{
		Runtime: "sysbox-runc",
		Binds: []string{
			"/home/coder:/home/coder",
			"/var/lib/shared:/mnt/shared:ro",
			"/etc/ssl/extra:/usr/local/share/ca-certificates/envbox/extra:ro",
			"/var/coder/usr/lib/libcuda.so.1:/usr/lib/x86_64-linux-gnu/libcuda.so.1:ro",
			"/var/coder/usr/lib/nvidia/libnvidia-ml.so.535.54.03:/usr/lib/x86_64-linux-gnu/nvidia/libnvidia-ml.so.535.54.03:ro",
		},
		ExtraHosts: []string{"host.docker.internal:host-gateway"},
		Resources: container.Resources{
			CPUPeriod: 100000,
			CPUQuota:  150000,
			Memory:    2147483648,
			Devices: []container.DeviceMapping{
				{PathOnHost: "/dev/net/tun", PathInContainer: "/dev/net/tun", CgroupPermissions: "rwm"},
				{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"},
				{PathOnHost: "/dev/nvidia0", PathInContainer: "/dev/nvidia0", CgroupPermissions: "rwm"},
				{PathOnHost: "/dev/nvidiactl", PathInContainer: "/dev/nvidiactl", CgroupPermissions: "rwm"},
			},
		},
	}
	cfg, host := ContainerConfig(spec)
	if !reflect.DeepEqual(cfg, wantCfg) {
		t.Errorf("ContainerConfig(%+v) config =\n%+v\nwant\n%+v", spec, cfg, wantCfg)
	}
	if !reflect.DeepEqual(host, wantHost) {
		t.Errorf("ContainerConfig(%+v) host config =\n%+v\nwant\n%+v", spec, host, wantHost)
	}
}

func TestContainerConfigMinimalRunc(t *testing.T) {
	t.Parallel()
	spec := Spec{
		Config: Config{Name: "ws", Image: "envbox-base:latest", Runtime: RuntimeRunc},
		Image:  Image{HasInit: true}, // ignored: systemd cannot be PID 1 under plain runc
	}
	wantCfg := &container.Config{
		Image:      "envbox-base:latest",
		Entrypoint: []string{"sleep", "infinity"},
		Cmd:        []string{},
		Env:        []string{},
		Hostname:   "ws",
		User:       "root",
		Labels:     map[string]string{"dev.envbox.workspace": "ws"},
	}
	wantHost := &container.HostConfig{
		Runtime:    "runc",
		Binds:      []string{},
		ExtraHosts: []string{"host.docker.internal:host-gateway"},
		Resources:  container.Resources{Devices: []container.DeviceMapping{}},
	}
	cfg, host := ContainerConfig(spec)
	if !reflect.DeepEqual(cfg, wantCfg) {
		t.Errorf("config =\n%+v\nwant\n%+v", cfg, wantCfg)
	}
	if !reflect.DeepEqual(host, wantHost) {
		t.Errorf("host config =\n%+v\nwant\n%+v", host, wantHost)
	}
}

func TestContainerConfigInnerLibDirOverride(t *testing.T) {
	t.Parallel()
	spec := Spec{
		Config:  Config{Name: "ws", Image: "i", Runtime: RuntimeRunc, UsrLibDir: "/host/lib", InnerUsrLibDir: "/opt/lib"},
		Devices: Devices{GPUs: []string{"/dev/nvidia0"}, GPULibs: []string{"/host/lib/libcuda.so"}},
		Image:   Image{OSReleaseID: "fedora"},
	}
	_, host := ContainerConfig(spec)
	want := []string{"/host/lib/libcuda.so:/opt/lib/libcuda.so:ro"}
	if !reflect.DeepEqual(host.Binds, want) {
		t.Errorf("binds = %q, want %q", host.Binds, want)
	}
}

func TestUsrLibDir(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"debian": "/usr/lib/x86_64-linux-gnu", "ubuntu": "/usr/lib/x86_64-linux-gnu",
		"fedora": "/usr/lib64", "amzn": "/usr/lib64", "alpine": "/usr/lib", "": "/usr/lib",
	} {
		if got := UsrLibDir(in); got != want {
			t.Errorf("UsrLibDir(%q) = %q, want %q", in, got, want)
		}
	}
}
