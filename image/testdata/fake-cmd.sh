#!/bin/sh
# shellcheck shell=sh
# Stand-in for docker, envbox and any command the entrypoints exec: appends
# one line to $RECORD: its name, each argument in brackets, "|", then the
# DOCKER_* environment sorted. `docker help CMD` succeeds for the docker
# subcommands the tests use, as the real client's does, and fails otherwise.
{
	printf '%s' "${0##*/}"
	for a; do printf ' [%s]' "$a"; done
	printf ' |'
	env | grep '^DOCKER_' | sort | while IFS= read -r v; do printf ' %s' "$v"; done
	printf '\n'
} >>"$RECORD"
if [ "${0##*/} ${1:-}" = 'docker help' ]; then
	case ${2:-} in
	create | images | info | inspect | load | rm | run | start | stop | version) exit 0 ;;
	*) exit 1 ;;
	esac
fi
