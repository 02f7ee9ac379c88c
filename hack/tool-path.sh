#!/usr/bin/env bash
# Prints the path of a cached binary (jaeger, kube-apiserver, ...), building it first if needed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case "${1:-}" in
  jaeger) [ -x "$JAEGER_BIN_DIR/jaeger" ] || bash "$HACK_DIR/build-control-plane.sh" jaeger >&2
    echo "$JAEGER_BIN_DIR/jaeger" ;;
  *) die "usage: $0 jaeger" ;;
esac
