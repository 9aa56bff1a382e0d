package cli

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envbox/envbox/integration/cgtest"
)

// Secrets: every command of the real binary runs with a known agent token
// and pull secret in its environment (and, for `envbox docker`, as flags),
// in good and bad configurations. Nothing it prints, nothing the fakes it
// starts record and no file it writes may hold either secret, in plain or
// base64 form. The fake dockerd of the good runs prints its whole
// environment, as a chatty daemon could, so the redaction of child output
// is tested too.

const (
	secretToken    = "tok-3c9e1f-agent-secret-value"
	secretPassword = "pw-8d2b7a-registry-password"
)

// secretAuth is the base64 "user:password" of the pull secret.
var secretAuth = base64.StdEncoding.EncodeToString([]byte("robot:" + secretPassword))

var secretPullJSON = `{"auths":{"ghcr.io":{"auth":"` + secretAuth + `"}}}`

// secretNeedles are the texts that must never appear anywhere.
var secretNeedles = []string{secretToken, secretPassword, secretAuth, base64.StdEncoding.EncodeToString([]byte(secretToken))}

// printingDockerd is a fake dockerd that prints its argv and environment
// and exits 1, so envbox reports its death with its last output.
const printingDockerd = `#!/bin/sh
echo "dockerd $*" >>"$RECORD"
if [ -n "${PRINT_ENV:-}" ]; then
	env
	echo "level=info msg=\"env CODER_AGENT_TOKEN=$CODER_AGENT_TOKEN\""
fi
sleep 0.2
exit 1
`

// passUnshare stands in for unshare: records, then runs the target
// without the delegation script.
const passUnshare = `#!/bin/sh
echo "unshare $*" >>"$RECORD"
while [ "$1" != -c ]; do shift; done
shift 2
exec "$@"
`

type secretCase struct {
	name string
	args []string
	env  []string
	want string // proof the run got that far
}

func secretCases() []secretCase {
	secrets := []string{envAgentToken + "=" + secretToken, envImagePullSecret + "=" + secretPullJSON}
	good := append([]string{envInnerImage + "=debian:12", envInnerUsername + "=coder",
		envDockerSocket + "={dir}/d.sock", envDockerTimeout + "=1s", envDataRoot + "={dir}/data", "PRINT_ENV=1"}, secrets...)
	cases := []secretCase{
		{name: "docker_good_env", args: []string{"docker"}, env: good, want: "CODER_AGENT_TOKEN="},
		{name: "docker_good_human", args: []string{"docker"}, env: with(good, envLogFormat+"=human", envDebug+"=true"), want: "CODER_AGENT_TOKEN="},
		{name: "docker_good_flags", args: []string{"docker", "--agent-token=" + secretToken, "--image-secret=" + secretPullJSON}, env: good[:6], want: "CODER_AGENT_TOKEN="},
		{name: "docker_help", args: []string{"docker", "--help"}, env: good},
		{name: "docker_missing_image", args: []string{"docker"}, env: good[1:]},
		{name: "docker_bad_cpus", args: []string{"docker"}, env: with(good, envCPUs+"=two")},
		{name: "docker_bad_token", args: []string{"docker"}, env: with(good, envAgentToken+"=x "+secretToken)},
		{name: "docker_bad_secret_json", args: []string{"docker"}, env: with(good, envImagePullSecret+`={"auths":{"r":{"auth":"`+secretAuth+`"}`)},
		{name: "docker_bad_secret_flag", args: []string{"docker", "--image-secret=" + secretPassword}, env: good},
		{name: "dind_good", args: []string{"dind", "--", "dockerd", "--host=unix://{dir}/d.sock"}, env: with(secrets, envDockerdRestarts+"=0"), want: "dockerd exited and no restart is left"},
		{name: "dind_bad", args: []string{"dind", "--stop-grace=x", "--", "dockerd"}, env: secrets},
		{name: "doctor_good", args: []string{"doctor", "--host=unix://{dir}/none.sock", "--pid=self"}, env: secrets},
		{name: "doctor_json", args: []string{"doctor", "--json", "--host=unix://{dir}/none.sock", "--pid=self"}, env: secrets},
		{name: "doctor_bad", args: []string{"doctor", "--pid=-1"}, env: secrets},
		{name: "adopt_bad", args: []string{"adopt-proxy", "--listen={dir}/l.sock", "--upstream=x"}, env: secrets},
		{name: "root_help", args: []string{"--help"}, env: secrets},
		{name: "version", args: []string{"--version"}, env: secrets},
	}
	return cases
}

