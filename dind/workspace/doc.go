// Package workspace owns the inner workspace container of `envbox docker`:
// the pure mapping from a validated configuration (plus the limits and
// devices detected on the outer container) to the Docker container and host
// configuration, the CPU/memory limits it gets, and the conversation with
// dockerd through the official Docker Go client (wait for the API, pull with
// progress, create, start, bootstrap exec, stop).
//
// It never starts dockerd or any other process itself (package background
// does, through package dind's wrapper), never parses flags or environment
// variables (package cli does), and never reads the agent token from
// anywhere but its Config: the token travels only in the bootstrap exec's
// environment, never in the container's own configuration.
package workspace
