#!/usr/bin/env bash
# npm run bench: builds the operator, brings the local control plane up if needed, runs bench/run.ts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
ensure_node_deps
npm run --silent build
started=0
if ! bash "$HACK_DIR/cluster-status.sh" >/dev/null 2>&1; then started=1; bash "$HACK_DIR/cluster-up.sh"; fi
kubectl --kubeconfig "$KUBECONFIG_PATH" apply --server-side --force-conflicts -f crds/ >/dev/null
status=0
node --import tsx bench/run.ts || status=$?
[ "$started" = 0 ] || bash "$HACK_DIR/cluster-down.sh"
exit "$status"
