// Package background supervises long-running child processes (dockerd,
// sysbox) on behalf of envbox: start, exit detection from the kernel's wait
// status, identity checks against an explicit binary name, graceful stop,
// restart, bounded output capture, and the PID-1 duties of signal forwarding
// and zombie reaping. It never parses what a child prints: callers get the
// lines and decide.
package background
