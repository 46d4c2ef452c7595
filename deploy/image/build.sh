#!/usr/bin/env bash
# `make image`: build localhost/ascolto:latest (and :<git short hash>) with podman from
# Debian's packages, on a base made here from Debian's packages (no image registry needed).
#
#   deploy/image/build.sh            install what is missing, make the base, build the image
#   deploy/image/build.sh prereqs    podman, runc, mmdebstrap only
#   deploy/image/build.sh base       the base image only (localhost/ascolto-base:bookworm)
#
# Rebuilds are quick: the base is cached (.run/image/), and the dependencies are a layer of
# their own, rebuilt only when the run-time part of requirements.lock changes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
# podman's flags for this machine, shared with the tests (tests/support/container.py)
mapfile -t PODMAN_FLAGS < <(grep -v '^#' "$ASCOLTO_ROOT/deploy/image/podman.flags")

IMAGE_DIR="$ASCOLTO_RUN_DIR/image"
SUITE=bookworm
BASE="localhost/ascolto-base:$SUITE"
IMAGE=localhost/ascolto
BASE_PACKAGES=python3,python3-venv,ca-certificates
MIRRORS=(
  "deb http://deb.debian.org/debian $SUITE main"
  "deb http://deb.debian.org/debian $SUITE-updates main"
  "deb http://deb.debian.org/debian-security $SUITE-security main"
)

log() { printf '\033[1m[image]\033[0m %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Each tool is its own Debian package; crun refuses a cgroup v1 layout, hence runc
# (podman.flags).
install_prereqs() {
  local tool missing=()
  for tool in podman runc mmdebstrap; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: run as root, or apt-get install ${missing[*]}"
  log "installing ${missing[*]} from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
}

# The base is made again when its package list changes (a label records it). The root file
# system is cached under a name that says what it holds, for podman's storage wiped.
build_base() {
  local tar="$IMAGE_DIR/rootfs-$SUITE-${BASE_PACKAGES//,/-}.tar" made
  made="$(podman image inspect --format '{{index .Labels "ascolto.base.packages"}}' "$BASE" \
    2>/dev/null || true)"
  [ "$made" = "$BASE_PACKAGES" ] && return 0
  mkdir -p "$IMAGE_DIR"
  if [ ! -f "$tar" ]; then
    log "making a Debian $SUITE root filesystem with $BASE_PACKAGES (mmdebstrap, ~1 min)"
    mmdebstrap --quiet --variant=minbase --include="$BASE_PACKAGES" \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      "$SUITE" "${tar%.tar}.part.tar" "${MIRRORS[@]}" </dev/null  # the format: .tar
    mv "${tar%.tar}.part.tar" "$tar"
  fi
  log "importing $tar as $BASE"
  podman import --quiet --change "LABEL ascolto.base.packages=$BASE_PACKAGES" "$tar" "$BASE" \
    >/dev/null
}

build_image() {
  local tag
  tag="$(git -C "$ASCOLTO_ROOT" rev-parse --short HEAD 2>/dev/null || echo dev)"
  log "building $IMAGE:latest and $IMAGE:$tag"
  # The build trusts the certificate authorities this machine trusts (a proxy's, say) while
  # it installs from PyPI; the bundle is mounted for the build only, never copied in.
  podman build "${PODMAN_FLAGS[@]}" --layers \
    --build-arg BASE="$BASE" \
    --volume /etc/ssl/certs/ca-certificates.crt:/run/build-ca.crt:ro \
    --build-arg PIP_CERT=/run/build-ca.crt \
    --tag "$IMAGE:latest" --tag "$IMAGE:$tag" \
    --file "$ASCOLTO_ROOT/deploy/image/Containerfile" "$ASCOLTO_ROOT"
}

case "${1:-all}" in
  prereqs) install_prereqs ;;
  base) install_prereqs; build_base ;;
  all) install_prereqs; build_base; build_image ;;
  *) die "usage: $0 [prereqs|base|all]" ;;
esac
