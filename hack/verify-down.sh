#!/usr/bin/env bash
# Checks that cluster-down.sh left no control-plane process or listening port behind.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

leftover=0
for port in "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT" "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$SCHEDULER_PORT" "$CONTROLLER_MANAGER_PORT" "$KWOK_PORT"; do
  if ss -Hltn "sport = :$port" | grep -q .; then log "port $port is still listening"; leftover=1; fi
done
for dir in "$ETCD_BIN_DIR" "$K8S_BIN_DIR" "$KWOK_BIN_DIR" "$KUBELET_BIN_DIR"; do
  if pgrep -f "^$dir/" >/dev/null; then log "a process from $dir is still running: $(pgrep -af "^$dir/")"; leftover=1; fi
done
bash "$HACK_DIR/realnode.sh" verify || leftover=1
[ "$leftover" = 0 ] && log "cluster down: no process or port left behind"
exit "$leftover"
