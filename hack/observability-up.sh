#!/usr/bin/env bash
# A real Jaeger (OTLP gRPC :4317, HTTP :4318, query API :16686) and a real Prometheus (:9090) scraping the
# operator's /metrics on :9464, on loopback, until `npm run observability:down`. Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_apt curl curl
mkdir -p "$OBSERVABILITY_DIR/run" "$OBSERVABILITY_DIR/logs"
running() { local pid; pid="$(cat "$OBSERVABILITY_DIR/run/$1.pid" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null; }

jaeger="$(bash "$HACK_DIR/tool-path.sh" jaeger)"
prometheus="$(bash "$HACK_DIR/tool-path.sh" prometheus)"

if running jaeger; then
  log "jaeger: already running"
else
  log "jaeger: starting (log: .observability/logs/jaeger.log)"
  JAEGER_OTLP_GRPC_PORT=$JAEGER_OTLP_GRPC_PORT JAEGER_OTLP_HTTP_PORT=$JAEGER_OTLP_HTTP_PORT \
    JAEGER_QUERY_PORT=$JAEGER_QUERY_PORT \
    setsid nohup "$jaeger" --config "$HACK_DIR/jaeger/config.yaml" \
    >>"$OBSERVABILITY_DIR/logs/jaeger.log" 2>&1 </dev/null &
  echo $! >"$OBSERVABILITY_DIR/run/jaeger.pid"
fi

cat >"$OBSERVABILITY_DIR/prometheus.yml" <<YAML
global:
  scrape_interval: 5s
scrape_configs:
  - job_name: mapreduce-operator
    static_configs:
      - targets: ['127.0.0.1:$OPERATOR_METRICS_PORT']
YAML
if running prometheus; then
  log "prometheus: already running"
else
  log "prometheus: starting (log: .observability/logs/prometheus.log)"
  setsid nohup "$prometheus" --config.file="$OBSERVABILITY_DIR/prometheus.yml" \
    --storage.tsdb.path="$OBSERVABILITY_DIR/prometheus-data" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    >>"$OBSERVABILITY_DIR/logs/prometheus.log" 2>&1 </dev/null &
  echo $! >"$OBSERVABILITY_DIR/run/prometheus.pid"
fi

wait_http jaeger "http://127.0.0.1:$JAEGER_QUERY_PORT/api/services" .observability/logs/jaeger.log
wait_http prometheus "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" .observability/logs/prometheus.log
log "observability ready: Jaeger query API http://127.0.0.1:$JAEGER_QUERY_PORT (OTLP gRPC 127.0.0.1:$JAEGER_OTLP_GRPC_PORT), Prometheus http://127.0.0.1:$PROMETHEUS_PORT"
