package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The bad-input matrix: every row of every command's table (dockerVars,
// dindVars, doctorVars, adoptVars), as variable and as flag, each given
// malformed values, run through the REAL binary. Each case must end with
// exit status 2, one
// stderr line that names the input and the reason (and never a secret's
// value), no process started (every binary envbox could start is a fake
// that records its argv) and no file written (cwd and HOME are an empty
// directory).

// badValue is one malformed value and the literal reason envbox gives.
type badValue struct {
	label, value, reason string
}

// bigValue is the largest value the kernel passes in one argv or
// environment string (MAX_ARG_STRLEN is 128 KiB, including the name and
// the NUL): a 1 MiB value cannot reach a process at all (execve E2BIG).
const bigLen = 120 << 10

func big(s string) string { return strings.Repeat(s, bigLen/len(s)) }

const nonUTF8 = "\xff\xfe\x80"

// Reasons shared by several rows, as envbox prints them.
const (
	rAbs      = "want an absolute path"
	rBool     = "want true or false"
	rDuration = "want a positive duration such as 30s"
	rURL      = "want an absolute http(s) URL"
	rCIDR     = "want an IPv4 CIDR such as 172.19.0.1/30"
	rCPUs     = "want a positive number of CPUs such as 2 or 0.5"
	rMemory   = "want a positive whole number of bytes"
	rPositive = "want a whole number from 1 to 999999999"
	rLogFmt   = `want "json" or "human"`
	rUser     = "want a name matching ^[a-z_][a-z0-9_.-]*\\$?$|^[0-9]+$"
	rHost     = "want a name matching ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
	rCName    = "want a name matching ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$"
	rRuntime  = "want a name matching ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
	rImage    = "want an image reference such as debian:12 or ghcr.io/org/img@sha256:..."
	rToken    = "want a token without blanks or control characters"
	rRequired = "is required"
	rMax      = "want at most 255 bytes"
	rPull     = `want "missing" or "always"`
)

// absBad are malformed values of every absolute-path row.
var absBad = []badValue{
	{"whitespace", "   ", rAbs}, {"relative", "var/lib/x", rAbs}, {"dot_relative", "./x", rAbs},
	{"non_utf8", nonUTF8, rAbs}, {"big", big("a"), rAbs},
}

var boolBad = []badValue{
	{"whitespace", " ", rBool}, {"word", "yes", rBool}, {"negative", "-1", rBool},
	{"non_utf8", nonUTF8, rBool}, {"big", big("t"), rBool},
}

var durationBad = []badValue{
	{"whitespace", " ", rDuration}, {"no_unit", "60", rDuration}, {"wrong_unit", "1d", rDuration},
	{"negative", "-5s", rDuration}, {"zero", "0s", rDuration}, {"overflow", "9999999999999h", rDuration},
	{"non_utf8", nonUTF8, rDuration}, {"big", big("9"), rDuration},
}

func nameBad(reason string) []badValue {
	return []badValue{
		{"whitespace", "  ", reason}, {"inner_blank", "a b", reason}, {"leading_dash", "-x", reason},
		{"newline", "a\nb", reason}, {"non_utf8", nonUTF8, reason}, {"big", big("a"), rMax},
	}
}

// dockerBad lists the malformed values of every dockerVars row. A row
// missing here fails TestBadInputCoversEveryVariable.
var mtuBad = []badValue{
	{"whitespace", " ", "want 0 or a whole number from 68 to 65535"}, {"negative", "-1", "want 0 or a whole number from 68 to 65535"},
	{"below_ipv4_minimum", "67", "want 0 or a whole number from 68 to 65535"}, {"above_maximum", "65536", "want 0 or a whole number from 68 to 65535"},
	{"unit", "1400b", "want 0 or a whole number from 68 to 65535"}, {"non_utf8", nonUTF8, "want 0 or a whole number from 68 to 65535"},
}

// reserveBad are malformed values of the reserve rows.
const (
	rReserveMem  = `want "auto", a percentage from 1% to 90%, 0 (off) or a whole number of bytes, optionally with Ki, Mi, Gi or Ti`
	rReservePids = `want "auto", a percentage from 1% to 90%, 0 (off) or a whole number`
)

