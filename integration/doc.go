// Package integration holds end-to-end tests against a real kernel, a real
// dockerd and a pure cgroup v2 VM. Nothing here ships in the binary.
package integration
