#!/usr/bin/env bash
# The real node: a kubelet with containerd, runc and the CNI bridge plugin, beside kwok's simulated nodes.
# Only pods that ask land there: it carries the label and the NoSchedule taint mapreduce.dev/real-node=true.
#   realnode.sh check   prints why this machine can't run it (exit 1), or nothing (exit 0)
#   realnode.sh up      installs and builds what it needs, starts containerd and the kubelet, waits for Ready
#   realnode.sh down    stops them and removes every container, mount, network device and cgroup they made
# Everything it writes lives under $CLUSTER_DIR/realnode, except what the kernel keeps elsewhere: the bridge
# $REALNODE_BRIDGE, the pods' veths and cgroups (under $REALNODE_CGROUP_ROOT) and the kubelet's
# /var/log/containers links; `down` removes those too.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HACK_DIR/pki.sh"

REALNODE_DIR="$CLUSTER_DIR/realnode"
CONTAINERD_SOCK="$REALNODE_DIR/containerd.sock"
source "$HACK_DIR/realnode/images.sh"

ctr_k8s() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }
kctl() { kubectl --kubeconfig "$KUBECONFIG_PATH" "$@"; }

check() { # the first reason this machine can't run the node, or nothing
  case "${MAPREDUCE_REAL_NODE:-auto}" in 0 | false | no | off) echo "turned off by MAPREDUCE_REAL_NODE=${MAPREDUCE_REAL_NODE}"; return ;; esac
  [ "$(uname -s)" = Linux ] || { echo "not Linux"; return; }
  [ "$(id -u)" -eq 0 ] || { echo "not root (the kubelet, containerd and runc need root)"; return; }
  [ "$(uname -m)" = x86_64 ] || { echo "not x86_64 (the images are built for amd64)"; return; }
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
    { echo "no overlay filesystem (containerd's overlayfs snapshotter needs it)"; return; }
  [ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || { echo "no cgroup filesystem at /sys/fs/cgroup"; return; }
  [ -w /sys/fs/cgroup ] || [ -w /sys/fs/cgroup/memory ] || { echo "/sys/fs/cgroup is not writable"; return; }
  command -v apt-get >/dev/null || command -v runc >/dev/null || { echo "no runc and no apt-get to install it"; return; }
  ip link add "$REALNODE_BRIDGE-p" type bridge 2>/dev/null || { echo "can't create a bridge device (ip link add type bridge)"; return; }
  ip link del "$REALNODE_BRIDGE-p"
}

is_running() { local pid; pid="$(cat "$REALNODE_DIR/$1.pid" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null; }

start_daemon() { # start_daemon NAME BINARY ARGS...
  local name="$1"; shift
  if is_running "$name"; then log "$name: already running (pid $(cat "$REALNODE_DIR/$name.pid"))"; return 0; fi
  log "$name: starting (log: ${CLUSTER_LOG_DIR#"$REPO_ROOT"/}/$name.log)"
  setsid nohup "$@" >>"$CLUSTER_LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$REALNODE_DIR/$name.pid"
}

wait_until() { # wait_until NAME SECONDS COMMAND...
  local name="$1" deadline=$((SECONDS + $2)); shift 2
  until "$@" >/dev/null 2>&1; do
    is_running "$name" || die "$name exited; last lines of its log:"$'\n'"$(tail -n 20 "$CLUSTER_LOG_DIR/$name.log")"
    [ "$SECONDS" -lt "$deadline" ] || die "$name not ready after $2s; see $CLUSTER_LOG_DIR/$name.log"
    sleep 0.5
  done
}

write_configs() {
  mkdir -p "$REALNODE_DIR/cni" "$REALNODE_DIR/kubelet"
  cat >"$REALNODE_DIR/containerd.toml" <<TOML
version = 2
root = "$REALNODE_DIR/containerd/root"
state = "$REALNODE_DIR/containerd/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  netns_mounts_under_state_dir = true
  # Where writing a negative /proc/PID/oom_score_adj is refused even to root (a sandboxed machine), runc fails with
  # "nsexec: failed to update /proc/self/oom_score_adj: Permission denied" on the sandbox's -998; this clamps the
  # score to containerd's own instead, and changes nothing where containerd's own is already the lowest.
  restrict_oom_score_adj = $(if echo -999 2>/dev/null >/proc/self/oom_score_adj; then echo false; else echo true; fi)
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$REALNODE_DIR/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$REALNODE_DIR/cni"
TOML
  # The bridge plugin with host-local IPAM. Not the pods' gateway (isGateway would switch on the host's
  # net.ipv4.ip_forward) and no ipMasq (no iptables rule): pods reach the host on the bridge's own address
  # (ensure_bridge), and each other; no route leads further.
  cat >"$REALNODE_DIR/cni/10-mapreduce.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "mapreduce-realnode",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$REALNODE_BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$REALNODE_DIR/cni-ipam",
        "ranges": [[{ "subnet": "$REALNODE_SUBNET_PREFIX.0/24", "gateway": "$REALNODE_SUBNET_PREFIX.1" }]]
      }
    },
    { "type": "loopback" }
  ]
}
JSON
  cat >"$REALNODE_DIR/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: $REALNODE_CGROUP_ROOT
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
address: $REALNODE_SUBNET_PREFIX.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $CLUSTER_PKI_DIR/ca.crt }
authorization: { mode: Webhook }
podLogsDir: $REALNODE_DIR/pod-logs
failSwapOn: false
# No KUBE-FIREWALL rule in the host's INPUT and OUTPUT chains; realnode.sh down removes the canary chains it still makes.
makeIPTablesUtilChains: false
registerWithTaints:
  - { key: $REALNODE_LABEL, value: "true", effect: NoSchedule }
