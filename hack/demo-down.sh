#!/usr/bin/env bash
# Stops what `npm run demo` started: the operator, then the local control plane.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pidfile="$CLUSTER_RUN_DIR/operator.pid"
if pid="$(cat "$pidfile" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null; then
  log "operator: stopping (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
fi
rm -f "$pidfile"
bash "$HACK_DIR/cluster-down.sh"
