#!/usr/bin/env bash
# Prints the path of a cached tool binary, installing it first if needed:
#   jaeger      built from its pinned Go module (hack/build-control-plane.sh jaeger)
#   prometheus  Debian's package at PROMETHEUS_DEB_VERSION, unpacked into the cache (no service is installed)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_prometheus() {
  local tmp
  tmp="$(mktemp -d)"
  log "prometheus $PROMETHEUS_DEB_VERSION: downloading Debian's package"
  if ! (cd "$tmp" && apt-get download -qq "prometheus=$PROMETHEUS_DEB_VERSION" >/dev/null 2>&1); then
    [ "$(id -u)" -eq 0 ] || die "cannot download prometheus=$PROMETHEUS_DEB_VERSION; run apt-get update as root"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    (cd "$tmp" && apt-get download -qq "prometheus=$PROMETHEUS_DEB_VERSION" >/dev/null 2>&1) ||
      die "apt-get download prometheus=$PROMETHEUS_DEB_VERSION failed"
  fi
  rm -rf "$PROMETHEUS_DIR.tmp" && dpkg -x "$tmp"/prometheus_*.deb "$PROMETHEUS_DIR.tmp"
  rm -rf "$PROMETHEUS_DIR" "$tmp" && mv "$PROMETHEUS_DIR.tmp" "$PROMETHEUS_DIR"
}

case "${1:-}" in
  jaeger) [ -x "$JAEGER_BIN_DIR/jaeger" ] || bash "$HACK_DIR/build-control-plane.sh" jaeger >&2
    echo "$JAEGER_BIN_DIR/jaeger" ;;
  prometheus) [ -x "$PROMETHEUS_DIR/usr/bin/prometheus" ] || install_prometheus >&2
    echo "$PROMETHEUS_DIR/usr/bin/prometheus" ;;
  *) die "usage: $0 jaeger|prometheus" ;;
esac
