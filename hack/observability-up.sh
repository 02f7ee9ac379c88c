#!/usr/bin/env bash
# A real Jaeger (OTLP gRPC :4317, HTTP :4318, query API :16686), a real Zipkin (spans in and web UI :9411) and a
# real Prometheus (:9090) scraping the operator's /metrics on :9464, on loopback, until
# `npm run observability:down`. Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_apt curl curl
mkdir -p "$OBSERVABILITY_DIR/run" "$OBSERVABILITY_DIR/logs"
running() { local pid; pid="$(cat "$OBSERVABILITY_DIR/run/$1.pid" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null; }

jaeger="$(bash "$HACK_DIR/tool-path.sh" jaeger)"
prometheus="$(bash "$HACK_DIR/tool-path.sh" prometheus)"
zipkin="$(bash "$HACK_DIR/tool-path.sh" zipkin)"

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

if running zipkin; then
  log "zipkin: already running"
else
  log "zipkin: starting (log: .observability/logs/zipkin.log)"
  # As test/support/zipkin.ts runs it: a 256 MiB heap holds the 40,000 spans kept; C1 alone starts it 2x faster.
  setsid nohup java -Xmx256m -XX:TieredStopAtLevel=1 -jar "$zipkin" \
    '--armeria.ports[0].ip=127.0.0.1' "--armeria.ports[0].port=$ZIPKIN_PORT" '--armeria.ports[0].protocols[0]=http' \
    --zipkin.storage.mem.max-spans=40000 --logging.level.root=WARN \
    >>"$OBSERVABILITY_DIR/logs/zipkin.log" 2>&1 </dev/null &
  echo $! >"$OBSERVABILITY_DIR/run/zipkin.pid"
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
# The JVM takes ~10 s to start on 2 cores (measured), longer while the machine is busy.
wait_http zipkin "http://127.0.0.1:$ZIPKIN_PORT/health" .observability/logs/zipkin.log 120
log "observability ready: Jaeger query API http://127.0.0.1:$JAEGER_QUERY_PORT (OTLP gRPC 127.0.0.1:$JAEGER_OTLP_GRPC_PORT), Zipkin UI http://127.0.0.1:$ZIPKIN_PORT/zipkin/ (spans in: http://127.0.0.1:$ZIPKIN_PORT/api/v2/spans), Prometheus http://127.0.0.1:$PROMETHEUS_PORT"
