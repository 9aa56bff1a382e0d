package dind

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// The headroom reserve: when the inner containers together reach the
// pod's memory.max or pids.max, the kernel acts on the whole pod, and
// envbox, dockerd and containerd live in it (/init). So before dockerd
// starts, the parent cgroup of its containers (/docker) gets the pod's
// limit minus a reserve: the containers hit their own limit first, inside
// /docker, and /init keeps room to serve the API.
const (
	EnvReserveMemory = "ENVBOX_RESERVE_MEMORY"
	EnvReservePids   = "ENVBOX_RESERVE_PIDS"
	// EnvReserveParent names the parent explicitly (envbox run
	// --cgroup-parent): the hook then reads no daemon's argv or
	// daemon.json.
	EnvReserveParent = "ENVBOX_RESERVE_PARENT"
)

// Default reserve rules (see docs/limits.md for the measurements behind
// them): memory max(DefaultReserveMemoryMin, DefaultReserveMemoryPercent
// of the pod) capped at DefaultReserveMemoryCap; pids max(DefaultReservePidsMin,
// DefaultReservePidsPercent) capped at DefaultReservePidsCap. A default
// reserve never takes more than half of the pod's limit; an explicit one
// that leaves nothing is refused (no reserve, a warning).
const (
	DefaultReserveMemoryMin     = 192 << 20
	DefaultReserveMemoryPercent = 10
	DefaultReserveMemoryCap     = 1 << 30
	DefaultReservePidsMin       = 128
	DefaultReservePidsPercent   = 5
	DefaultReservePidsCap       = 1024
)

// maxReserve bounds an explicit amount: far above any real limit, far
// below int64 overflow in the arithmetic.
const maxReserve = 1 << 50

// Amount is one reserve setting: the default rule (Auto), a share of the
// pod's limit (Percent, 1..90), or a fixed amount (N; 0 disables).
type Amount struct {
	Auto    bool
	Percent int64
	N       int64
}

// String is the canonical text ParseAmount reads back.
func (a Amount) String() string {
	switch {
	case a.Auto:
		return "auto"
	case a.Percent > 0:
		return strconv.FormatInt(a.Percent, 10) + "%"
	}
	return strconv.FormatInt(a.N, 10)
}

