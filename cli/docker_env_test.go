package cli

import (
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/registry"
	"github.com/spf13/afero"
	"github.com/spf13/pflag"

	"github.com/envbox/envbox/dind"
	"github.com/envbox/envbox/dind/workspace"
)

const testToken = "tok-SECRET-4f9a"

// requiredEnv is the smallest valid environment.
func requiredEnv() map[string]string {
	return map[string]string{
		envInnerImage:    "codercom/enterprise-base:ubuntu",
		envInnerUsername: "coder",
		envAgentToken:    testToken,
	}
}

// parseWith parses env (plus the required variables unless overridden) and
// command-line args.
func parseWith(t *testing.T, env map[string]string, args ...string) (dockerConfig, error) {
	t.Helper()
	all := requiredEnv()
	for k, v := range env {
		all[k] = v
	}
	fs := pflag.NewFlagSet("docker", pflag.ContinueOnError)
	vals := dockerVars.flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse flags %q: %v", args, err)
	}
	lookup := func(k string) (string, bool) { v, ok := all[k]; return v, ok }
	return parseDocker(lookup, vals, func(f string) bool { return fs.Changed(f) })
}

// defaults is the config of requiredEnv alone, spelled out.
func defaults() dockerConfig {
	_, bridge, _ := net.ParseCIDR("172.19.0.0/30")
	return dockerConfig{SessionConfig: workspace.SessionConfig{
		Image:          "codercom/enterprise-base:ubuntu",
		Username:       "coder",
		AgentToken:     testToken,
		AgentSubsystem: []string{"envbox"},
		DockerConfig:   "/root/.docker/config.json",
		BridgeIP:       net.IPv4(172, 19, 0, 1).To4(),
		BridgeNet:      bridge,
		ContainerName:  "workspace_cvm",
		Dockerd:        "dockerd",
		DataRoot:       "/var/lib/docker",
		Socket:         "/var/run/docker.sock",
		DockerTimeout:  60 * time.Second,
		StopGrace:      15 * time.Second,
		Attempts:       100,
		Pull:           "missing",
		Headroom:       dind.Headroom{Reserve: dind.Reserve{Memory: dind.Amount{Auto: true}, Pids: dind.Amount{Auto: true}}},
	}}
}

