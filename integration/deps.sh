#!/bin/sh
# Installs the packages envbox's tests need on Debian (idempotent, as root).
set -eu
pkgs="shellcheck busybox-static dash bash util-linux iproute2 procps iptables docker.io debootstrap qemu-system-x86 cpio docker-registry apache2-utils"
missing=''
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
# staticcheck type-checks with the go/types it was built with, which cannot
# read a newer standard library: build it with go.mod's toolchain (go env
# GOVERSION in this module, with GOTOOLCHAIN=auto), again when that changes.
cd "$(dirname "$0")/.."
: "${GOTOOLCHAIN:=auto}"
export GOTOOLCHAIN
tc=$(go env GOVERSION)
bin=$(go env GOBIN)
sc="${bin:-$(go env GOPATH)/bin}/staticcheck"
if [ "$(go version "$sc" 2>/dev/null)" != "$sc: $tc" ]; then
	echo "deps: installing staticcheck built with $tc"
	GOTOOLCHAIN=$tc go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi
