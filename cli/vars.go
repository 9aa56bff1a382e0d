package cli

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/envbox/envbox/dind"
	"github.com/envbox/envbox/embed"
)

// envVar is one row of a command's configuration table: a variable, a
// flag, or both. The row drives parsing, the flag, --help, the package
// documentation (doc.go) and the Markdown table, so they cannot disagree.
//
// The rule for every command: a flag wins over its variable; an empty
// value is unset (the default applies), unless the row says what a set
// but empty variable means (docker:dind's DOCKER_TLS_CERTDIR and
// DOCKER_IPTABLES_LEGACY).
type envVar[C any] struct {
	env     string // "" = flag only
	flag    string // "" = variable only
	def     string // parsed like a user value; "" = none
	defText string // what happens without a value, when def is ""
	// empty is what a set but empty variable means; "" = empty is unset.
	// When set, the setter receives "" and must handle it.
	empty     string
	meaning   string
	conflicts string
	required  bool
	secret    bool // never echoed in errors or logs
	isBool    bool
	set       func(c *C, v string) error
}

// varTable is the table of one command. Order is the order of --help and
// the docs.
type varTable[C any] []envVar[C]

// label names a row in errors and docs: "ENV (--flag)", "ENV" or "--flag".
func (v envVar[C]) label() string {
	switch {
	case v.flag == "":
		return v.env
	case v.env == "":
		return "--" + v.flag
	}
	return v.env + " (--" + v.flag + ")"
}

// row is the row of variable env; it panics on a name no row has (a
// programming error, caught by the tests).
func (t varTable[C]) row(env string) envVar[C] {
	for _, v := range t {
		if v.env == env {
			return v
		}
	}
	panic("no row for " + env)
}

// rawValue is a flag that only records the text it was given: flags and
// variables go through the same parser and the same error text.
type rawValue struct {
	s      string
	isBool bool
}

func (r *rawValue) String() string     { return r.s }
func (r *rawValue) Set(s string) error { r.s = s; return nil }
func (r *rawValue) Type() string {
	if r.isBool {
		return "bool"
	}
	return "string"
}

// flags registers one flag per row that has one and returns the recorded
// values by flag name.
func (t varTable[C]) flags(fs *pflag.FlagSet) map[string]*rawValue {
	vals := make(map[string]*rawValue, len(t))
	for _, v := range t {
		if v.flag == "" {
			continue
		}
		r := &rawValue{isBool: v.isBool}
		usage := v.meaning
		if v.env != "" {
			usage += " [" + v.env + "]"
		}
		f := fs.VarPF(r, v.flag, "", usage)
		if v.isBool {
			f.NoOptDefVal = "true"
		}
		vals[v.flag] = r
	}
	return vals
}

// parse fills c from flags (which win) and variables. changed reports
// whether a flag was given on the command line.
func (t varTable[C]) parse(c *C, lookup func(string) (string, bool), vals map[string]*rawValue, changed func(string) bool) error {
	for _, v := range t {
		name, val, given := v.source(lookup, vals, changed)
		if !given {
			if v.required {
				return fmt.Errorf("%s is required", v.label())
			}
			if v.def == "" {
				continue
			}
			val = v.def
		}
		if err := v.set(c, val); err != nil {
			if v.secret {
				return fmt.Errorf("parse %s: %w (value not shown)", name, err)
			}
			return fmt.Errorf("parse %s=%q: %w", name, val, err)
		}
	}
	return nil
}

// source returns where a row's value comes from and whether one was given.
func (v envVar[C]) source(lookup func(string) (string, bool), vals map[string]*rawValue, changed func(string) bool) (name, val string, given bool) {
	if v.flag != "" && changed(v.flag) {
		val = vals[v.flag].s
		return "--" + v.flag, val, val != "" || v.empty != ""
	}
	if v.env != "" {
		if s, ok := lookup(v.env); ok {
			return v.env, s, s != "" || v.empty != ""
		}
	}
	return v.env, "", false
}

// Rows and setters shared by several commands.

// logFormatVar is ENVBOX_LOG_FORMAT of every command that logs.
func logFormatVar[C any](field func(*C) *string) envVar[C] {
	return envVar[C]{env: envLogFormat, flag: "log-format", meaning: `"json" or "human"`, defText: "human on a terminal, else json",
		set: func(c *C, v string) error { return setLogFormat(field(c), v) }}
}

// delegateAttemptsVar is the bound every flow passes to the delegation
// script.
func delegateAttemptsVar[C any](field func(*C) *int) envVar[C] {
	return envVar[C]{env: embed.EnvDelegateAttempts, flag: "delegate-attempts", def: strconv.Itoa(dind.DefaultDelegateAttempts), meaning: "bound on the delegation script's attempts",
		set: func(c *C, v string) (err error) { *field(c), err = parsePositive(v); return err }}
}

// maxName bounds every name: a value longer than any kernel, Docker or
// passwd field would take is an error here, not later.
const maxName = 255

