#!/bin/sh
# shellcheck shell=sh
# docker:dind's client entrypoint (docker-library/docker's
# docker-entrypoint.sh), for a client container of this image: the
# official docker-dind test and GitLab-style jobs run it with the daemon
# container linked as "docker" and its /certs volume shared.
#   - a flag or a docker subcommand first: it runs through docker;
#   - DOCKER_HOST unset: /var/run/docker.sock when it is a socket, else
#     tcp://docker:2376 when the client certificates under
#     $DOCKER_TLS_CERTDIR/client exist (or DOCKER_TLS_VERIFY is set), else
#     tcp://docker:2375;
#   - a tcp:// host with those certificates and no TLS setting of its own
#     gets DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH=$DOCKER_TLS_CERTDIR/client.
# Not carried over: the rootless socket under XDG_RUNTIME_DIR (this image's
# dockerd is rootful) and the "use the dind variant" notice before dockerd
# (this image is the dind variant). No argument at all runs docker (its
# usage) instead of failing on the unset "$1".
set -eu

if [ "$#" -eq 0 ]; then
	set -- docker
else
	case $1 in
	-*) set -- docker "$@" ;;
	*) if docker help "$1" >/dev/null 2>&1; then set -- docker "$@"; fi ;;
	esac
fi

# client_certs: the daemon container's generated client certificates are
# here (non-empty files, as dockerd-entrypoint.sh writes them).
client_certs() {
	[ -n "${DOCKER_TLS_CERTDIR:-}" ] &&
		[ -s "$DOCKER_TLS_CERTDIR/client/ca.pem" ] &&
		[ -s "$DOCKER_TLS_CERTDIR/client/cert.pem" ] &&
		[ -s "$DOCKER_TLS_CERTDIR/client/key.pem" ]
}

if [ -z "${DOCKER_HOST:-}" ]; then
	if [ -S /var/run/docker.sock ]; then
		DOCKER_HOST=unix:///var/run/docker.sock
	elif client_certs || [ -n "${DOCKER_TLS_VERIFY:-}" ]; then
		DOCKER_HOST=tcp://docker:2376
	else
		DOCKER_HOST=tcp://docker:2375
	fi
	export DOCKER_HOST
fi
case $DOCKER_HOST in
tcp:*)
	if [ -z "${DOCKER_TLS_VERIFY:-}" ] && [ -z "${DOCKER_CERT_PATH:-}" ] && client_certs; then
		export DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$DOCKER_TLS_CERTDIR/client"
	fi
	;;
esac

exec "$@"
