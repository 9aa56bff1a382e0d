package image

import (
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/envbox/envbox/integration/cgtest"
)

// shells run each entrypoint as the image's /bin/sh might be: dash
// (Debian), bash, busybox ash.
var shells = [][]string{{"dash"}, {"bash"}, {"busybox", "sh"}}

// entrypointCase runs script with args and env in a mount namespace whose
// /run (so /var/run) is a directory of the test's: socket makes
// /run/docker.sock a listening unix socket, files are created under /run
// with their content. want is what the fakes recorded, line by line.
type entrypointCase struct {
	name   string
	args   []string
	env    []string
	socket bool
	files  map[string]string
	want   string
}

// certs are the client certificates a daemon container with
// DOCKER_TLS_CERTDIR=/run/certs leaves for its clients.
var certs = map[string]string{"certs/client/ca.pem": "ca\n", "certs/client/cert.pem": "cert\n", "certs/client/key.pem": "key\n"}

func TestDockerdEntrypoint(t *testing.T) {
	t.Parallel()
	runCases(t, []entrypointCase{
		{name: "no_args", want: "envbox [dind] [--] |\n"},
		{name: "env_passes", env: []string{"DOCKER_TLS_CERTDIR=/certs"}, want: "envbox [dind] [--] | DOCKER_TLS_CERTDIR=/certs\n"},
		{name: "tekton_flags", args: []string{"--storage-driver=vfs", "--userland-proxy=false", "--debug"},
			want: "envbox [dind] [--] [--storage-driver=vfs] [--userland-proxy=false] [--debug] |\n"},
		{name: "arc_dockerd", args: []string{"dockerd", "--host=unix:///var/run/docker.sock", "--group=1001"},
			want: "envbox [dind] [--] [dockerd] [--host=unix:///var/run/docker.sock] [--group=1001] |\n"},
		{name: "command_with_dashdash", args: []string{"sh", "-c", `echo "$1"`, "--", "a b"},
			want: "envbox [dind] [--] [sh] [-c] [echo \"$1\"] [--] [a b] |\n"},
		{name: "envbox_flag_is_an_argument", args: []string{"--stop-grace=5s"}, want: "envbox [dind] [--] [--stop-grace=5s] |\n"},
	}, "dockerd-entrypoint.sh")
}

func TestDockerEntrypoint(t *testing.T) {
	t.Parallel()
	noKey := maps.Clone(certs)
	delete(noKey, "certs/client/key.pem")
	emptyKey := maps.Clone(certs)
	emptyKey["certs/client/key.pem"] = ""
	const certDir = "DOCKER_TLS_CERTDIR=/run/certs"
	runCases(t, []entrypointCase{
		{name: "no_args", want: "docker | DOCKER_HOST=tcp://docker:2375\n"},
		{name: "flag_first", args: []string{"--version"}, want: "docker [--version] | DOCKER_HOST=tcp://docker:2375\n"},
		{name: "subcommand_socket", args: []string{"version"}, socket: true,
			want: "docker [help] [version] |\ndocker [version] | DOCKER_HOST=unix:///var/run/docker.sock\n"},
		{name: "socket_wins_over_certs", args: []string{"version"}, socket: true, files: certs, env: []string{certDir},
			want: "docker [help] [version] | DOCKER_TLS_CERTDIR=/run/certs\n" +
				"docker [version] | DOCKER_HOST=unix:///var/run/docker.sock DOCKER_TLS_CERTDIR=/run/certs\n"},
		{name: "linked_tls", args: []string{"images", "-q"}, files: certs, env: []string{certDir},
			want: "docker [help] [images] | DOCKER_TLS_CERTDIR=/run/certs\n" +
				"docker [images] [-q] | DOCKER_CERT_PATH=/run/certs/client DOCKER_HOST=tcp://docker:2376 DOCKER_TLS_CERTDIR=/run/certs DOCKER_TLS_VERIFY=1\n"},
		{name: "linked_key_missing", args: []string{"version"}, files: noKey, env: []string{certDir},
			want: "docker [help] [version] | DOCKER_TLS_CERTDIR=/run/certs\n" +
				"docker [version] | DOCKER_HOST=tcp://docker:2375 DOCKER_TLS_CERTDIR=/run/certs\n"},
		{name: "linked_key_empty", args: []string{"version"}, files: emptyKey, env: []string{certDir},
			want: "docker [help] [version] | DOCKER_TLS_CERTDIR=/run/certs\n" +
				"docker [version] | DOCKER_HOST=tcp://docker:2375 DOCKER_TLS_CERTDIR=/run/certs\n"},
		{name: "certdir_empty", args: []string{"version"}, files: certs, env: []string{"DOCKER_TLS_CERTDIR="},
			want: "docker [help] [version] | DOCKER_TLS_CERTDIR=\n" +
				"docker [version] | DOCKER_HOST=tcp://docker:2375 DOCKER_TLS_CERTDIR=\n"},
		{name: "tls_verify_without_certs", args: []string{"version"}, env: []string{"DOCKER_TLS_VERIFY=1"},
			want: "docker [help] [version] | DOCKER_TLS_VERIFY=1\n" +
				"docker [version] | DOCKER_HOST=tcp://docker:2376 DOCKER_TLS_VERIFY=1\n"},
		{name: "host_tcp_given", args: []string{"info"}, files: certs, env: []string{certDir, "DOCKER_HOST=tcp://dind:2376"},
			want: "docker [help] [info] | DOCKER_HOST=tcp://dind:2376 DOCKER_TLS_CERTDIR=/run/certs\n" +
				"docker [info] | DOCKER_CERT_PATH=/run/certs/client DOCKER_HOST=tcp://dind:2376 DOCKER_TLS_CERTDIR=/run/certs DOCKER_TLS_VERIFY=1\n"},
		{name: "host_tcp_own_cert_path", args: []string{"info"}, files: certs, env: []string{certDir, "DOCKER_HOST=tcp://dind:2376", "DOCKER_CERT_PATH=/mine"},
			want: "docker [help] [info] | DOCKER_CERT_PATH=/mine DOCKER_HOST=tcp://dind:2376 DOCKER_TLS_CERTDIR=/run/certs\n" +
				"docker [info] | DOCKER_CERT_PATH=/mine DOCKER_HOST=tcp://dind:2376 DOCKER_TLS_CERTDIR=/run/certs\n"},
		{name: "host_unix_given", args: []string{"info"}, socket: true, files: certs, env: []string{certDir, "DOCKER_HOST=unix:///other.sock"},
			want: "docker [help] [info] | DOCKER_HOST=unix:///other.sock DOCKER_TLS_CERTDIR=/run/certs\n" +
				"docker [info] | DOCKER_HOST=unix:///other.sock DOCKER_TLS_CERTDIR=/run/certs\n"},
		{name: "other_command", args: []string{"mycmd", "a", "b c"},
			want: "docker [help] [mycmd] |\nmycmd [a] [b c] | DOCKER_HOST=tcp://docker:2375\n"},
	}, "docker-entrypoint.sh")
}

