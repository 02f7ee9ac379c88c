#!/usr/bin/env bash
# Stops every control-plane process started by cluster-up.sh and removes the cluster's state.
# Logs stay under .cluster/logs for debugging. Safe to run when nothing is running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The real node first: its kubelet stops before the API server it reports to; its containers, mounts, bridge and
# cgroups go with it.
bash "$HACK_DIR/realnode.sh" down
# Reverse start order: the controllers go before the API server, the API server before etcd.
for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_process "${COMPONENTS[$i]}" "$CLUSTER_RUN_DIR/${COMPONENTS[$i]}.pid"; done
rm -rf "$CLUSTER_DIR/etcd" "$CLUSTER_RUN_DIR" "$KUBECONFIG_PATH"
log "cluster stopped"
