#!/usr/bin/env bash
# Restarts one running control-plane component (etcd, kube-apiserver, ...) of the local cluster as a crash and
# its supervisor would: SIGKILL, then the same binary with the same arguments, its log appended to, its pid file
# rewritten; waits until it answers again. Used by the fault suite (test/faults/); cluster-up.sh is unchanged.
#   hack/restart-component.sh NAME [DOWN_SECONDS [--FLAG=VALUE...]]
# DOWN_SECONDS: how long it stays down, default 0. Each --FLAG=VALUE replaces that flag in the command line (or
# is added), e.g. `hack/restart-component.sh kube-controller-manager 0 --kube-api-qps=200 --kube-api-burst=400`
# (npm run bench does this); the flag stays until the next restart that sets it again or cluster-down.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name="${1:-}"
down_seconds="${2:-0}"
flags=("${@:3}")
[ -n "$name" ] || die "usage: $0 NAME [DOWN_SECONDS]   (NAME: one of ${COMPONENTS[*]})"
pidfile="$CLUSTER_RUN_DIR/$name.pid"
pid="$(cat "$pidfile" 2>/dev/null)" || die "$name: no pid file $pidfile (is the cluster up?)"
kill -0 "$pid" 2>/dev/null || die "$name: pid $pid from $pidfile is not running"

# The command line as the kernel has it (NUL-separated), read before the process goes.
mapfile -d '' args <"/proc/$pid/cmdline"
[ "${#args[@]}" -gt 0 ] || die "$name: empty command line for pid $pid"
for flag in "${flags[@]}"; do
  [[ "$flag" == --*=* ]] || die "$name: flag '$flag' is not of the form --FLAG=VALUE"
  kept=()
  for arg in "${args[@]}"; do [[ "$arg" == "${flag%%=*}="* ]] || kept+=("$arg"); done
  args=("${kept[@]}" "$flag")
done

log "$name: SIGKILL (pid $pid)"
kill -KILL "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && die "$name: pid $pid still alive 10 s after SIGKILL"
sleep "$down_seconds"

log "$name: starting again${flags[*]:+ with ${flags[*]}} (log: ${CLUSTER_LOG_DIR#"$REPO_ROOT"/}/$name.log)"
setsid nohup "${args[@]}" >>"$CLUSTER_LOG_DIR/$name.log" 2>&1 </dev/null &
new_pid=$!
echo "$new_pid" >"$pidfile"

# Ready means what cluster-up.sh waits for: etcd's /health, the API server's /readyz, the others' /healthz.
deadline=$((SECONDS + 120))
ready() {
  case "$name" in
    etcd) curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health" ;;
    kube-apiserver) kubectl --kubeconfig "$KUBECONFIG_PATH" get --raw /readyz ;;
    kube-controller-manager) curl -skf "https://127.0.0.1:$CONTROLLER_MANAGER_PORT/healthz" ;;
    kube-scheduler) curl -skf "https://127.0.0.1:$SCHEDULER_PORT/healthz" ;;
    kwok) curl -sf "http://127.0.0.1:$KWOK_PORT/healthz" ;;
    *) return 0 ;;
  esac
}
until ready >/dev/null 2>&1; do
  kill -0 "$new_pid" 2>/dev/null || die "$name exited after its restart; see $CLUSTER_LOG_DIR/$name.log"
  [ "$SECONDS" -lt "$deadline" ] || die "$name not ready 120 s after its restart; see $CLUSTER_LOG_DIR/$name.log"
  sleep 0.2
done
log "$name: ready again (pid $new_pid)"