func TestParseDockerValid(t *testing.T) {
	t.Parallel()
	_, net10, _ := net.ParseCIDR("10.20.0.0/24")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		edit func(c *dockerConfig)
	}{
		{name: "defaults", edit: func(*dockerConfig) {}},
		{name: "agent_url", env: map[string]string{envAgentURL: "https://coder.example.com"},
			edit: func(c *dockerConfig) { c.AgentURL = "https://coder.example.com" }},
		{name: "agent_subsystem_merged_sorted", env: map[string]string{envAgentSubsystem: "exectrace, zeta,envbox,,exectrace"},
			edit: func(c *dockerConfig) { c.AgentSubsystem = []string{"envbox", "exectrace", "zeta"} }},
		{name: "inner_envs", env: map[string]string{envInnerEnvs: "FOO, NVIDIA_*,BAR"},
			edit: func(c *dockerConfig) { c.InnerEnvs = []string{"FOO", "NVIDIA_*", "BAR"} }},
		{name: "hostname", env: map[string]string{envInnerHostname: "dev-box"},
			edit: func(c *dockerConfig) { c.Hostname = "dev-box" }},
		{name: "work_dir_cleaned", env: map[string]string{envInnerWorkDir: "/home/coder/"},
			edit: func(c *dockerConfig) { c.WorkDir = "/home/coder" }},
		{name: "pull_secret", env: map[string]string{envImagePullSecret: `{"auths":{"ghcr.io":{"auth":"dTpw"}}}`},
			edit: func(c *dockerConfig) {
				c.PullSecret = &workspace.DockerConfig{Auths: map[string]registry.AuthConfig{"ghcr.io": {Auth: "dTpw"}}}
			}},
		{name: "docker_config", env: map[string]string{envDockerConfig: "/etc/docker-auth/config.json"},
			edit: func(c *dockerConfig) { c.DockerConfig = "/etc/docker-auth/config.json" }},
		{name: "bridge_cidr_host_address", env: map[string]string{envBridgeCIDR: "10.20.0.5/24"},
			edit: func(c *dockerConfig) { c.BridgeIP, c.BridgeNet = net.IPv4(10, 20, 0, 5).To4(), net10 }},
		{name: "bridge_cidr_network_address", env: map[string]string{envBridgeCIDR: "10.20.0.0/24"},
			edit: func(c *dockerConfig) { c.BridgeIP, c.BridgeNet = net.IPv4(10, 20, 0, 1).To4(), net10 }},
		{name: "bootstrap_script", env: map[string]string{envBootstrapScript: "#!/bin/sh\necho hi\n"},
			edit: func(c *dockerConfig) { c.BootstrapScript = "#!/bin/sh\necho hi\n" }},
		{name: "mounts", env: map[string]string{envMounts: "/home/coder:/home/coder,/var/lib/ro:/mnt/ro:ro"},
			edit: func(c *dockerConfig) {
				c.Mounts = []workspace.Mount{{Source: "/home/coder", Target: "/home/coder"}, {Source: "/var/lib/ro", Target: "/mnt/ro", ReadOnly: true}}
			}},
		{name: "gpu", env: map[string]string{envAddGPU: "true", envUsrLibDir: "/var/coder/usr/lib", envInnerUsrLibDir: "/usr/lib64"},
			edit: func(c *dockerConfig) {
				c.AddGPU, c.UsrLibDir, c.InnerUsrLibDir = true, "/var/coder/usr/lib", "/usr/lib64"
			}},
		{name: "tun_fuse", env: map[string]string{envAddTUN: "1", envAddFUSE: "TRUE"},
			edit: func(c *dockerConfig) { c.AddTUN, c.AddFUSE = true, true }},
		{name: "cpus_fraction", env: map[string]string{envCPUs: "1.5"},
			edit: func(c *dockerConfig) { c.CPUs = 1.5 }},
		{name: "memory", env: map[string]string{envMemory: "2147483648"},
			edit: func(c *dockerConfig) { c.Memory = 2147483648 }},
		{name: "disable_idmapped_mount", env: map[string]string{envDisableIDMappedMount: "true"},
			edit: func(c *dockerConfig) { c.DisableIDMapped = true }},
		{name: "extra_certs", env: map[string]string{envExtraCertsPath: "/etc/ssl/extra"},
			edit: func(c *dockerConfig) { c.ExtraCertsPath = "/etc/ssl/extra" }},
		{name: "pull_always", env: map[string]string{envPull: "always"},
			edit: func(c *dockerConfig) { c.Pull = "always" }},
		{name: "pull_flag", args: []string{"--pull=missing"},
			edit: func(*dockerConfig) {}},
		{name: "container_name", env: map[string]string{envContainerName: "ws-1"},
			edit: func(c *dockerConfig) { c.ContainerName = "ws-1" }},
		{name: "debug", env: map[string]string{envDebug: "true"},
			edit: func(c *dockerConfig) { c.Debug = true }},
		{name: "runtime", env: map[string]string{envInnerRuntime: "runc"},
			edit: func(c *dockerConfig) { c.Runtime = "runc" }},
		{name: "envbox_knobs", env: map[string]string{envDockerd: "/usr/bin/dockerd", envDataRoot: "/data/docker", envDockerSocket: "/run/d.sock",
			envDockerTimeout: "5s", envStopGrace: "3s", "ENVBOX_DELEGATE_ATTEMPTS": "7", envLogFormat: "human"},
			edit: func(c *dockerConfig) {
				c.Dockerd, c.DataRoot, c.Socket, c.DockerTimeout, c.StopGrace, c.Attempts, c.LogFormat =
					"/usr/bin/dockerd", "/data/docker", "/run/d.sock", 5*time.Second, 3*time.Second, 7, "human"
			}},
		{name: "empty_is_unset", env: map[string]string{envCPUs: "", envInnerHostname: "", envAddTUN: ""},
			edit: func(*dockerConfig) {}},
		{name: "envbox_empty_is_unset", env: map[string]string{"ENVBOX_DELEGATE_ATTEMPTS": "", envStopGrace: "", envLogFormat: ""},
			edit: func(*dockerConfig) {}},
		{name: "flag_overrides_env", env: map[string]string{envCPUs: "4", envAddTUN: "true"}, args: []string{"--cpus=0.25", "--add-tun=false", "--image", "alpine"},
			edit: func(c *dockerConfig) { c.CPUs, c.Image = 0.25, "alpine" }},
		{name: "bool_flag_without_value", args: []string{"--add-fuse"},
			edit: func(c *dockerConfig) { c.AddFUSE = true }},
		{name: "required_from_flags", env: map[string]string{envInnerImage: "", envInnerUsername: "", envAgentToken: ""},
			args: []string{"--image=alpine", "--username=dev", "--agent-token=" + testToken},
			edit: func(c *dockerConfig) { c.Image, c.Username = "alpine", "dev" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseWith(t, tt.env, tt.args...)
			if err != nil {
				t.Fatalf("parseDocker(%v, %q): %v", tt.env, tt.args, err)
			}
			want := defaults()
			tt.edit(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("parseDocker(%v, %q) =\n%+v\nwant\n%+v", tt.env, tt.args, got, want)
			}
		})
	}
}

