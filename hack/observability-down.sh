#!/usr/bin/env bash
# Stops what observability-up.sh started; traces (in Jaeger's and Zipkin's memory) and Prometheus' data go with them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stop_process prometheus "$OBSERVABILITY_DIR/run/prometheus.pid"
stop_process jaeger "$OBSERVABILITY_DIR/run/jaeger.pid"
stop_process zipkin "$OBSERVABILITY_DIR/run/zipkin.pid"
rm -rf "$OBSERVABILITY_DIR/prometheus-data" "$OBSERVABILITY_DIR/run"
