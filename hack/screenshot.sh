#!/usr/bin/env bash
# Regenerates docs/images/zipkin-trace.png, the README's picture of a job's trace, by running the browser test
# (test/integration/browser.test.ts): it starts Zipkin and the operator, runs a six-item word count with one
# failing item on the local control plane, and photographs Zipkin's page of its trace in headless Chromium.
# The control plane is brought up if it is down, and brought down again afterwards.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

OUT="$REPO_ROOT/docs/images/zipkin-trace.png"

ensure_node_deps
ensure_apt chromium chromium
if pid="$(cat "$CLUSTER_RUN_DIR/operator.pid" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null; then
  die "the demo's operator (pid $pid) watches every namespace and would reconcile the job: run 'npm run demo:down' first"
fi
started_cluster=0
if [ -z "${TEST_KUBECONFIG:-}" ] && ! bash "$HACK_DIR/cluster-status.sh" >/dev/null 2>&1; then
  started_cluster=1
  bash "$HACK_DIR/cluster-up.sh"
fi
trap '[ "$started_cluster" = 0 ] || bash "$HACK_DIR/cluster-down.sh"' EXIT

mkdir -p "$(dirname "$OUT")"
log "running test/integration/browser.test.ts"
TEST_SCREENSHOT="$OUT" npx mocha --import=tsx --require test/support/root-hooks.ts --timeout 120000 \
  test/integration/browser.test.ts
log "wrote ${OUT#"$REPO_ROOT"/}"