// with returns a new slice: base followed by more (no shared backing array).
func with(base []string, more ...string) []string {
	return append(append([]string{}, base...), more...)
}

// TestSecretsNeverShown runs every case and greps everything it left.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		cgtest.Unavailable(t, "envbox dind's preflight needs CAP_SYS_ADMIN: run as root (euid %d)", os.Geteuid())
	}
	bin := buildEnvbox(t)
	for _, tc := range secretCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, files := runSecretCase(t, bin, tc)
			if !strings.Contains(tc.name, "help") && !strings.Contains(tc.name, "version") && out == "" {
				t.Errorf("no output at all: the case tested nothing")
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q: the run did not get that far:\n%s", tc.want, out)
			}
			for _, needle := range secretNeedles {
				if n := strings.Count(out, needle); n > 0 {
					t.Errorf("output holds %q %d times:\n%s", needle, n, out)
				}
				for path, data := range files {
					if strings.Contains(data, needle) {
						t.Errorf("file %s holds %q:\n%s", path, needle, data)
					}
				}
			}
		})
	}
}

// runSecretCase runs one case with recording fakes and returns stdout and
// stderr together, and every file left in its directory.
func runSecretCase(t *testing.T, bin string, tc secretCase) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	fakes := filepath.Join(dir, "bin")
	if err := os.Mkdir(fakes, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, script := range map[string]string{"dockerd": printingDockerd, "unshare": passUnshare, "iptables": "#!/bin/sh\nexit 0\n"} {
		if err := os.WriteFile(filepath.Join(fakes, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"RECORD=" + filepath.Join(dir, "record")}
	for _, kv := range tc.env {
		env = append(env, strings.ReplaceAll(kv, "{dir}", dir))
	}
	args := make([]string, len(tc.args))
	for i, a := range tc.args {
		args[i] = strings.ReplaceAll(a, "{dir}", dir)
	}
	r := runBadIn(t, bin, dir, fakes+":/usr/sbin:/usr/bin:/sbin:/bin", args, env)
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, fakes) {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r.stdout + r.stderr, files
}

// TestRedactError: the error main prints keeps its exit code and loses
// every secret.
func TestRedactError(t *testing.T) {
	t.Parallel()
	secrets := []string{secretToken, secretAuth}
	tests := []struct {
		name     string
		in       error
		wantCode int
		wantText string
	}{
		{name: "exit_error", in: &ExitError{Code: 3, Err: errors.New("dockerd died; last output:\nCODER_AGENT_TOKEN=" + secretToken)},
			wantCode: 3, wantText: "dockerd died; last output:\nCODER_AGENT_TOKEN=[REDACTED]"},
		{name: "plain_error", in: errors.New(`auth "` + secretAuth + `" refused`), wantCode: 1, wantText: `auth "[REDACTED]" refused`},
		{name: "clean_kept", in: &ExitError{Code: 2, Err: errors.New("parse CODER_CPUS")}, wantCode: 2, wantText: "parse CODER_CPUS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := redactError(tt.in, secrets)
			var ee *ExitError
			code := 1
			if errors.As(got, &ee) {
				code = ee.Code
			}
			if code != tt.wantCode || got.Error() != tt.wantText {
				t.Errorf("redactError(%q) = %d %q, want %d %q", tt.in, code, got, tt.wantCode, tt.wantText)
			}
		})
	}
	if err := redactError(nil, secrets); err != nil {
		t.Errorf("redactError(nil) = %v, want nil", err)
	}
}
