#!/usr/bin/env bash
# The demo: the local control plane, Jaeger, Zipkin and Prometheus, the operator with tracing (to Jaeger and
# Zipkin at once) and metrics on, and the word-count example run to completion; then its status, result, trace
# waterfall, the trace's page in Zipkin's web UI, and metrics.
# Everything stays up until `npm run demo:down`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

DEMO_NAMESPACE="${MAPREDUCE_DEMO_NAMESPACE:-demo}"
ensure_node_deps
log "building the operator"; npm run --silent build
bash "$HACK_DIR/cluster-up.sh"
bash "$HACK_DIR/observability-up.sh"
kctl() { kubectl --kubeconfig "$KUBECONFIG_PATH" "$@"; }
kctl apply --server-side --force-conflicts -f crds/ >/dev/null
kctl wait --for=condition=Established --timeout=60s crd/mapreducejobs.mapreduce.dev >/dev/null

pidfile="$CLUSTER_RUN_DIR/operator.pid"
if pid="$(cat "$pidfile" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null; then
  log "operator: already running (pid $pid)"
else
  log "operator: starting (log: .cluster/logs/operator.log)"
  OTEL_TRACES_EXPORTER=otlp,zipkin OTEL_EXPORTER_ZIPKIN_ENDPOINT="http://127.0.0.1:$ZIPKIN_PORT/api/v2/spans" \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$JAEGER_OTLP_GRPC_PORT" OTEL_METRIC_EXPORT_INTERVAL=5000 \
    OTEL_METRICS_EXPORTER=prometheus \
    setsid nohup node dist/main.js --kubeconfig="$KUBECONFIG_PATH" --retry-backoff-base=1s \
    --health-port="$OPERATOR_HEALTH_PORT" --metrics-port="$OPERATOR_METRICS_PORT" --metrics-per-job --cluster-name=local-demo \
    >>"$CLUSTER_LOG_DIR/operator.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
fi

kctl create namespace "$DEMO_NAMESPACE" --dry-run=client -o yaml | kctl apply -f - >/dev/null
until kctl -n "$DEMO_NAMESPACE" get serviceaccount default >/dev/null 2>&1; do sleep 0.5; done
# A fresh run each time: the job is replaced if an earlier demo left it.
kctl -n "$DEMO_NAMESPACE" delete mrj wordcount --ignore-not-found --wait=true >/dev/null
# On the real node (hack/realnode.sh) the containers run and the reduce computes the answer; without one, the
# simulated copy of the job runs on kwok's nodes and its answer is scripted.
if [ -n "$(kctl get nodes -l "$REALNODE_LABEL=true" -o name)" ]; then
  example=examples/wordcount.yaml where="the real node $REALNODE_NAME (containers run; the reduce computes the answer)"
else
  example=examples/simulated/wordcount.yaml where="kwok's simulated nodes (no real node: no container runs; the answer is scripted)"
fi
kctl -n "$DEMO_NAMESPACE" apply -f "$example" >/dev/null
log "applied $example in namespace $DEMO_NAMESPACE, to run on $where; waiting for it to finish"
for _ in $(seq 1 480); do
  phase="$(kctl -n "$DEMO_NAMESPACE" get mrj wordcount -o jsonpath='{.status.phase}' 2>/dev/null || true)"
  [ "$phase" = Succeeded ] || [ "$phase" = Failed ] && break
  sleep 0.5
done

cli() { node dist/cli/main.js "$@" -n "$DEMO_NAMESPACE" --kubeconfig="$KUBECONFIG_PATH" \
  --jaeger-url="http://127.0.0.1:$JAEGER_QUERY_PORT"; }
promql() { # the value of an instant query, or "-"
  curl -fsS --get "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query" --data-urlencode "query=$1" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).data.result;console.log(r.length?r[0].value[1]:"-")})'
}

