package embed

import _ "embed"

// DelegateScript is the cgroup delegation wrapper (delegate.sh). It is run as
// `unshare --cgroup -- /bin/sh -c DelegateScript BIN ARGS...` and ends by
// exec'ing BIN with ARGS unchanged. On cgroup v2 it first remounts
// /sys/fs/cgroup (so the namespace root is the root), moves every process of
// the root into /init and enables every controller for children; without
// /sys/fs/cgroup/cgroup.controllers it changes nothing.
//
// It behaves the same under dash, busybox ash and bash. A failure exits
// non-zero (2: bad EnvDelegateAttempts; 1: anything else) with exactly one
// line on stderr starting "envbox-delegate: " that names the step, the path
// and the system error. When the bound is exhausted that line reads
//
//	envbox-delegate: gave up after N attempts: LAST ERROR; pids still in /sys/fs/cgroup: PIDS|none; controllers refusing: NAME (ERROR), ...|none
//
//go:embed delegate.sh
var DelegateScript string

// EnvDelegateAttempts bounds the script's migrate-and-enable loop: a whole
// number from 1 to 999999999, default 100 when unset; set but empty is an
// error. The Go caller sets it in the child's environment; it is never
// spliced into the script text.
const EnvDelegateAttempts = "ENVBOX_DELEGATE_ATTEMPTS"

// EnvDelegateHook names the envbox binary the script runs as
// "HOOK delegate-hook -- BIN ARGS..." after the delegation and before BIN
// (the headroom reserve); unset or empty runs nothing. A failing hook is a
// warning on stderr: BIN starts without it.
const EnvDelegateHook = "ENVBOX_DELEGATE_HOOK"

// EnvOOMScoreAdj, a whole number from -1000 to 1000, is written to the
// script's /proc/self/oom_score_adj before it execs BIN, so BIN does not
// inherit envbox's own score. Unset or empty writes nothing; a bad value
// exits 2; a write the kernel refuses is a warning.
const EnvOOMScoreAdj = "ENVBOX_OOM_SCORE_ADJ"
