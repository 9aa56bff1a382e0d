// Package dind owns how dockerd is launched and kept: the dockerd argv of
// docker:dind's entrypoint, the delegation wrapper around it (the only way
// dockerd is ever started), the one launch policy that picks its cgroup
// namespace at every start and restart (Launcher), docker:dind's start-up
// hygiene, preflight, TLS, the bridge MTU, readiness and the health probe,
// the headroom reserve for the daemons (Headroom, ApplyReserve, run by the
// delegation hook) and envbox's own oom_score_adj, and the supervisor (restart budget,
// back-off, signal forwarding, stop grace, command mode) over a small
// process interface (Proc) and a signal channel.
//
// It never parses flags or decides exit codes: it returns typed errors
// (ExitStatus, StartError, ErrNoRestartLeft) that package cli maps. Processes
// run through package background behind a Starter, so the supervisor is
// unit-tested with fakes and without root.
package dind