// binarySuffixes are the units ParseAmount takes for memory.
var binarySuffixes = []struct {
	s     string
	shift uint
}{{"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}}

// ParseAmount reads a reserve setting: "auto", "N%" (1 to 90), or a whole
// number (0 disables); with bytes true the number may end in Ki, Mi, Gi
// or Ti.
func ParseAmount(v string, bytes bool) (Amount, error) {
	want := `want "auto", a percentage from 1% to 90%, 0 (off) or a whole number`
	if bytes {
		want += " of bytes, optionally with Ki, Mi, Gi or Ti"
	}
	if v == "auto" {
		return Amount{Auto: true}, nil
	}
	if p, ok := strings.CutSuffix(v, "%"); ok {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 1 || n > 90 || p != strconv.FormatInt(n, 10) {
			return Amount{}, errors.New(want)
		}
		return Amount{Percent: n}, nil
	}
	num, shift := v, uint(0)
	if bytes {
		for _, s := range binarySuffixes {
			if n, ok := strings.CutSuffix(v, s.s); ok {
				num, shift = n, s.shift
				break
			}
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || num != strconv.FormatInt(n, 10) || n > maxReserve>>shift {
		return Amount{}, errors.New(want)
	}
	return Amount{N: n << shift}, nil
}

// Reserve is what `envbox dind`, `envbox docker` and `envbox run` pass to
// the hook.
type Reserve struct {
	Memory Amount
	Pids   Amount
	// Parent is the cgroup the reserve applies to, below the namespace
	// root, when envbox is told it (envbox run --cgroup-parent); "" is
	// dockerd's, found from its argv and daemon.json (CgroupParent).
	Parent string
}

// DefaultReserve is the default rule for both.
var DefaultReserve = Reserve{Memory: Amount{Auto: true}, Pids: Amount{Auto: true}}

// Env is how the reserve travels to the hook in dockerd's launch.
func (r Reserve) Env() []string {
	env := []string{EnvReserveMemory + "=" + r.Memory.String(), EnvReservePids + "=" + r.Pids.String()}
	if r.Parent != "" {
		env = append(env, EnvReserveParent+"="+r.Parent)
	}
	return env
}

// CheckReserveParent refuses a parent the reserve cannot apply to: not a
// clean absolute path, the root (the pod itself) or envbox's own /init
// (the daemons' cgroup, a leaf holding processes).
func CheckReserveParent(p string) error {
	switch {
	case !path.IsAbs(p) || path.Clean(p) != p:
		return fmt.Errorf("cgroup parent %q: want a clean absolute path", p)
	case p == "/" || p == "/init" || strings.HasPrefix(p, "/init/"):
		return fmt.Errorf("cgroup parent %q is the root or envbox's own /init", p)
	}
	return nil
}

// ReserveFromEnv reads the reserve from the hook's environment; unset is
// the default rule.
func ReserveFromEnv(lookup func(string) (string, bool)) (Reserve, error) {
	r := DefaultReserve
	for _, f := range []struct {
		env   string
		dst   *Amount
		bytes bool
	}{{EnvReserveMemory, &r.Memory, true}, {EnvReservePids, &r.Pids, false}} {
		v, ok := lookup(f.env)
		if !ok || v == "" {
			continue
		}
		a, err := ParseAmount(v, f.bytes)
		if err != nil {
			return Reserve{}, fmt.Errorf("parse %s=%q: %w", f.env, v, err)
		}
		*f.dst = a
	}
	if v, ok := lookup(EnvReserveParent); ok && v != "" {
		if err := CheckReserveParent(v); err != nil {
			return Reserve{}, fmt.Errorf("parse %s: %w", EnvReserveParent, err)
		}
		r.Parent = v
	}
	return r, nil
}

// Unlimited is a limit file reading "max".
const Unlimited = -1

// LimitPlan is the decision for one controller.
type LimitPlan struct {
	// File is the limit file: memory.max or pids.max.
	File string
	// Pod is the pod's limit, Unlimited for "max".
	Pod int64
	// Reserve is what is kept for /init.
	Reserve int64
	// Value is written to File in the parent cgroup; meaningful only when
	// Skip is "".
	Value int64
	// Skip says why nothing is written.
	Skip string
}

// Applies reports whether the plan writes a limit.
func (p LimitPlan) Applies() bool { return p.Skip == "" }

// String is the plan as one log phrase.
func (p LimitPlan) String() string {
	if !p.Applies() {
		return p.File + " not set: " + p.Skip
	}
	return fmt.Sprintf("%s %d (pod %d - reserve %d)", p.File, p.Value, p.Pod, p.Reserve)
}

// ReservePlan is the decision for both controllers.
type ReservePlan struct {
	Memory LimitPlan
	Pids   LimitPlan
}

func (p ReservePlan) String() string { return p.Memory.String() + "; " + p.Pids.String() }

// PlanCgroupReserve computes the parent's limits from the pod's (Unlimited
// for "max") and the settings. Pure arithmetic: no file is read.
func PlanCgroupReserve(podMemory, podPids int64, r Reserve) ReservePlan {
	return ReservePlan{
		Memory: planLimit("memory.max", podMemory, r.Memory,
			DefaultReserveMemoryMin, DefaultReserveMemoryPercent, DefaultReserveMemoryCap),
		Pids: planLimit("pids.max", podPids, r.Pids,
			DefaultReservePidsMin, DefaultReservePidsPercent, DefaultReservePidsCap),
	}
}

func planLimit(file string, pod int64, a Amount, minimum, percent, limit int64) LimitPlan {
	p := LimitPlan{File: file, Pod: pod}
	switch {
	case !a.Auto && a.Percent == 0 && a.N == 0:
		p.Skip = "reserve disabled (0)"
		return p
	case pod == Unlimited:
		p.Skip = "the pod has no limit (max)"
		return p
	case pod < 0:
		p.Skip = fmt.Sprintf("the pod's limit %d is not a limit", pod)
		return p
	}
	share := func(pct int64) int64 { return pod / 100 * pct } // pod/100 first: no overflow
	switch {
	case a.Auto:
		p.Reserve = min(max(minimum, share(percent)), limit, pod/2)
	case a.Percent > 0:
		p.Reserve = share(a.Percent)
	default:
		p.Reserve = a.N
	}
	if p.Reserve <= 0 || p.Reserve >= pod {
		p.Skip = fmt.Sprintf("the reserve %d leaves nothing of the pod's %d", p.Reserve, pod)
		return p
	}
	p.Value = pod - p.Reserve
	return p
}