// runCases runs every case under every shell with the fakes first in PATH
// and compares what they recorded.
func runCases(t *testing.T, cases []entrypointCase, script string) {
	t.Helper()
	for _, bin := range []string{"unshare", "mount"} {
		if _, err := exec.LookPath(bin); err != nil {
			cgtest.Unavailable(t, "entrypoint tests: %s (util-linux) not installed: %v", bin, err)
		}
	}
	scriptPath, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	fakes := fakeBin(t)
	for _, sh := range shells {
		if _, err := exec.LookPath(sh[0]); err != nil {
			cgtest.Unavailable(t, "entrypoint tests: shell %s not installed (integration/deps.sh installs it): %v", sh[0], err)
		}
		for _, tt := range cases {
			t.Run(sh[0]+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				argv := append(append(append([]string{}, sh...), scriptPath), tt.args...)
				got, out, err := runEntrypoint(t, fakes, tt, argv)
				if err != nil || got != tt.want {
					t.Errorf("%q with %q: %v, recorded\n%s\nwant\n%s\noutput:\n%s", argv, tt.env, err, got, tt.want, out)
				}
			})
		}
	}
}

// fakeBin is a directory with testdata/fake-cmd.sh as docker, envbox and
// mycmd.
func fakeBin(t *testing.T) string {
	t.Helper()
	fake, err := filepath.Abs("testdata/fake-cmd.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"docker", "envbox", "mycmd"} {
		if err := os.Symlink(fake, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runEntrypoint prepares the case's /run, runs argv there and returns the
// record, the combined output and the run's error.
func runEntrypoint(t *testing.T, fakes string, tt entrypointCase, argv []string) (string, string, error) {
	t.Helper()
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	record := filepath.Join(dir, "record")
	for name, data := range tt.files {
		p := filepath.Join(run, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if tt.socket {
		l, err := net.Listen("unix", filepath.Join(run, "docker.sock"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}
	// A private mount namespace (root in a user namespace when not root):
	// the case's directory over /run, the host's /run/docker.sock hidden.
	prelude := []string{"unshare", "--mount", "--map-root-user", "--", "/bin/sh", "-c", `mount --bind "$1" /run && shift && exec "$@"`, "sh", run}
	cmd := exec.Command(prelude[0], append(prelude[1:], argv...)...)
	cmd.Env = append([]string{"PATH=" + fakes + ":/usr/sbin:/usr/bin:/sbin:/bin", "RECORD=" + record}, tt.env...)
	out, err := cmd.CombinedOutput()
	got, rerr := os.ReadFile(record)
	if rerr != nil && err == nil {
		err = rerr
	}
	return string(got), string(out), err
}