var reserveMemoryBad = []badValue{
	{"whitespace", " ", rReserveMem}, {"negative", "-1", rReserveMem}, {"decimal_unit", "64M", rReserveMem},
	{"percent_zero", "0%", rReserveMem}, {"percent_over", "91%", rReserveMem}, {"overflow", "99999999999999999999", rReserveMem},
	{"too_big", "1025Ti", rReserveMem}, {"uppercase", "AUTO", rReserveMem}, {"non_utf8", nonUTF8, rReserveMem}, {"big", big("9"), rReserveMem},
}

const rExecPids = "want a whole number from 0 (off) to 4194304"

var execPidsBad = []badValue{
	{"whitespace", " ", rExecPids}, {"negative", "-1", rExecPids}, {"over_pid_max", "4194305", rExecPids},
	{"percent", "5%", rExecPids}, {"auto", "auto", rExecPids}, {"non_utf8", nonUTF8, rExecPids},
}

var reservePidsBad = []badValue{
	{"whitespace", " ", rReservePids}, {"negative", "-1", rReservePids}, {"unit", "64Mi", rReservePids},
	{"percent_over", "100%", rReservePids}, {"fraction", "1.5", rReservePids}, {"non_utf8", nonUTF8, rReservePids},
}

var dockerBad = map[string][]badValue{
	envMTU:                  mtuBad,
	"ENVBOX_RESERVE_MEMORY": reserveMemoryBad,
	"ENVBOX_RESERVE_PIDS":   reservePidsBad,
	envInnerImage: {
		{"whitespace", "   ", rImage}, {"inner_blank", "debian 12", rImage}, {"uppercase", "Debian", rImage},
		{"non_utf8", nonUTF8, rImage}, {"big", big("a"), rImage}, {"newline", "debian\n", rImage},
	},
	envInnerUsername: nameBad(rUser),
	envAgentToken: {
		{"whitespace", "   ", rToken}, {"newline", "tok\nen", rToken}, {"nul_like_control", "tok\x01en", rToken},
	},
	envAgentURL: {
		{"whitespace", " ", rURL}, {"no_scheme", "coder.example.com", rURL}, {"wrong_scheme", "ftp://coder.example.com", rURL},
		{"no_host", "https://", rURL}, {"non_utf8", "https://" + nonUTF8, rURL}, {"big", "https://" + big("a"), rURL},
	},
	envAgentSubsystem: {
		{"inner_blank", "exec trace", "name \"exec trace\": want letters, digits, _ or -"},
		{"non_utf8", nonUTF8, "name \"\\xff\\xfe\\x80\": want letters, digits, _ or -"},
	},
	envInnerEnvs: {
		{"inner_blank", "FOO BAR", `pattern "FOO BAR": want NAME or PREFIX* (letters, digits, _)`},
		{"dash", "BAD-NAME", `pattern "BAD-NAME": want NAME or PREFIX* (letters, digits, _)`},
		{"star_inside", "A*B", `pattern "A*B": want NAME or PREFIX* (letters, digits, _)`},
		{"non_utf8", nonUTF8, `pattern "\xff\xfe\x80": want NAME or PREFIX* (letters, digits, _)`},
	},
	envInnerHostname: nameBad(rHost),
	envInnerWorkDir:  absBad,
	envImagePullSecret: {
		{"whitespace", "   ", "not valid JSON (syntax error at byte 3)"},
		{"not_json", "hunter2-pull-secret", "not valid JSON (syntax error at byte 1)"},
		{"truncated", `{"auths":{"r":{"auth":"hunter2-pull-secret"`, "not valid JSON (syntax error at byte 43)"},
		{"wrong_shape", `["hunter2-pull-secret"]`, `not a .dockerconfigjson document: want {"auths": {"REGISTRY": {...}}}`},
		{"no_auths", `{"hunter2-pull-secret":1}`, `no "auths" object`},
		{"image_auth_not_base64", `{"auths":{"docker.io":{"auth":"hunter2-pull-secret"}}}`, `registry docker.io: auths["docker.io"].auth: not base64`},
		{"image_cred_helper", `{"auths":{},"credHelpers":{"docker.io":"ecr-login"}}`, "registry docker.io: its credentials are in the credential helper docker-credential-ecr-login"},
	},
	envDockerConfig: absBad,
	envBridgeCIDR: {
		{"whitespace", " ", rCIDR}, {"no_prefix", "172.19.0.1", rCIDR}, {"bad_octet", "172.19.0.256/30", rCIDR},
		{"prefix_overflow", "10.0.0.1/33", rCIDR}, {"negative_prefix", "10.0.0.1/-1", rCIDR},
		{"ipv6", "fd00::1/64", "want an IPv4 CIDR with a prefix of at most /30"},
		{"too_small", "10.0.0.1/31", "want an IPv4 CIDR with a prefix of at most /30"},
		{"non_utf8", nonUTF8, rCIDR}, {"big", big("1"), rCIDR},
	},
	envMounts: {
		{"whitespace", " ", `mount 1 " ": want "src:dst" or "src:dst:ro"`},
		{"unterminated", "/home/coder:", `mount 1 "/home/coder:": path "": must be absolute`},
		{"one_path", "/a:/b,/c", `mount 2 "/c": want "src:dst" or "src:dst:ro"`},
		{"relative", "a:/b", `mount 1 "a:/b": path "a": must be absolute`},
		{"bad_option", "/a:/b:rw", `mount 1 "/a:/b:rw": option "rw": only "ro" is known`},
		{"empty_element", "/a:/b,", `mount 2 "": want "src:dst" or "src:dst:ro"`},
	},
	envUsrLibDir:      absBad,
	envInnerUsrLibDir: absBad,
	envAddTUN:         boolBad,
	envAddFUSE:        boolBad,
	envAddGPU:         boolBad,
	envCPUs: {
		{"whitespace", " ", rCPUs}, {"word", "two", rCPUs}, {"zero", "0", rCPUs}, {"negative", "-1", rCPUs},
		{"nan", "NaN", rCPUs}, {"inf", "+Inf", rCPUs}, {"overflow", "1e400", rCPUs}, {"wrong_unit", "2000m", rCPUs},
		{"tiny", "0.001", "below the kernel's minimum quota of 0.01 CPU"}, {"non_utf8", nonUTF8, rCPUs}, {"big", big("9"), rCPUs},
	},
	envMemory: {
		{"whitespace", " ", rMemory}, {"wrong_unit", "2G", rMemory}, {"fraction", "1.5", rMemory}, {"negative", "-5", rMemory},
		{"zero", "0", rMemory}, {"overflow", "9223372036854775808", rMemory},
		{"tiny", "1024", "below dockerd's minimum of 6291456 bytes"}, {"non_utf8", nonUTF8, rMemory}, {"big", big("9"), rMemory},
	},
	envDisableIDMappedMount: boolBad,
	envExtraCertsPath: append(append([]badValue{}, absBad...),
		badValue{"missing", "/nonexistent/envbox-ca.pem", "read CA certificates: stat /nonexistent/envbox-ca.pem: no such file or directory"},
		badValue{"no_certificate", "/proc/version", "read CA certificates: /proc/version holds no PEM certificate (want -----BEGIN CERTIFICATE-----)"},
		badValue{"device", "/dev/null", "read CA certificates: /dev/null is not a regular file or a directory"}),
	envPull: {
		{"whitespace", " ", rPull}, {"word", "never", rPull}, {"case", "Always", rPull},
		{"non_utf8", nonUTF8, rPull}, {"big", big("a"), rPull},
	},
	envContainerName: nameBad(rCName),
	envDebug:         boolBad,
	envInnerRuntime:  nameBad(rRuntime),
	envDockerd: {
		{"whitespace", "  ", "want a binary name or an absolute path without blanks"},
		{"relative_path", "bin/dockerd", "want a binary name or an absolute path without blanks"},
		{"non_utf8", nonUTF8, "want a binary name or an absolute path without blanks"},
	},
	envDataRoot:     absBad,
	envDockerSocket: absBad,
	envDockerdArgs: {
		{"positional", "dockerd", `argument "dockerd": want --flag or --flag=value`},
		{"single_dash", "-D", `argument "-D": want --flag or --flag=value`},
		{"non_utf8", nonUTF8, `argument "\xff\xfe\x80": want --flag or --flag=value`},
	},
	envDockerTimeout: durationBad,
	envStopGrace:     durationBad,
	"ENVBOX_DELEGATE_ATTEMPTS": {
		{"whitespace", " ", rPositive}, {"zero", "0", rPositive}, {"negative", "-3", rPositive},
		{"overflow", "99999999999999999999", rPositive}, {"fraction", "1.5", rPositive},
		{"non_utf8", nonUTF8, rPositive}, {"big", big("9"), rPositive},
	},
	envLogFormat: {
		{"whitespace", " ", rLogFmt}, {"word", "xml", rLogFmt}, {"case", "JSON", rLogFmt},
		{"non_utf8", nonUTF8, rLogFmt}, {"big", big("j"), rLogFmt},
	},
}

