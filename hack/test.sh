#!/usr/bin/env bash
# The project's whole test run, as `npm test` and CI run it: install, format check, lint, type check, build,
# unit tests, then integration tests on the local control plane (brought up here, built on first use).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ensure_node_deps
log "node $(node --version), npm $(npm --version 2>/dev/null)"

summary="$(mktemp)"
trap 'rm -f "$summary"' EXIT
export MOCHA_SUMMARY_FILE="$summary"

log "format check (prettier)"; npx prettier --check . >/dev/null || { npx prettier --check . || true; die "prettier: run 'npm run format'"; }
log "lint (eslint)"; npx eslint .
log "type check (tsc)"; npx tsc -p tsconfig.json --noEmit
log "build"; npm run --silent build

status=0
log "unit tests"; npx mocha --config .mocharc.unit.json || status=1

started_cluster=0
if [ -z "${TEST_KUBECONFIG:-}" ] && ! bash "$HACK_DIR/cluster-status.sh" >/dev/null 2>&1; then
  started_cluster=1
  bash "$HACK_DIR/cluster-up.sh"
fi
if pid="$(cat "$CLUSTER_RUN_DIR/operator.pid" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null; then
  die "the demo's operator (pid $pid) watches every namespace and would reconcile the tests' jobs: run 'npm run demo:down' first"
fi
log "tools for the integration tests: Jaeger, Prometheus, Helm, kstatus"
bash "$HACK_DIR/tool-path.sh" jaeger >/dev/null
bash "$HACK_DIR/tool-path.sh" prometheus >/dev/null
bash "$HACK_DIR/tool-path.sh" helm >/dev/null
bash "$HACK_DIR/tool-path.sh" kstatus >/dev/null
# The browser test drives Debian's chromium (a fresh install took 1 min 42 s here, apt-get update included).
ensure_apt chromium chromium
log "integration tests"; npx mocha --config .mocharc.integration.json || status=1

if [ "$started_cluster" = 1 ]; then
  bash "$HACK_DIR/cluster-down.sh"
  bash "$HACK_DIR/verify-down.sh" || status=1
fi

read -r passed failed skipped < <(awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}' "$summary")
echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || status=1
exit "$status"
