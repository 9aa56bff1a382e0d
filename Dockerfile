# envbox image: envbox as PID 1 in front of dockerd (Debian bookworm's
# docker.io), a drop-in for docker:dind and for Coder's envbox image.
#
# Needs BuildKit (DOCKER_BUILDKIT=1 with Debian's docker.io 20.10 client, or
# buildx): only the stages the chosen build arguments reach are built, so an
# offline build never pulls the Go image.
#
# Build arguments:
#   BASE_IMAGE  runtime base (default debian:bookworm); any local image works,
#               e.g. a debootstrap rootfs imported with `docker import`
#   PACKAGES    apt: install docker.io, iptables, procps, util-linux (default)
#               preinstalled: BASE_IMAGE already has them (offline builds)
#   ENVBOX_BIN  source: build the static binary in GO_IMAGE (default)
#               prebuilt: copy bin/envbox from the context (`make build`)
#   GO_IMAGE    Go toolchain image for ENVBOX_BIN=source
#   VERSION     version stamped into the binary (ENVBOX_BIN=source)
#   SYSBOX_DEB  path in the context of a sysbox-ce .deb to install (needs apt
#               for its dependencies); empty: no sysbox, workspaces use runc
#
# Offline, as CI does it (integration/image_test.go):
#   make build && DOCKER_BUILDKIT=1 docker build --network=none --build-arg ENVBOX_BIN=prebuilt \
#     --build-arg PACKAGES=preinstalled --build-arg BASE_IMAGE=local/bookworm-docker -t envbox .
ARG BASE_IMAGE=debian:bookworm
ARG GO_IMAGE=golang:1.26-bookworm
ARG ENVBOX_BIN=source
ARG PACKAGES=apt
ARG SYSBOX_DEB=

# --- the envbox binary ------------------------------------------------------
FROM ${GO_IMAGE} AS bin-source
# The Go images say GOTOOLCHAIN=local; go.mod names the toolchain to build
# with, which go fetches from the module proxy.
ENV GOTOOLCHAIN=auto
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X github.com/envbox/envbox/cli.Version=${VERSION}" \
	-o /out/envbox ./cmd/envbox

FROM scratch AS bin-prebuilt
COPY bin/envbox /out/envbox

FROM bin-${ENVBOX_BIN} AS bin

# --- the runtime packages ---------------------------------------------------
FROM ${BASE_IMAGE} AS packages-apt
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		ca-certificates docker.io iptables procps util-linux \
	&& rm -rf /var/lib/apt/lists/*

FROM ${BASE_IMAGE} AS packages-preinstalled

FROM packages-${PACKAGES} AS sysbox
# Reached only when SYSBOX_DEB is set (see the FROM of "runtime").
FROM sysbox AS sysbox-deb
ARG SYSBOX_DEB
COPY ${SYSBOX_DEB} /tmp/sysbox.deb
# dpkg alone when the dependencies are already there (offline); else apt
# fetches them and configures sysbox.
RUN { dpkg -i /tmp/sysbox.deb || { apt-get update \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -f --no-install-recommends; }; } \
	&& rm -rf /var/lib/apt/lists/* /tmp/sysbox.deb

# --- the image --------------------------------------------------------------
FROM sysbox${SYSBOX_DEB:+-deb} AS runtime
COPY --from=bin /out/envbox /usr/local/bin/envbox
# docker:dind's entrypoints under their names, for the CI systems that call
# them (image/doc.go); the docker client comes with docker.io.
COPY image/dockerd-entrypoint.sh image/docker-entrypoint.sh /usr/local/bin/
# As docker:dind: TLS material under /certs (envbox dind generates it; the
# directories world-writable and sticky, so a client container of another
# user can share them), the daemon's data on a volume (overlay2 cannot sit
# on the image's overlayfs), the plain and the TLS port.
ENV DOCKER_TLS_CERTDIR=/certs
RUN mkdir -p /certs /certs/client && chmod 1777 /certs /certs/client
VOLUME /var/lib/docker
EXPOSE 2375 2376
# dockerd answers and the delegation holds (envbox health: quiet, one line on failure).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s CMD ["envbox", "health"]
# docker:dind's entrypoint and (empty) command, so that the arguments CI
# systems give docker:dind (Tekton: --storage-driver=vfs; ARC: dockerd
# --host=... --group=...) reach envbox dind unchanged. envbox's other
# commands: --entrypoint envbox (docker run), command: [envbox, ...] (Kubernetes).
ENTRYPOINT ["dockerd-entrypoint.sh"]
CMD []
