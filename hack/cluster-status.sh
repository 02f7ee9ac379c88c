#!/usr/bin/env bash
# Prints whether each control-plane component runs, and the nodes. Exits 1 if any component is down.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

status=0
for name in "${COMPONENTS[@]}"; do
  pid="$(cat "$CLUSTER_RUN_DIR/$name.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    printf '%-24s running (pid %s)\n' "$name" "$pid"
  else
    printf '%-24s stopped\n' "$name"; status=1
  fi
done
for name in containerd kubelet; do # the real node's (hack/realnode.sh), when it has one
  pid="$(cat "$CLUSTER_DIR/realnode/$name.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then printf '%-24s running (pid %s)\n' "$name" "$pid"
  elif [ -n "$pid" ]; then printf '%-24s stopped\n' "$name"; status=1
  else why="$(bash "$HACK_DIR/realnode.sh" check)" || true; printf '%-24s none (%s)\n' "$name" "${why:-not started}"; fi
done
printf 'versions: kubernetes %s, etcd %s, kwok %s\n' "$KUBERNETES_VERSION" "$ETCD_VERSION" "$KWOK_VERSION"
printf 'binaries: %s\n' "$MAPREDUCE_CACHE_DIR"
if [ "$status" -eq 0 ]; then
  printf 'kubeconfig: %s\n\n' "$KUBECONFIG_PATH"
  kubectl --kubeconfig "$KUBECONFIG_PATH" get nodes -o wide || status=1
fi
exit "$status"
