#!/usr/bin/env bash
# Stops every control-plane process started by cluster-up.sh and removes the cluster's state.
# Logs stay under .cluster/logs for debugging. Safe to run when nothing is running.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop() {
  local name="$1" pidfile="$CLUSTER_RUN_DIR/$1.pid" pid
  pid="$(cat "$pidfile" 2>/dev/null)" || return 0
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# Reverse start order: the controllers go before the API server, the API server before etcd.
for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop "${COMPONENTS[$i]}"; done
rm -rf "$CLUSTER_DIR/etcd" "$CLUSTER_RUN_DIR" "$KUBECONFIG_PATH"
log "cluster stopped"