// anyText are the rows of any table where every value is well-formed at
// parse time, with why.
var anyText = map[string]string{
	envBootstrapScript:       "a script is whatever bytes /bin/sh reads",
	"DOCKER_TLS_SAN":         "checked when certificates are generated (exit 1, see docs/troubleshooting.md)",
	"DOCKER_IPTABLES_LEGACY": "docker:dind's rule: any non-empty value means legacy",
}

// Known values of the secrets cases: they must never be printed.
const (
	badToken      = "tok-7f3a9c2e-secret-agent-token"
	badPullSecret = "hunter2-pull-secret"
)

// badCase is one run of the binary.
type badCase struct {
	name   string
	args   []string
	env    []string
	input  string // the variable or flag the line must name
	reason string // literal reason the line must hold
	secret string // a value the output must not hold
}

// dockerBase is a valid `envbox docker` environment.
func dockerBase() []string {
	return []string{envInnerImage + "=debian:12", envInnerUsername + "=coder", envAgentToken + "=" + badToken}
}

// dockerCases turns dockerBad into runs: each value once as the variable
// and once as the flag, plus the required rows left empty.
func dockerCases() []badCase {
	var cases []badCase
	for _, v := range dockerVars {
		secret := ""
		if v.secret {
			secret = badPullSecret
			if v.env == envAgentToken {
				secret = ""
			}
		}
		for _, b := range dockerBad[v.env] {
			env := append(withoutVar(dockerBase(), v.env), v.env+"="+b.value)
			cases = append(cases,
				badCase{name: "docker/env/" + v.env + "/" + b.label, args: []string{"docker"}, env: env,
					input: v.env, reason: b.reason, secret: secretOf(v, b.value, secret)},
				badCase{name: "docker/flag/" + v.flag + "/" + b.label, args: []string{"docker", "--" + v.flag + "=" + b.value},
					env: dockerBase(), input: "--" + v.flag, reason: b.reason, secret: secretOf(v, b.value, secret)})
		}
		if v.required {
			cases = append(cases,
				badCase{name: "docker/env/" + v.env + "/empty", args: []string{"docker"}, env: append(withoutVar(dockerBase(), v.env), v.env+"="),
					input: v.env, reason: rRequired},
				badCase{name: "docker/flag/" + v.flag + "/empty", args: []string{"docker", "--" + v.flag + "="},
					env: withoutVar(dockerBase(), v.env), input: v.env, reason: rRequired})
		}
	}
	return cases
}

