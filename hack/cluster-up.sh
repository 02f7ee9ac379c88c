#!/usr/bin/env bash
# Starts the local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
# with simulated nodes, and the real node (hack/realnode.sh) where the machine allows it.
# Idempotent: components already running are left alone.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HACK_DIR/pki.sh"

NODE_COUNT="${MAPREDUCE_NODE_COUNT:-3}"

ensure_apt openssl openssl
ensure_apt ss iproute2
ensure_apt curl curl
bash "$HACK_DIR/build-control-plane.sh" all
mkdir -p "$CLUSTER_LOG_DIR" "$CLUSTER_RUN_DIR"
generate_pki
write_kubeconfig "$KUBECONFIG_PATH" kubernetes-admin admin
write_kubeconfig "$CLUSTER_RUN_DIR/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
write_kubeconfig "$CLUSTER_RUN_DIR/scheduler.kubeconfig" system:kube-scheduler scheduler
write_kubeconfig "$CLUSTER_RUN_DIR/kwok.kubeconfig" kwok-controller kwok

is_running() { local pid; pid="$(cat "$CLUSTER_RUN_DIR/$1.pid" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null; }

port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }

start() { # start NAME PORT BINARY ARGS...
  local name="$1" port="$2"; shift 2
  if is_running "$name"; then log "$name: already running (pid $(cat "$CLUSTER_RUN_DIR/$name.pid"))"; return 0; fi
  port_free "$port" || die "$name: port $port on 127.0.0.1 is taken by another process (ss -ltnp 'sport = :$port'); set MAPREDUCE_*_PORT to move it"
  log "$name: starting (log: ${CLUSTER_LOG_DIR#"$REPO_ROOT"/}/$name.log)"
  setsid nohup "$@" >>"$CLUSTER_LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$CLUSTER_RUN_DIR/$name.pid"
}

wait_for() { # wait_for NAME SECONDS COMMAND...
  local name="$1" timeout="$2" deadline; shift 2
  deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    is_running "$name" || die "$name exited; last lines of its log:"$'\n'"$(tail -n 20 "$CLUSTER_LOG_DIR/$name.log")"
    [ "$(date +%s)" -lt "$deadline" ] || die "$name not ready after ${timeout}s; see $CLUSTER_LOG_DIR/$name.log"
    sleep 0.5
  done
}

kctl() { kubectl --kubeconfig "$KUBECONFIG_PATH" "$@"; }

start etcd "$ETCD_CLIENT_PORT" "$ETCD_BIN_DIR/etcd" \
  --name=mapreduce-local \
  --data-dir="$CLUSTER_DIR/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="mapreduce-local=http://127.0.0.1:$ETCD_PEER_PORT" \
  --listen-metrics-urls="" \
  --unsafe-no-fsync=true \
  --quota-backend-bytes=8589934592 \
  --log-level=warn
wait_for etcd 60 curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

# MAPREDUCE_APISERVER_PROFILING=1: the API server serves /debug/pprof (kubectl get --raw
# "/debug/pprof/profile?seconds=30" > cpu.pprof; go tool pprof -top cpu.pprof), to see where its CPU goes.
APISERVER_PROFILING=false
[ "${MAPREDUCE_APISERVER_PROFILING:-0}" = 1 ] && APISERVER_PROFILING=true
start kube-apiserver "$APISERVER_PORT" "$K8S_BIN_DIR/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address=127.0.0.1 \
  --advertise-address=127.0.0.1 \
  --secure-port="$APISERVER_PORT" \
  --tls-cert-file="$CLUSTER_PKI_DIR/apiserver.crt" \
  --tls-private-key-file="$CLUSTER_PKI_DIR/apiserver.key" \
  --client-ca-file="$CLUSTER_PKI_DIR/ca.crt" \
  --service-account-key-file="$CLUSTER_PKI_DIR/sa.pub" \
  --service-account-signing-key-file="$CLUSTER_PKI_DIR/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --api-audiences=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range="$SERVICE_CLUSTER_IP_RANGE" \
  --authorization-mode=Node,RBAC \
  --kubelet-client-certificate="$CLUSTER_PKI_DIR/admin.crt" \
  --kubelet-client-key="$CLUSTER_PKI_DIR/admin.key" \
  --kubelet-preferred-address-types=InternalIP \
  --allow-privileged=true \
  --enable-priority-and-fairness=false \
  --profiling="$APISERVER_PROFILING" \
  --v=1
wait_for kube-apiserver 120 kctl get --raw /readyz

start kube-controller-manager "$CONTROLLER_MANAGER_PORT" "$K8S_BIN_DIR/kube-controller-manager" \
  --kubeconfig="$CLUSTER_RUN_DIR/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$CLUSTER_RUN_DIR/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$CLUSTER_RUN_DIR/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="$CONTROLLER_MANAGER_PORT" \
  --service-account-private-key-file="$CLUSTER_PKI_DIR/sa.key" \
  --root-ca-file="$CLUSTER_PKI_DIR/ca.crt" \
  --use-service-account-credentials=true \
  --service-cluster-ip-range="$SERVICE_CLUSTER_IP_RANGE" \
  --leader-elect=false \
  --profiling=false \
  --v=1
start kube-scheduler "$SCHEDULER_PORT" "$K8S_BIN_DIR/kube-scheduler" \
  --kubeconfig="$CLUSTER_RUN_DIR/scheduler.kubeconfig" \
  --authentication-kubeconfig="$CLUSTER_RUN_DIR/scheduler.kubeconfig" \
  --authorization-kubeconfig="$CLUSTER_RUN_DIR/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="$SCHEDULER_PORT" \
  --leader-elect=false \
  --profiling=false \
  --v=1
start kwok "$KWOK_PORT" "$KWOK_BIN_DIR/kwok" \
  --kubeconfig="$CLUSTER_RUN_DIR/kwok.kubeconfig" \
  --config="$HACK_DIR/kwok/node-stages.yaml" \
  --config="$HACK_DIR/kwok/pod-stages.yaml" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds=40 \
  --cidr=10.244.0.0/16 \
  --node-ip=127.0.0.1 \
  --server-address="127.0.0.1:$KWOK_PORT"
wait_for kube-controller-manager 60 curl -skf "https://127.0.0.1:$CONTROLLER_MANAGER_PORT/healthz"
wait_for kube-scheduler 60 curl -skf "https://127.0.0.1:$SCHEDULER_PORT/healthz"
wait_for kwok 60 curl -sf "http://127.0.0.1:$KWOK_PORT/healthz"

for i in $(seq 0 $((NODE_COUNT - 1))); do
  kctl apply -f - >/dev/null <<NODE
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node-role.kubernetes.io/agent: ""
    type: kwok
status:
  allocatable: {cpu: "1000", memory: 1Ti, pods: "1000"}
  capacity: {cpu: "1000", memory: 1Ti, pods: "1000"}
NODE
done
wait_for kwok 60 kctl wait --for=condition=Ready node --all --timeout=2s
wait_for kube-controller-manager 60 kctl -n default get serviceaccount default
# The real node (hack/realnode.sh): where the machine can't run one, one line says why and the cluster goes on without.
if why="$(bash "$HACK_DIR/realnode.sh" check)"; then
  bash "$HACK_DIR/realnode.sh" up
else
  log "no real node: $why; every pod runs on kwok's simulated nodes"
fi
log "cluster ready: export KUBECONFIG=$KUBECONFIG_PATH"