func setName(dst *string, v string, re *regexp.Regexp) error {
	if len(v) > maxName {
		return fmt.Errorf("want at most %d bytes, got %d", maxName, len(v))
	}
	if !re.MatchString(v) {
		return fmt.Errorf("want a name matching %s", re)
	}
	*dst = v
	return nil
}

func setAbs(dst *string, v string) error {
	if !path.IsAbs(v) {
		return errors.New("want an absolute path")
	}
	*dst = path.Clean(v)
	return nil
}

func setBool(dst *bool, v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	*dst = b
	return nil
}

func setDuration(dst *time.Duration, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return errors.New("want a positive duration such as 30s")
	}
	*dst = d
	return nil
}

func setString(dst *string, v string) error { *dst = v; return nil }

// setDockerHost takes a Docker API URL as the docker CLI does.
func setDockerHost(dst *string, v string) error {
	if _, err := socketOf(v); err != nil {
		return errors.New("want unix:///PATH or tcp://HOST:PORT")
	}
	*dst = v
	return nil
}

func setLogFormat(dst *string, v string) error {
	if v != "json" && v != "human" {
		return errors.New(`want "json" or "human"`)
	}
	*dst = v
	return nil
}

// maxWhole bounds the counts envbox passes to its script (the script's
// own bound: nine digits, so its shell arithmetic cannot overflow).
const maxWhole = 999999999

// parsePositive parses a whole number from 1 to maxWhole.
func parsePositive(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > maxWhole {
		return 0, errors.New("want a whole number from 1 to 999999999")
	}
	return n, nil
}

// mtuVar is ENVBOX_MTU, the same row in every command that starts dockerd.
func mtuVar[C any](field func(*C) **int) envVar[C] {
	return envVar[C]{env: envMTU, flag: "dockerd-mtu", defText: "the default route's interface MTU when below 1500, else dockerd's (1500)",
		meaning:   "MTU of dockerd's bridge, from 68 to 65535; 0 = dockerd's default",
		conflicts: "a --mtu among dockerd's arguments or \"mtu\" in its daemon.json wins",
		set: func(c *C, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || (n != 0 && (n < 68 || n > 65535)) {
				return errors.New("want 0 or a whole number from 68 to 65535")
			}
			*field(c) = &n
			return nil
		}}
}

// reserveText is what the reserve rows say of one command's daemons.
type reserveText struct {
	kept, keptTasks     string // who the reserve is kept for (memory, tasks)
	parent, parentShort string // the cgroup that gets the pod's limit minus it
	none                string // the last case where nothing is reserved
}

// dockerdReserve and runReserve are the texts of the commands that start
// dockerd and of envbox run.
var (
	dockerdReserve = reserveText{kept: "envbox, dockerd and containerd", keptTasks: "envbox, dockerd, containerd and the shims",
		parent: "the containers' parent cgroup (/docker, or dockerd's --cgroup-parent)", parentShort: "the containers' parent cgroup",
		none: "with the systemd cgroup driver"}
	runReserve = reserveText{kept: "envbox and CMD", keptTasks: "envbox and CMD",
		parent: "the workloads' parent cgroup (--cgroup-parent)", parentShort: "the workloads' parent cgroup (--cgroup-parent)",
		none: "without --cgroup-parent"}
)

// reserveMemoryVar and reservePidsVar are the headroom reserve of every
// command that starts a daemon (dind.Reserve, applied by delegate-hook).
func reserveMemoryVar[C any](field func(*C) *dind.Amount, t reserveText) envVar[C] {
	return envVar[C]{env: dind.EnvReserveMemory, flag: "reserve-memory", def: "auto",
		meaning: "memory kept for " + t.kept + ": " + t.parent + " " +
			"gets the pod's memory.max minus this. \"auto\" = max(192Mi, 10%) capped at 1Gi and at half the pod; N% of the pod; " +
			"bytes, optionally with Ki, Mi, Gi or Ti; 0 = off",
		conflicts: "nothing is reserved on a pod without a memory limit, on cgroup v1 or hybrid hosts, or " + t.none,
		set:       func(c *C, v string) (err error) { *field(c), err = dind.ParseAmount(v, true); return err }}
}

func reservePidsVar[C any](field func(*C) *dind.Amount, t reserveText) envVar[C] {
	return envVar[C]{env: dind.EnvReservePids, flag: "reserve-pids", def: "auto",
		meaning: "tasks kept for " + t.keptTasks + ": " + t.parentShort + " gets the pod's pids.max minus this. " +
			"\"auto\" = max(128, 5%) capped at 1024 and at half the pod; N% of the pod; a whole number; 0 = off",
		conflicts: "nothing is reserved on a pod without a pids limit, on cgroup v1 or hybrid hosts, or " + t.none,
		set:       func(c *C, v string) (err error) { *field(c), err = dind.ParseAmount(v, false); return err }}
}