# A shared, busy machine: no eviction or image GC because its disk fills up with other people's files.
evictionHard: { memory.available: "0%", nodefs.available: "0%", imagefs.available: "0%", nodefs.inodesFree: "0%" }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
resolvConf: /etc/resolv.conf
serializeImagePulls: false
YAML
}

ensure_cgroup_root() { # the kubelet wants its cgroupRoot to exist in every hierarchy
  local h
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then # cgroup v2: one hierarchy (not tried here: this machine has v1)
    mkdir -p "/sys/fs/cgroup$REALNODE_CGROUP_ROOT"
    return 0
  fi
  for h in /sys/fs/cgroup/*/; do
    [ -f "$h/cgroup.procs" ] || continue
    [ "$(basename "$h")" != unified ] || continue
    mkdir -p "$h${REALNODE_CGROUP_ROOT#/}"
  done
  if [ -d /sys/fs/cgroup/cpuset ]; then # a new v1 cpuset starts with no CPUs and no memory nodes
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset$REALNODE_CGROUP_ROOT/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset$REALNODE_CGROUP_ROOT/cpuset.mems"
  fi
}

ensure_bridge() { # created here, not by the plugin, because the kubelet's node IP is its address
  ip link show "$REALNODE_BRIDGE" >/dev/null 2>&1 || ip link add "$REALNODE_BRIDGE" type bridge
  ip addr show dev "$REALNODE_BRIDGE" | grep -q "inet $REALNODE_SUBNET_PREFIX.1/24" ||
    ip addr add "$REALNODE_SUBNET_PREFIX.1/24" dev "$REALNODE_BRIDGE"
  ip link set "$REALNODE_BRIDGE" up
}

# Debian's packages the node needs, those missing installed with one apt-get update and one install.
install_packages() {
  local missing=()
  command -v runc >/dev/null || missing+=(runc)
  command -v containerd >/dev/null && command -v ctr >/dev/null || missing+=(containerd)
  [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] || missing+=(containernetworking-plugins)
  # Debian's busybox package links libc; busybox-static, the one an image of one file needs, replaces it.
  dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
  [ ${#missing[@]} -gt 0 ] || return 0
  log "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

up() {
  local why start=$SECONDS
  why="$(check)"
  [ -z "$why" ] || die "the real node can't run here: $why"
  install_packages
  image_names
  bash "$HACK_DIR/build-control-plane.sh" kubelet
  mkdir -p "$REALNODE_DIR" "$CLUSTER_LOG_DIR"
  write_configs
  ensure_bridge
  ensure_cgroup_root
  start_daemon containerd containerd --config "$REALNODE_DIR/containerd.toml"
  wait_until containerd 60 ctr_k8s version
  log "images: $BUSYBOX_IMAGE, $PAUSE_IMAGE, $NODE_IMAGE (from $(images_dir))"
  build_images
  [ -f "$CLUSTER_PKI_DIR/kubelet.crt" ] || gen_cert kubelet "system:node:$REALNODE_NAME" system:nodes
  write_kubeconfig "$REALNODE_DIR/kubelet.kubeconfig" "system:node:$REALNODE_NAME" kubelet
  start_daemon kubelet "$KUBELET_BIN_DIR/kubelet" \
    --config="$REALNODE_DIR/kubelet.yaml" \
    --kubeconfig="$REALNODE_DIR/kubelet.kubeconfig" \
    --root-dir="$REALNODE_DIR/kubelet" \
    --cert-dir="$REALNODE_DIR/kubelet/pki" \
    --hostname-override="$REALNODE_NAME" \
    --node-ip="$REALNODE_SUBNET_PREFIX.1" \
    --node-labels="$REALNODE_LABEL=true,type=real" \
    --v=1
  wait_until kubelet 120 kctl wait --for=condition=Ready "node/$REALNODE_NAME" --timeout=2s
  log "real node $REALNODE_NAME ready ($((SECONDS - start))s): pods that tolerate $REALNODE_LABEL=true:NoSchedule and select it run there"
}

# Every pid whose command line names this node's folder: containerd's shims (their -address), leftover pods' processes
# are children of those and die with their cgroups below.
# Read with builtins only: a grep for the folder would find itself.
our_pids() {
  local f pid args
  for f in /proc/[0-9]*/cmdline; do
    pid="${f#/proc/}"; pid="${pid%/cmdline}"
    [ "$pid" != "$$" ] && [ "$pid" != "$BASHPID" ] || continue
    mapfile -d '' args 2>/dev/null <"$f" || continue
    [[ "${args[*]}" == *"$REALNODE_DIR/"* ]] && echo "$pid"
  done
  return 0
}

