// Package workspace owns the Coder session of `envbox docker`: sysbox,
// dockerd's argv and its no-space fallback, the inner workspace container
// (the pure mapping from a validated SessionConfig plus the limits and
// devices detected on the outer container to the Docker container and host
// configuration), the conversation with dockerd through the official Docker
// Go client (wait for the API, pull with progress under the pull policy,
// create, start, bootstrap exec, stop), the registry's side of the pull
// (the extra CA certificates in dockerd's certs.d, the pull secret's entry
// for the image's registry in every shape users write) and the
// supervision until the workspace or dockerd ends or a signal stops it.
//
// It launches dockerd only through package dind's Launcher (the one launch
// policy of both flows) and its processes only through a dind.Starter; it
// never parses flags or environment variables (package cli does), and the
// agent token travels only in the bootstrap exec's environment, never in
// the container's own configuration nor in the daemons' environment.
package workspace
