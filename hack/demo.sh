#!/usr/bin/env bash
# The demo: the local control plane, the operator, and the word-count example run to completion.
# Everything stays up until `npm run demo:down`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

DEMO_NAMESPACE="${MAPREDUCE_DEMO_NAMESPACE:-demo}"
NODE_BIN="$(bash "$HACK_DIR/node.sh")"
export PATH="$NODE_BIN:$PATH"

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund >&2
fi
log "building the operator"; npm run --silent build
bash "$HACK_DIR/cluster-up.sh"
kctl() { kubectl --kubeconfig "$KUBECONFIG_PATH" "$@"; }
kctl apply --server-side --force-conflicts -f crds/ >/dev/null
kctl wait --for=condition=Established --timeout=60s crd/mapreducejobs.mapreduce.dev >/dev/null

pidfile="$CLUSTER_RUN_DIR/operator.pid"
if pid="$(cat "$pidfile" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null; then
  log "operator: already running (pid $pid)"
else
  log "operator: starting (log: .cluster/logs/operator.log)"
  setsid nohup node dist/main.js --kubeconfig="$KUBECONFIG_PATH" --retry-backoff-base=1s --health-port="$OPERATOR_HEALTH_PORT" \
    >>"$CLUSTER_LOG_DIR/operator.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
fi

kctl create namespace "$DEMO_NAMESPACE" --dry-run=client -o yaml | kctl apply -f - >/dev/null
until kctl -n "$DEMO_NAMESPACE" get serviceaccount default >/dev/null 2>&1; do sleep 0.5; done
# A fresh run each time: the job is replaced if an earlier demo left it.
kctl -n "$DEMO_NAMESPACE" delete mrj wordcount --ignore-not-found --wait=true >/dev/null
kctl -n "$DEMO_NAMESPACE" apply -f examples/wordcount.yaml >/dev/null
log "applied examples/wordcount.yaml in namespace $DEMO_NAMESPACE; waiting for it to finish"
for _ in $(seq 1 240); do
  phase="$(kctl -n "$DEMO_NAMESPACE" get mrj wordcount -o jsonpath='{.status.phase}' 2>/dev/null || true)"
  [ "$phase" = Succeeded ] || [ "$phase" = Failed ] && break
  sleep 0.5
done

echo
echo "\$ kubectl get mrj -n $DEMO_NAMESPACE -o wide"
kctl -n "$DEMO_NAMESPACE" get mrj -o wide
echo
echo "Results, one ConfigMap key per item (on kwok each result is the item itself, echoed):"
kctl -n "$DEMO_NAMESPACE" get configmap -l mapreduce.dev/job-name=wordcount,mapreduce.dev/store=results \
  -o go-template='{{range .items}}{{range $k, $v := .data}}  item {{$k}}: {{$v}}{{"\n"}}{{end}}{{end}}'
echo
echo "Retries and phases, as Events:"
kctl -n "$DEMO_NAMESPACE" get events --field-selector involvedObject.name=wordcount \
  --sort-by=.lastTimestamp -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message
echo
cat <<MSG
Everything is still running:
  export KUBECONFIG=$KUBECONFIG_PATH
  kubectl get mrj -A            # try: kubectl apply -n $DEMO_NAMESPACE -f examples/retries.yaml
  tail -f .cluster/logs/operator.log
Stop it all with: npm run demo:down
MSG
[ "$phase" = Succeeded ] || die "the demo job ended '$phase'"
