#!/bin/sh
# shellcheck shell=sh
# Builds (once) and caches the root filesystem tarballs the dockerd tests and
# the demo import as images, since there is no registry here.
#
# Usage: images.sh base|dind   → prints the path of the cached tarball.
#   base: debootstrap --variant=minbase bookworm
#   dind: the same plus docker.io, iptables, procps (outer DinD container)
#
# Environment:
#   ENVBOX_TEST_CACHE   cache directory (default /var/cache/envbox-test)
#   ENVBOX_TEST_MIRROR  Debian mirror (default: the first URIs of the apt sources)
set -eu

fail() {
	printf 'images.sh: %s\n' "$*" >&2
	exit 1
}

kind=${1:-}
case $kind in
base) include='' ;;
dind) include='--include=docker.io,iptables,procps' ;;
*) fail "usage: images.sh base|dind (got \"$kind\")" ;;
esac

cache=${ENVBOX_TEST_CACHE:-/var/cache/envbox-test}
tarball="$cache/bookworm-$kind.tar"
if [ -s "$tarball" ]; then
	printf '%s\n' "$tarball"
	exit 0
fi

mirror=${ENVBOX_TEST_MIRROR:-}
if [ -z "$mirror" ]; then
	sources=/etc/apt/sources.list.d/debian.sources
	[ -r "$sources" ] || fail "no ENVBOX_TEST_MIRROR and cannot read $sources"
	mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$sources" | head -n 1)
	[ -n "$mirror" ] || fail "no URIs line in $sources"
fi
command -v debootstrap >/dev/null || fail "debootstrap not installed (run integration/deps.sh)"

mkdir -p "$cache" || fail "mkdir $cache"
work=$(mktemp -d "$cache/build-$kind.XXXXXX") || fail "mktemp in $cache"
trap 'rm -rf "$work"' EXIT
printf 'images.sh: debootstrap %s bookworm from %s (about a minute)\n' "$kind" "$mirror" >&2
# shellcheck disable=SC2086 # $include is one optional word
debootstrap --variant=minbase $include bookworm "$work/root" "$mirror" >"$work/log" 2>&1 ||
	fail "debootstrap $kind from $mirror failed: $(tail -n 5 "$work/log")"
rm -rf "$work/root/var/cache/apt/archives"/*.deb "$work/root/var/lib/apt/lists"/*_Packages
tar -C "$work/root" -cf "$work/out.tar" . || fail "tar $work/root"
mv "$work/out.tar" "$tarball" || fail "mv to $tarball"
printf '%s\n' "$tarball"
