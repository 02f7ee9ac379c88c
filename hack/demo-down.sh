#!/usr/bin/env bash
# Stops what `npm run demo` started: the operator, Jaeger, Zipkin and Prometheus, then the local control plane.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stop_process operator "$CLUSTER_RUN_DIR/operator.pid"
bash "$HACK_DIR/observability-down.sh"
bash "$HACK_DIR/cluster-down.sh"