// TestReadCAs: CODER_EXTRA_CERTS_PATH is read before anything starts;
// the error names the variable and its flag, and the path.
func TestReadCAs(t *testing.T) {
	t.Parallel()
	ca := "-----BEGIN CERTIFICATE-----\n" +
		"MIIBSTCB8aADAgECAgEBMAoGCCqGSM49BAMCMA0xCzAJBgNVBAMTAmNhMB4XDTI2\n" +
		"MDEwMTAwMDAwMFoXDTM2MDEwMTAwMDAwMFowDTELMAkGA1UEAxMCY2EwWTATBgcq\n" +
		"hkjOPQIBBggqhkjOPQMBBwNCAASw/d9c1uM3SR35ui6wy8pBir4av9HxO6X9mrGU\n" +
		"W7Vcj1OiWUYLMpYL+/bfMbpN2QU6ywf2Tq14YbyFeltqnK0no0IwQDAOBgNVHQ8B\n" +
		"Af8EBAMCAgQwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUVNsy7zXnR/vn/E/n\n" +
		"KX3MvixwRA4wCgYIKoZIzj0EAwIDRwAwRAIgV9iSkzQqXgTp+iisZNKomR6vt0sc\n" +
		"DJNqA+bd6oI1wsICIDDLUdfuxKawGTud8k87OLQgsiW5KOT72ftIaK2NpzRz\n" +
		"-----END CERTIFICATE-----\n"
	fs := afero.NewMemMapFs()
	_ = afero.WriteFile(fs, "/certs/ca.pem", []byte("corporate root\n"+ca), 0o644)
	_ = afero.WriteFile(fs, "/certs/empty.pem", nil, 0o644)
	c := defaults()
	if err := c.readCAs(fs); err != nil || c.RegistryCAs != nil {
		t.Errorf("readCAs without a path = %v, %q; want nothing read", err, c.RegistryCAs)
	}
	c.ExtraCertsPath = "/certs/ca.pem"
	if err := c.readCAs(fs); err != nil || string(c.RegistryCAs) != ca {
		t.Errorf("readCAs(%s) = %v, %q; want %q", c.ExtraCertsPath, err, c.RegistryCAs, ca)
	}
	c.ExtraCertsPath = "/certs/empty.pem"
	want := "CODER_EXTRA_CERTS_PATH (--extra-certs-path): read CA certificates: /certs/empty.pem holds no PEM certificate (want -----BEGIN CERTIFICATE-----)"
	if err := c.readCAs(fs); err == nil || err.Error() != want {
		t.Errorf("readCAs(%s) = %v, want %q", c.ExtraCertsPath, err, want)
	}
}

func TestParseDockerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{name: "image_required", env: map[string]string{envInnerImage: ""},
			wantErr: "CODER_INNER_IMAGE (--image) is required"},
		{name: "username_required", env: map[string]string{envInnerUsername: ""},
			wantErr: "CODER_INNER_USERNAME (--username) is required"},
		{name: "token_required", env: map[string]string{envAgentToken: ""},
			wantErr: "CODER_AGENT_TOKEN (--agent-token) is required"},
		{name: "username_bad", env: map[string]string{envInnerUsername: "co der"},
			wantErr: `parse CODER_INNER_USERNAME="co der": want a name matching ^[a-z_][a-z0-9_.-]*\$?$|^[0-9]+$`},
		{name: "agent_url_relative", env: map[string]string{envAgentURL: "coder.example.com"},
			wantErr: `parse CODER_AGENT_URL="coder.example.com": want an absolute http(s) URL`},
		{name: "inner_envs_bad_name", env: map[string]string{envInnerEnvs: "FOO,BAD-NAME"},
			wantErr: `parse CODER_INNER_ENVS="FOO,BAD-NAME": pattern "BAD-NAME": want NAME or PREFIX* (letters, digits, _)`},
		{name: "inner_envs_star_inside", env: map[string]string{envInnerEnvs: "A*B"},
			wantErr: `parse CODER_INNER_ENVS="A*B": pattern "A*B": want NAME or PREFIX* (letters, digits, _)`},
		{name: "hostname_bad", env: map[string]string{envInnerHostname: "-dev"},
			wantErr: `parse CODER_INNER_HOSTNAME="-dev": want a name matching ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`},
		{name: "work_dir_relative", env: map[string]string{envInnerWorkDir: "home/coder"},
			wantErr: `parse CODER_INNER_WORK_DIR="home/coder": want an absolute path`},
		{name: "pull_secret_not_json", env: map[string]string{envImagePullSecret: `{"auths": hunter2}`},
			wantErr: `parse CODER_IMAGE_PULL_SECRET: not valid JSON (syntax error at byte 11) (value not shown)`},
		{name: "pull_secret_wrong_shape", env: map[string]string{envImagePullSecret: `["hunter2"]`},
			wantErr: `parse CODER_IMAGE_PULL_SECRET: not a .dockerconfigjson document: want {"auths": {"REGISTRY": {...}}} (value not shown)`},
		{name: "pull_secret_no_auths", env: map[string]string{envImagePullSecret: `{"credsStore":"hunter2"}`},
			wantErr: `parse CODER_IMAGE_PULL_SECRET: no "auths" object (value not shown)`},
		{name: "pull_secret_auth_not_base64", env: map[string]string{envImagePullSecret: `{"auths":{"https://index.docker.io/v1/":{"auth":"hunter2!"}}}`},
			wantErr: `CODER_IMAGE_PULL_SECRET (--image-secret): registry docker.io: auths["https://index.docker.io/v1/"].auth: not base64`},
		{name: "pull_secret_auth_no_colon", env: map[string]string{envImagePullSecret: `{"auths":{"docker.io":{"auth":"aHVudGVyMg=="}}}`},
			wantErr: `CODER_IMAGE_PULL_SECRET (--image-secret): registry docker.io: auths["docker.io"].auth: not base64 of user:password`},
		{name: "pull_secret_cred_helper", env: map[string]string{envImagePullSecret: `{"auths":{},"credHelpers":{"docker.io":"ecr-login"}}`},
			wantErr: `CODER_IMAGE_PULL_SECRET (--image-secret): registry docker.io: its credentials are in the credential helper docker-credential-ecr-login ("credHelpers"), which cannot run in the pod: put the registry's username and password (or "auth") under "auths", or use CODER_IMAGE_PULL_SECRET`},
		{name: "docker_config_relative", env: map[string]string{envDockerConfig: "config.json"},
			wantErr: `parse CODER_DOCKER_CONFIG="config.json": want an absolute path`},
		{name: "bridge_not_cidr", env: map[string]string{envBridgeCIDR: "172.19.0.1"},
			wantErr: `parse CODER_DOCKER_BRIDGE_CIDR="172.19.0.1": want an IPv4 CIDR such as 172.19.0.1/30`},
		{name: "bridge_ipv6", env: map[string]string{envBridgeCIDR: "fd00::1/64"},
			wantErr: `parse CODER_DOCKER_BRIDGE_CIDR="fd00::1/64": want an IPv4 CIDR with a prefix of at most /30`},
		{name: "bridge_too_small", env: map[string]string{envBridgeCIDR: "10.0.0.1/31"},
			wantErr: `parse CODER_DOCKER_BRIDGE_CIDR="10.0.0.1/31": want an IPv4 CIDR with a prefix of at most /30`},
		{name: "mounts_one_path", env: map[string]string{envMounts: "/a:/b,/c"},
			wantErr: `parse CODER_MOUNTS="/a:/b,/c": mount 2 "/c": want "src:dst" or "src:dst:ro"`},
		{name: "mounts_relative", env: map[string]string{envMounts: "a:/b"},
			wantErr: `parse CODER_MOUNTS="a:/b": mount 1 "a:/b": path "a": must be absolute`},
		{name: "mounts_bad_option", env: map[string]string{envMounts: "/a:/b:rw"},
			wantErr: `parse CODER_MOUNTS="/a:/b:rw": mount 1 "/a:/b:rw": option "rw": only "ro" is known`},
		{name: "mounts_empty_element", env: map[string]string{envMounts: "/a:/b,"},
			wantErr: `parse CODER_MOUNTS="/a:/b,": mount 2 "": want "src:dst" or "src:dst:ro"`},
		{name: "usr_lib_dir_relative", env: map[string]string{envUsrLibDir: "usr/lib"},
			wantErr: `parse CODER_USR_LIB_DIR="usr/lib": want an absolute path`},
		{name: "inner_usr_lib_dir_relative", env: map[string]string{envInnerUsrLibDir: "lib64"},
			wantErr: `parse CODER_INNER_USR_LIB_DIR="lib64": want an absolute path`},
		{name: "add_tun_bad", env: map[string]string{envAddTUN: "yes"},
			wantErr: `parse CODER_ADD_TUN="yes": want true or false`},
		{name: "add_fuse_bad", env: map[string]string{envAddFUSE: "on"},
			wantErr: `parse CODER_ADD_FUSE="on": want true or false`},
		{name: "add_gpu_bad", env: map[string]string{envAddGPU: "y"},
			wantErr: `parse CODER_ADD_GPU="y": want true or false`},
		{name: "gpu_without_lib_dir", env: map[string]string{envAddGPU: "true"},
			wantErr: `CODER_ADD_GPU=true needs CODER_USR_LIB_DIR (the outer driver library directory)`},
		{name: "inner_lib_dir_without_gpu", env: map[string]string{envInnerUsrLibDir: "/usr/lib64"},
			wantErr: `CODER_INNER_USR_LIB_DIR is set but CODER_ADD_GPU is not true`},
		{name: "cpus_word", env: map[string]string{envCPUs: "two"},
			wantErr: `parse CODER_CPUS="two": want a positive number of CPUs such as 2 or 0.5`},
		{name: "cpus_zero", env: map[string]string{envCPUs: "0"},
			wantErr: `parse CODER_CPUS="0": want a positive number of CPUs such as 2 or 0.5`},
		{name: "cpus_negative", env: map[string]string{envCPUs: "-1"},
			wantErr: `parse CODER_CPUS="-1": want a positive number of CPUs such as 2 or 0.5`},
		{name: "cpus_nan", env: map[string]string{envCPUs: "NaN"},
			wantErr: `parse CODER_CPUS="NaN": want a positive number of CPUs such as 2 or 0.5`},
		{name: "cpus_tiny", env: map[string]string{envCPUs: "0.001"},
			wantErr: `parse CODER_CPUS="0.001": below the kernel's minimum quota of 0.01 CPU`},
		{name: "memory_suffix", env: map[string]string{envMemory: "2G"},
			wantErr: `parse CODER_MEMORY="2G": want a positive whole number of bytes`},
		{name: "memory_negative", env: map[string]string{envMemory: "-5"},
			wantErr: `parse CODER_MEMORY="-5": want a positive whole number of bytes`},
		{name: "memory_tiny", env: map[string]string{envMemory: "1024"},
			wantErr: `parse CODER_MEMORY="1024": below dockerd's minimum of 6291456 bytes`},
		{name: "disable_idmapped_bad", env: map[string]string{envDisableIDMappedMount: "nope"},
			wantErr: `parse CODER_DISABLE_IDMAPPED_MOUNT="nope": want true or false`},
		{name: "extra_certs_relative", env: map[string]string{envExtraCertsPath: "certs"},
			wantErr: `parse CODER_EXTRA_CERTS_PATH="certs": want an absolute path`},
		{name: "container_name_bad", env: map[string]string{envContainerName: "my box"},
			wantErr: `parse CODER_CVM_CONTAINER_NAME="my box": want a name matching ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`},
		{name: "debug_bad", env: map[string]string{envDebug: "verbose"},
			wantErr: `parse CODER_DEBUG="verbose": want true or false`},
		{name: "runtime_bad", env: map[string]string{envInnerRuntime: "/usr/bin/runc"},
			wantErr: `parse ENVBOX_INNER_RUNTIME="/usr/bin/runc": want a name matching ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`},
		{name: "data_root_relative", env: map[string]string{envDataRoot: "docker"},
			wantErr: `parse ENVBOX_DOCKER_DATA_ROOT="docker": want an absolute path`},
		{name: "socket_relative", env: map[string]string{envDockerSocket: "docker.sock"},
			wantErr: `parse ENVBOX_DOCKER_SOCKET="docker.sock": want an absolute path`},
		{name: "timeout_bad", env: map[string]string{envDockerTimeout: "60"},
			wantErr: `parse ENVBOX_DOCKERD_TIMEOUT="60": want a positive duration such as 30s`},
		{name: "stop_grace_negative", env: map[string]string{envStopGrace: "-1s"},
			wantErr: `parse ENVBOX_STOP_GRACE="-1s": want a positive duration such as 30s`},
		{name: "attempts_zero", env: map[string]string{"ENVBOX_DELEGATE_ATTEMPTS": "0"},
			wantErr: `parse ENVBOX_DELEGATE_ATTEMPTS="0": want a whole number from 1 to 999999999`},
		{name: "log_format_bad", env: map[string]string{envLogFormat: "xml"},
			wantErr: `parse ENVBOX_LOG_FORMAT="xml": want "json" or "human"`},
		{name: "flag_named_in_error", args: []string{"--cpus=lots"},
			wantErr: `parse --cpus="lots": want a positive number of CPUs such as 2 or 0.5`},
		{name: "secret_flag_not_echoed", args: []string{`--image-secret={"auths":` + testToken},
			wantErr: `parse --image-secret: not valid JSON (syntax error at byte 11) (value not shown)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseWith(t, tt.env, tt.args...)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("parseDocker(%v, %q) error = %v, want %q", tt.env, tt.args, err, tt.wantErr)
			}
		})
	}
}

// TestParseDockerNeverEchoesToken: secrets never appear in an error, whatever
// else is wrong.
func TestParseDockerNeverEchoesToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{name: "token_with_bad_neighbour", env: map[string]string{envCPUs: "x"}},
		{name: "token_with_missing_image", env: map[string]string{envInnerImage: ""}},
		{name: "token_flag_with_bad_neighbour", args: []string{"--agent-token=" + testToken, "--memory=1"}},
		{name: "secret_bad_json", env: map[string]string{envImagePullSecret: `{"auths":{"r":{"auth":"` + testToken + `"}}`}},
		{name: "secret_wrong_shape", env: map[string]string{envImagePullSecret: `"` + testToken + `"`}},
		{name: "secret_no_auths", env: map[string]string{envImagePullSecret: `{"` + testToken + `":1}`}},
		{name: "secret_flag", args: []string{"--image-secret=" + testToken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseWith(t, tt.env, tt.args...)
			if err == nil || strings.Contains(err.Error(), testToken) {
				t.Errorf("parseDocker(%v, %q) error = %v, want an error without the secret", tt.env, tt.args, err)
			}
		})
	}
}

func TestDockerHelpListsEveryVariable(t *testing.T) {
	t.Parallel()
	cmd := dockerCmd()
	var b strings.Builder
	cmd.SetOut(&b)
	cmd.SetArgs([]string{"--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, v := range dockerVars {
		if !strings.Contains(b.String(), v.env) || !strings.Contains(b.String(), "--"+v.flag) {
			t.Errorf("--help lacks %s / --%s:\n%s", v.env, v.flag, b.String())
		}
	}
}
