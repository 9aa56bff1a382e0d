// Package cli owns envbox's cobra commands (dind, docker, doctor), the
// mapping between flags and environment variables, and configuration
// validation. It never makes syscalls directly: it wires packages dind,
// background and xunix together.
//
// Environment variables read by `envbox dind`:
//
//	ENVBOX_DELEGATE_ATTEMPTS  bound on the delegation script's attempts (default 100)
//	ENVBOX_LOG_FORMAT         "json" or "human" (default: human on a TTY, else json)
package cli
