// Package image holds the files the Dockerfile copies into the envbox image
// beside the binary: docker:dind's entrypoint scripts dockerd-entrypoint.sh
// (runs `envbox dind`) and docker-entrypoint.sh (the client entrypoint), and
// their tests. No Go code of it ships; it never starts a real docker.
package image