// secretOf is the text a case must not print: the whole value of a
// secret row, else the known secret planted in it.
func secretOf(v dockerVar, value, planted string) string {
	if v.secret && strings.TrimSpace(value) != "" {
		return value
	}
	return planted
}

func withoutVar(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// hostBad are malformed Docker API URLs (DOCKER_HOST, doctor's --host).
var hostBad = func() []badValue {
	r := "want unix:///PATH or tcp://HOST:PORT"
	return []badValue{
		{"whitespace", " ", r}, {"relative", "docker.sock", r}, {"unix_no_path", "unix://", r},
		{"unix_relative", "unix://docker.sock", r}, {"tcp_no_host", "tcp://", r}, {"http", "http://localhost:2375", r},
		{"non_utf8", nonUTF8, r}, {"big", big("a"), r},
	}
}()

// dindBad, doctorBad and adoptBad list the malformed values of every row
// of dindVars, doctorVars and adoptVars, keyed by variable (or flag, for a
// flag-only row). An empty value is no case: it is unset, the default.
var dindBad = map[string][]badValue{
	envIsolatedMount:           boolBad,
	envStopGrace:               durationBad,
	envDockerTimeout:           durationBad,
	"ENVBOX_DELEGATE_ATTEMPTS": dockerBad["ENVBOX_DELEGATE_ATTEMPTS"],
	envDockerdRestarts: {
		{"whitespace", " ", "want a whole number >= 0"}, {"negative", "-1", "want a whole number >= 0"},
		{"overflow", "99999999999999999999", "want a whole number >= 0"}, {"word", "three", "want a whole number >= 0"},
		{"non_utf8", nonUTF8, "want a whole number >= 0"},
	},
	envMTU:                     mtuBad,
	"ENVBOX_RESERVE_MEMORY":    reserveMemoryBad,
	"ENVBOX_RESERVE_PIDS":      reservePidsBad,
	"ENVBOX_RESERVE_EXEC_PIDS": execPidsBad,
	envLogFormat:               dockerBad[envLogFormat],
	"DOCKER_TLS_CERTDIR":       {{"whitespace", " ", "want an absolute directory"}, {"relative", "certs", "want an absolute directory"}},
	"DOCKER_HOST":              hostBad,
}

// runVarsBad lists the malformed values of every runVars row.
var runVarsBad = map[string][]badValue{
	"--name": nameBad("want a name matching ^[A-Za-z0-9_][A-Za-z0-9_.+-]*$"),
	envRestarts: {
		{"whitespace", " ", "want a whole number from 0 to 999999999"}, {"negative", "-1", "want a whole number from 0 to 999999999"},
		{"overflow", "99999999999999999999", "want a whole number from 0 to 999999999"}, {"word", "two", "want a whole number from 0 to 999999999"},
		{"fraction", "1.5", "want a whole number from 0 to 999999999"}, {"non_utf8", nonUTF8, "want a whole number from 0 to 999999999"},
	},
	envCgroupParent: {
		{"whitespace", " ", rCgroupParent}, {"relative", "kubepods", rCgroupParent}, {"root", "/", rCgroupParent},
		{"dotdot", "/kubepods/../x", rCgroupParent}, {"trailing_slash", "/default/", rCgroupParent}, {"big", "/" + big("a"), "want at most 4096 bytes"},
		{"init", "/init", rCgroupParentInit}, {"under_init", "/init/kubepods", rCgroupParentInit},
	},
	"ENVBOX_RESERVE_MEMORY":    reserveMemoryBad,
	"ENVBOX_RESERVE_PIDS":      reservePidsBad,
	envIsolatedMount:           boolBad,
	envStopGrace:               durationBad,
	envIdentifyTimeout:         durationBad,
	"ENVBOX_DELEGATE_ATTEMPTS": dockerBad["ENVBOX_DELEGATE_ATTEMPTS"],
	envLogFormat:               dockerBad[envLogFormat],
}

const (
	rCgroupParent     = "want a clean absolute cgroup path below the root such as /kubepods"
	rCgroupParentInit = "/init is envbox's own cgroup (the delegated processes', a leaf): want another such as /kubepods"
)

var doctorBad = map[string][]badValue{
	"--json":      boolBad,
	"DOCKER_HOST": hostBad,
	"--host-cgroup-root": {
		{"whitespace", " ", "want a clean absolute cgroup path"}, {"relative", "kubepods.slice/pod", "want a clean absolute cgroup path"},
		{"dotdot", "/kubepods/../x", "want a clean absolute cgroup path"}, {"trailing_slash", "/kubepods/", "want a clean absolute cgroup path"},
		{"big", big("a"), "want a clean absolute cgroup path"},
	},
	"--pid": {
		{"whitespace", " ", "want a positive process ID"}, {"negative", "-1", "want a positive process ID"},
		{"zero", "0", "want a positive process ID"}, {"overflow", "99999999999999999999", "want a positive process ID"},
		{"fraction", "1.5", "want a positive process ID"}, {"leading_zero", "01", "want a positive process ID"},
		{"non_utf8", nonUTF8, "want a positive process ID"}, {"big", big("9"), "want a positive process ID"},
	},
}

var healthBad = map[string][]badValue{
	"DOCKER_HOST": {
		{"tcp", "tcp://127.0.0.1:2375", "want unix:///PATH"}, {"relative", "unix://docker.sock", "want unix:///PATH"},
		{"whitespace", " ", "want unix:///PATH"}, {"non_utf8", nonUTF8, "want unix:///PATH"},
	},
	"--timeout": durationBad,
}

var adoptBad = map[string][]badValue{
	"--listen": {
		{"whitespace", " ", "want an absolute socket path"}, {"relative", "docker.sock", "want an absolute socket path"},
		{"tcp", "tcp://127.0.0.1:2375", "only unix sockets can be listened on"}, {"non_utf8", nonUTF8, "want an absolute socket path"},
		{"too_long", "/" + strings.Repeat("a", 200), "longer than the 107 bytes of a unix socket path"},
	},
	"--upstream": {
		{"whitespace", " ", "want an absolute socket path"}, {"relative", "docker-real.sock", "want an absolute socket path"},
		{"same", "{dir}/l.sock", "name the same socket"}, {"tcp", "tcp://127.0.0.1:2375", "want an absolute socket path"},
	},
	"--allow-override": boolBad,
	"--max-connections": {
		{"whitespace", " ", "want a whole number from 1 to 1048576"}, {"zero", "0", "want a whole number from 1 to 1048576"},
		{"negative", "-1", "want a whole number from 1 to 1048576"}, {"overflow", "99999999999999999999", "want a whole number from 1 to 1048576"},
	},
	"--debug":    boolBad,
	envLogFormat: {{"word", "xml", rLogFmt}, {"non_utf8", nonUTF8, rLogFmt}},
}

// rowKey names a row in the bad-value maps: its variable, else its flag.
func rowKey[C any](v envVar[C]) string {
	if v.env != "" {
		return v.env
	}
	return "--" + v.flag
}

// tableCases turns the malformed values of a table's rows into runs: each
// value as the variable and as the flag, where the row has them. args
// builds the command line around one flag argument ("" for none).
func tableCases[C any](cmd string, rows varTable[C], bad map[string][]badValue, args func(flagArg string) []string) []badCase {
	var cases []badCase
	for _, v := range rows {
		for _, b := range bad[rowKey(v)] {
			if v.env != "" {
				cases = append(cases, badCase{name: cmd + "/env/" + v.env + "/" + b.label, args: args(""),
					env: []string{v.env + "=" + b.value}, input: v.env, reason: b.reason})
			}
			if v.flag != "" {
				cases = append(cases, badCase{name: cmd + "/flag/" + v.flag + "/" + b.label, args: args("--" + v.flag + "=" + b.value),
					input: "--" + v.flag, reason: b.reason})
			}
		}
	}
	return cases
}

// withFlag returns prefix, then flagArg unless it is "", then suffix.
func withFlag(prefix []string, flagArg string, suffix ...string) []string {
	args := append([]string{}, prefix...)
	if flagArg != "" {
		args = append(args, flagArg)
	}
	return append(args, suffix...)
}

// flagCases are the flags and variables of dind, doctor and adopt-proxy.
func flagCases() []badCase {
	cases := tableCases("dind", dindVars, dindBad, func(f string) []string { return withFlag([]string{"dind"}, f, "--", "dockerd") })
	cases = append(cases, tableCases("run", runVars, runVarsBad, func(f string) []string { return withFlag([]string{"run"}, f, "--", "containerd") })...)
	cases = append(cases, tableCases("doctor", doctorVars, doctorBad, func(f string) []string { return withFlag([]string{"doctor"}, f) })...)
	cases = append(cases, tableCases("adopt-proxy", adoptVars, adoptBad, func(f string) []string { return withFlag(adoptSafe, f) })...)
	cases = append(cases, tableCases("health", healthVars, healthBad, func(f string) []string { return withFlag([]string{"health"}, f) })...)
	return append(cases, positionalCases()...)
}

// adoptSafe points adopt-proxy at sockets in the case's own directory: a
// value that is wrongly accepted must never replace a real socket.
var adoptSafe = []string{"adopt-proxy", "--listen={dir}/l.sock", "--upstream={dir}/u.sock"}

// positionalCases are arguments no command takes.
func positionalCases() []badCase {
	return []badCase{
		{name: "dind/positional_before_dashdash", args: []string{"dind", "extra", "--", "dockerd"}, input: "extra", reason: "unexpected arguments before --"},
		{name: "dind/unknown_flag", args: []string{"dind", "--bogus", "--", "dockerd"}, input: "--bogus", reason: "unknown flag"},
		{name: "run/no_dashdash", args: []string{"run", "containerd"}, input: `"--"`, reason: "want envbox run [flags] -- CMD [ARGS...]"},
		{name: "run/flags_no_dashdash", args: []string{"run", "--restarts=2", "containerd"}, input: `"--"`, reason: "want envbox run [flags] -- CMD [ARGS...]"},
		{name: "run/no_args", args: []string{"run"}, input: `"--"`, reason: "want envbox run [flags] -- CMD [ARGS...]"},
		{name: "run/empty_cmd", args: []string{"run", "--"}, input: `empty CMD after "--"`, reason: "want envbox run [flags] -- CMD [ARGS...]"},
		{name: "run/blank_cmd", args: []string{"run", "--", "", "server"}, input: `CMD after "--" is ""`, reason: "want a binary name or path"},
		{name: "run/positional_before_dashdash", args: []string{"run", "extra", "--", "containerd"}, input: "extra", reason: "unexpected arguments before --"},
		{name: "run/unknown_flag", args: []string{"run", "--bogus", "--", "containerd"}, input: "--bogus", reason: "unknown flag"},
		{name: "docker/positional", args: []string{"docker", "extra"}, env: dockerBase(), input: "extra", reason: "unknown command"},
		{name: "docker/unknown_flag", args: []string{"docker", "--bogus"}, env: dockerBase(), input: "--bogus", reason: "unknown flag"},
		{name: "doctor/positional", args: []string{"doctor", "extra"}, input: "extra", reason: "unknown command"},
		{name: "adopt-proxy/positional", args: append(append([]string{}, adoptSafe...), "extra"), input: "extra", reason: "unknown command"},
		{name: "unknown_command", args: []string{"dokcer"}, input: "dokcer", reason: "unknown command"},
	}
}

// badRun is what one run of the binary left behind.
type badRun struct {
	code     int
	stderr   string
	stdout   string
	started  string   // the fakes' record: argv of anything started
	leftover []string // files written in cwd/HOME
}

// fakeNames are every binary envbox starts, looks up or probes.
var fakeNames = []string{"unshare", "dockerd", "sysbox-mgr", "sysbox-fs", "docker", "iptables", "iptables-legacy", "ip6tables", "containerd", "runc"}

// runBad runs envbox with only env (plus PATH, HOME) in an empty
// directory whose PATH holds recording fakes of every binary.
func runBad(t *testing.T, bin string, args, env []string) badRun {
	t.Helper()
	dir := t.TempDir()
	fakes, record := filepath.Join(dir, "bin"), filepath.Join(dir, "record")
	if err := os.Mkdir(fakes, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range fakeNames {
		script := "#!/bin/sh\necho \"$0 $*\" >>" + record + "\nexit 97\n"
		if err := os.WriteFile(filepath.Join(fakes, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	args = append([]string{}, args...)
	for i := range args {
		args[i] = strings.ReplaceAll(args[i], "{dir}", dir)
	}
	r := runBadIn(t, bin, dir, fakes, args, env)
	if b, err := os.ReadFile(record); err == nil {
		r.started = string(b)
	}
	return r
}

// runBadIn runs envbox in dir/home (also HOME) with PATH=path and env.
func runBadIn(t *testing.T, bin, dir, path string, args, env []string) badRun {
	t.Helper()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = home
	cmd.Env = append([]string{"PATH=" + path, "HOME=" + home}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := badRun{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run envbox %q: %v", args, err)
	}
	entries, err := os.ReadDir(home)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		r.leftover = append(r.leftover, e.Name())
	}
	return r
}

// short keeps failure messages readable when a value is 120 KiB.
func short(s string) string {
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

func allBadCases() []badCase { return append(dockerCases(), flagCases()...) }

// TestBadInputMatrix runs every case through the real binary.
func TestBadInputMatrix(t *testing.T) {
	t.Parallel()
	bin := buildEnvbox(t)
	cases := allBadCases()
	t.Logf("bad-input matrix: %d cases", len(cases))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runBad(t, bin, tc.args, tc.env)
			checkBad(t, tc, r)
		})
	}
}

func checkBad(t *testing.T, tc badCase, r badRun) {
	t.Helper()
	line := strings.TrimSuffix(r.stderr, "\n")
	if r.code != 2 {
		t.Errorf("exit status %d, want 2; stderr %q", r.code, short(r.stderr))
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") || !strings.HasPrefix(r.stderr, "envbox: ") {
		t.Errorf("stderr is not one line \"envbox: ...\": %q", short(r.stderr))
	}
	if !strings.Contains(line, tc.input) {
		t.Errorf("stderr %q does not name the input %q", short(line), tc.input)
	}
	if !strings.Contains(line, tc.reason) {
		t.Errorf("stderr %q does not give the reason %q", short(line), tc.reason)
	}
	for _, s := range []string{tc.secret, badToken, badPullSecret} {
		if s != "" && strings.Contains(r.stderr+r.stdout, s) {
			t.Errorf("output holds the secret %q: %q", short(s), short(r.stderr+r.stdout))
		}
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", short(r.stdout))
	}
	if r.started != "" {
		t.Errorf("processes started: %q", r.started)
	}
	if len(r.leftover) > 0 {
		t.Errorf("files written in cwd/HOME: %q", r.leftover)
	}
}

// TestBadInputCoversEveryVariable: a row added to any command's table
// needs its malformed values here, and the count docs/evidence.md quotes stays
// true.
func TestBadInputCoversEveryVariable(t *testing.T) {
	t.Parallel()
	covered(t, "dockerVars", dockerVars, dockerBad, anyText)
	covered(t, "dindVars", dindVars, dindBad, anyText)
	covered(t, "runVars", runVars, runVarsBad, anyText)
	covered(t, "doctorVars", doctorVars, doctorBad, anyText)
	covered(t, "adoptVars", adoptVars, adoptBad, anyText)
	covered(t, "healthVars", healthVars, healthBad, anyText)
	if n := len(allBadCases()); n != badCaseCount {
		t.Errorf("%d bad-input cases, docs/evidence.md says %d: update both", n, badCaseCount)
	}
}

// covered checks that every row of rows has malformed values in bad or a
// reason in exempt, and that bad names no row rows lacks.
func covered[C any](t *testing.T, name string, rows varTable[C], bad map[string][]badValue, exempt map[string]string) {
	t.Helper()
	keys := map[string]bool{}
	for _, v := range rows {
		k := rowKey(v)
		keys[k] = true
		if _, ok := exempt[k]; len(bad[k]) == 0 && !ok {
			t.Errorf("%s: %s has no malformed values", name, v.label())
		}
	}
	for k := range bad {
		if !keys[k] {
			t.Errorf("%s has no row %s", name, k)
		}
	}
}

// badCaseCount is the number docs/evidence.md "Reliability" quotes.
const badCaseCount = 793
