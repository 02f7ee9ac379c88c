# Shared paths and helpers for the control-plane scripts. Sourced, not run.
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HACK_DIR/.." && pwd)"
# shellcheck source=versions.env
source "$HACK_DIR/versions.env"

# Built binaries live outside the repo, keyed by the pinned versions, so a rebuild happens only when a version changes.
MAPREDUCE_CACHE_DIR="${MAPREDUCE_CACHE_DIR:-$HOME/.cache/mapreduce-operator}"
GO_VERSION_KEY="$(go env GOVERSION 2>/dev/null || echo nogo)"
K8S_BIN_DIR="$MAPREDUCE_CACHE_DIR/kubernetes-$KUBERNETES_VERSION-$GO_VERSION_KEY"
KUBELET_BIN_DIR="$MAPREDUCE_CACHE_DIR/kubelet-$KUBERNETES_VERSION-$GO_VERSION_KEY" # the real node's (hack/realnode.sh)
ETCD_BIN_DIR="$MAPREDUCE_CACHE_DIR/etcd-$ETCD_VERSION-$GO_VERSION_KEY"
KWOK_BIN_DIR="$MAPREDUCE_CACHE_DIR/kwok-$KWOK_VERSION-$GO_VERSION_KEY"
JAEGER_BIN_DIR="$MAPREDUCE_CACHE_DIR/jaeger-$JAEGER_VERSION-$GO_VERSION_KEY"
# "release": built with the release build's ldflags (its offline Kubernetes version; hack/build-control-plane.sh).
HELM_BIN_DIR="$MAPREDUCE_CACHE_DIR/helm-$HELM_VERSION-release-$GO_VERSION_KEY"
NODE_DIR="$MAPREDUCE_CACHE_DIR/node-$NODE_VERSION"
PROMETHEUS_DIR="$MAPREDUCE_CACHE_DIR/prometheus-$PROMETHEUS_DEB_VERSION"
LUA_DIR="$MAPREDUCE_CACHE_DIR/lua-$LUA_DEB_VERSION"
FAKETIME_DIR="$MAPREDUCE_CACHE_DIR/faketime-$FAKETIME_DEB_VERSION"
ZIPKIN_DIR="$MAPREDUCE_CACHE_DIR/zipkin-$ZIPKIN_VERSION"
# Keyed by its source, so an edit to hack/kstatus rebuilds it.
KSTATUS_BIN_DIR="$MAPREDUCE_CACHE_DIR/kstatus-$(cat "$HACK_DIR"/kstatus/go.mod "$HACK_DIR"/kstatus/go.sum "$HACK_DIR"/kstatus/main.go | sha256sum | cut -c1-12)-$GO_VERSION_KEY"

CLUSTER_DIR="${MAPREDUCE_CLUSTER_DIR:-$REPO_ROOT/.cluster}"
CLUSTER_LOG_DIR="$CLUSTER_DIR/logs"
CLUSTER_PKI_DIR="$CLUSTER_DIR/pki"
CLUSTER_RUN_DIR="$CLUSTER_DIR/run"
KUBECONFIG_PATH="$CLUSTER_DIR/kubeconfig"

# Loopback only. Ports are chosen away from the usual 2379/6443 so a developer's own cluster is not disturbed.
APISERVER_PORT="${MAPREDUCE_APISERVER_PORT:-16443}"
ETCD_CLIENT_PORT="${MAPREDUCE_ETCD_PORT:-12379}"
ETCD_PEER_PORT="${MAPREDUCE_ETCD_PEER_PORT:-12380}"
SCHEDULER_PORT="${MAPREDUCE_SCHEDULER_PORT:-10259}"
CONTROLLER_MANAGER_PORT="${MAPREDUCE_CONTROLLER_MANAGER_PORT:-10257}"
KWOK_PORT="${MAPREDUCE_KWOK_PORT:-10247}"
SERVICE_CLUSTER_IP_RANGE="10.96.0.0/16"

# The real node (hack/realnode.sh): its kubelet's ports, its bridge and the pods' subnet (not routed off the machine).
KUBELET_PORT="${MAPREDUCE_KUBELET_PORT:-11250}"
KUBELET_HEALTHZ_PORT="${MAPREDUCE_KUBELET_HEALTHZ_PORT:-11248}"
REALNODE_BRIDGE="${MAPREDUCE_REAL_NODE_BRIDGE:-mrnode0}" # at most 13 characters: `check` probes "$REALNODE_BRIDGE"-p
REALNODE_SUBNET_PREFIX="${MAPREDUCE_REAL_NODE_SUBNET_PREFIX:-10.234.56}" # a /24; .1 is the bridge and the node's IP
REALNODE_NAME=real-node-0
REALNODE_LABEL=mapreduce.dev/real-node # label and NoSchedule taint, both "true"
REALNODE_CGROUP_ROOT=/mapreduce-realnode # the kubelet's cgroupRoot: pods' cgroups go under it

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
OPERATOR_HEALTH_PORT=18081 # the demo operator's /healthz

# Local observability stack (npm run observability:up): fixed, well-known ports on loopback.
OBSERVABILITY_DIR="${MAPREDUCE_OBSERVABILITY_DIR:-$REPO_ROOT/.observability}"
JAEGER_OTLP_GRPC_PORT=4317
JAEGER_OTLP_HTTP_PORT=4318
JAEGER_QUERY_PORT=16686
PROMETHEUS_PORT=9090
ZIPKIN_PORT=9411 # its API (POST /api/v2/spans) and web UI (/zipkin/)
OPERATOR_METRICS_PORT=9464 # the demo operator's /metrics, which Prometheus scrapes

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Installs Debian packages only when their command is missing.
ensure_apt() { # ensure_apt COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing Debian package $2 (for $1)"
  if [ "$(id -u)" -ne 0 ]; then die "$1 is missing and this is not root: apt-get install $2"; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

# Fills DIR through DIR.tmp and one rename, so an interrupted install never leaves a DIR that looks complete.
install_atomically() { # install_atomically DIR COMMAND [ARG...]: runs COMMAND DIR.tmp ARG...
  local dir="$1" tmp="$1.tmp"; shift
  rm -rf "$tmp" && mkdir -p "$tmp"
  "$1" "$tmp" "${@:2}"
  rm -rf "$dir" && mv "$tmp" "$dir"
}

# Puts the pinned Node.js on PATH; npm ci only when package-lock.json changed since the last install.
ensure_node_deps() {
  local node_bin installed="$REPO_ROOT/node_modules/.package-lock.json"
  node_bin="$(bash "$HACK_DIR/node.sh")"
  export PATH="$node_bin:$PATH"
  if [ ! -f "$installed" ] || [ "$REPO_ROOT/package-lock.json" -nt "$installed" ]; then
    log "installing npm packages (npm ci)"
    (cd "$REPO_ROOT" && npm ci --no-audit --no-fund >&2)
  fi
}

# Stops the process whose pid is in PIDFILE: SIGTERM, up to 10 s, then SIGKILL.
stop_process() { # stop_process NAME PIDFILE
  local name="$1" pidfile="$2" pid
  pid="$(cat "$pidfile" 2>/dev/null)" || return 0
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# Waits until URL answers 2xx, or dies naming LOG.
wait_http() { # wait_http NAME URL LOG [SECONDS, default 30]
  local deadline=$((SECONDS + ${4:-30}))
  while [ "$SECONDS" -lt "$deadline" ]; do curl -fsS -o /dev/null "$2" 2>/dev/null && return 0; sleep 0.2; done
  die "$1 did not come up at $2; see $3"
}