echo
echo "\$ kubectl get mrj -n $DEMO_NAMESPACE -o wide"
kctl -n "$DEMO_NAMESPACE" get mrj -o wide
echo
echo "\$ kubectl mapreduce status wordcount      (the reduce result is the last line; it ran on $where)"
cli status wordcount
echo
echo "\$ kubectl mapreduce trace wordcount       (the job's trace, read back from Jaeger)"
for _ in $(seq 1 20); do out="$(cli trace wordcount 2>&1)" && [[ "$out" == *mapreduce.job.execute* ]] && break; sleep 0.5; done
echo "$out"
echo
trace_id="$(kctl -n "$DEMO_NAMESPACE" get mrj wordcount -o jsonpath='{.status.traceID}')"
zipkin_spans() { # how many spans of the trace Zipkin holds
  curl -fsS "http://127.0.0.1:$ZIPKIN_PORT/api/v2/trace/$1" 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).length))' 2>/dev/null || echo 0
}
for _ in $(seq 1 20); do spans="$(zipkin_spans "$trace_id")" && [ "$spans" != 0 ] && break; sleep 0.5; done
echo "The same trace in Zipkin's web UI ($spans spans there): http://127.0.0.1:$ZIPKIN_PORT/zipkin/traces/$trace_id"
echo
sel="k8s_namespace_name=\"$DEMO_NAMESPACE\",mapreduce_job_name=\"wordcount\""
for _ in $(seq 1 30); do [ "$(promql "sum(mapreduce_jobs_completed_total{$sel})")" = 1 ] && break; sleep 1; done
echo "Metrics, from Prometheus (http://127.0.0.1:$PROMETHEUS_PORT):"
printf '  %-62s %s\n' \
  "mapreduce_jobs_completed_total" "$(promql "sum(mapreduce_jobs_completed_total{$sel})")" \
  "mapreduce_agents_started_total" "$(promql "sum(mapreduce_agents_started_total{$sel})")" \
  "mapreduce_agents_completed_total" "$(promql "sum(mapreduce_agents_completed_total{$sel})")" \
  "mapreduce_agents_retried_total" "$(promql "sum(mapreduce_agents_retried_total{$sel})")" \
  "mapreduce_agents_failed_total" "$(promql "sum(mapreduce_agents_failed_total{$sel}) or vector(0)")" \
  "mapreduce_agent_duration_seconds (mean, map)" "$(promql "sum(mapreduce_agent_duration_seconds_sum{$sel,mapreduce_phase_type=\"map\"}) / sum(mapreduce_agent_duration_seconds_count{$sel,mapreduce_phase_type=\"map\"})")" \
  "mapreduce_agents_active" "$(promql "sum(mapreduce_agents_active{$sel})")"
echo
cat <<MSG
Everything is still running:
  export KUBECONFIG=$KUBECONFIG_PATH
  kubectl get mrj -A                                 # try: kubectl apply -n $DEMO_NAMESPACE -f examples/retries.yaml
  node dist/cli/main.js trace retries -n $DEMO_NAMESPACE   # or put dist/cli/main.js on PATH as kubectl-mapreduce
  Jaeger query API:  http://127.0.0.1:$JAEGER_QUERY_PORT/api/traces/\$(kubectl get mrj -n $DEMO_NAMESPACE wordcount -o jsonpath='{.status.traceID}')
                     (a Go-module build of Jaeger has no web UI assets; its API is complete)
  Zipkin web UI:     http://127.0.0.1:$ZIPKIN_PORT/zipkin/traces/$trace_id   (every job's trace; search at /zipkin/)
  Prometheus:        http://127.0.0.1:$PROMETHEUS_PORT/graph    (try: mapreduce_agents_completed_total)
  operator metrics:  http://127.0.0.1:$OPERATOR_METRICS_PORT/metrics
  operator log:      tail -f .cluster/logs/operator.log
Stop it all with: npm run demo:down
MSG
[ "$phase" = Succeeded ] || die "the demo job ended '$phase'"