down() {
  local id pid m cg
  # The kubelet first, so it restarts nothing; then the containers, through containerd while it runs.
  stop_process kubelet "$REALNODE_DIR/kubelet.pid"
  if is_running containerd; then
    for id in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 1
    for id in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks delete -f "$id" >/dev/null 2>&1 || true; done
    for id in $(ctr_k8s containers ls -q 2>/dev/null); do ctr_k8s containers delete "$id" >/dev/null 2>&1 || true; done
  fi
  stop_process containerd "$REALNODE_DIR/containerd.pid"
  for pid in $(our_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  # Mounts under the folder (overlay rootfs, netns, kubelet volumes), deepest first.
  for m in $(awk -v d="$REALNODE_DIR/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  # The pods' cgroups, deepest first: in every hierarchy of cgroup v1, in the one of v2.
  for cg in /sys/fs/cgroup/*"$REALNODE_CGROUP_ROOT" /sys/fs/cgroup"$REALNODE_CGROUP_ROOT"; do
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  if ip link show "$REALNODE_BRIDGE" >/dev/null 2>&1; then ip link del "$REALNODE_BRIDGE"; fi
  [ ! -f "$REALNODE_DIR/kubelet.yaml" ] || remove_kubelet_chains
  find /var/log/containers -maxdepth 1 -type l -lname "$REALNODE_DIR/*" -delete 2>/dev/null || true
  # What containerd and the kubelet make outside the folder whatever their configuration, when nothing else uses it.
  rmdir /var/log/containers /run/containerd/fifo /run/containerd/s /run/containerd/runc/k8s.io /run/containerd/runc \
    /run/containerd 2>/dev/null || true
  rm -rf "$REALNODE_DIR"
}

# The kubelet's iptables chains (pkg/kubelet/kubelet_network_linux.go); no other program on a machine without a
# kube-proxy makes them, so they go when this node's kubelet has run.
KUBELET_CHAINS=("mangle KUBE-IPTABLES-HINT" "mangle KUBE-KUBELET-CANARY" "nat KUBE-KUBELET-CANARY"
  "filter KUBE-KUBELET-CANARY" "filter KUBE-FIREWALL")
remove_kubelet_chains() {
  local ipt entry table chain
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for entry in "${KUBELET_CHAINS[@]}"; do
      read -r table chain <<<"$entry"
      "$ipt" -t "$table" -S "$chain" >/dev/null 2>&1 || continue
      while "$ipt" -t filter -D INPUT -j "$chain" 2>/dev/null; do :; done
      while "$ipt" -t filter -D OUTPUT -j "$chain" 2>/dev/null; do :; done
      "$ipt" -t "$table" -F "$chain" 2>/dev/null || true
      "$ipt" -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
}

# verify: what `down` must have left: exit 1 naming each leftover.
verify() {
  local left=0 m
  [ -z "$(our_pids)" ] || { log "real node: processes left: $(our_pids | tr '\n' ' ')"; left=1; }
  m="$(awk -v d="$REALNODE_DIR/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts)"
  [ -z "$m" ] || { log "real node: mounts left: $m"; left=1; }
  ! ip link show "$REALNODE_BRIDGE" >/dev/null 2>&1 || { log "real node: bridge $REALNODE_BRIDGE left"; left=1; }
  ! ip -br link | grep -q "master $REALNODE_BRIDGE" || { log "real node: veths left"; left=1; }
  for m in "${KUBELET_CHAINS[@]}"; do
    ! iptables -t "${m% *}" -S "${m#* }" >/dev/null 2>&1 || { log "real node: iptables chain ${m#* } (${m% *}) left"; left=1; }
  done
  for m in /sys/fs/cgroup/*"$REALNODE_CGROUP_ROOT" /sys/fs/cgroup"$REALNODE_CGROUP_ROOT"; do [ ! -d "$m" ] || { log "real node: cgroup $m left"; left=1; }; done
  return "$left"
}

case "${1:-}" in
  check) why="$(check)"; [ -z "$why" ] || { echo "$why"; exit 1; } ;;
  up) up ;;
  down) down ;;
  verify) verify ;;
  *) die "usage: $0 check|up|down|verify" ;;
esac
