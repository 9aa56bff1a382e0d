#!/bin/sh
# shellcheck shell=sh
# docker:dind's daemon entrypoint, under the same name and on PATH, for the
# CI systems that call it (Argo: command: [dockerd-entrypoint.sh]) or give
# the image docker:dind's arguments (Tekton: --storage-driver=vfs; ARC:
# dockerd --host=... --group=...). envbox dind takes those arguments as
# docker:dind does; the "--" keeps every one of them an argument, never an
# envbox flag (envbox's settings come from its ENVBOX_* variables here).
exec envbox dind -- "$@"
