#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-scheduler, kube-controller-manager, kwok, Jaeger and Helm from their pinned Go modules
# into $MAPREDUCE_CACHE_DIR. Each component is skipped when its cached binaries exist.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v go >/dev/null || die "Go is needed to build the control plane (https://go.dev/doc/install)"
export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath" GOTOOLCHAIN=local

cached() { # cached LABEL DIR BINARY...: true, and says so, when DIR holds every BINARY
  local label="$1" dir="$2" bin; shift 2
  for bin in "$@"; do [ -x "$dir/$bin" ] || return 1; done
  log "$label: cached in $dir"
}

go_install() { # go_install OUT PACKAGE@VERSION LDFLAGS
  GOBIN="$1" go install -ldflags "$3" "$2"
}

# `go install` refuses a module whose go.mod has replace lines, so it is built from a throwaway module that requires it.
# build_wrapped OUT NAME MODULE@VERSION [--tags T] [--ldflags L] [--replace 'OLD => NEW VERSION']... BINARY=PACKAGE...
build_wrapped() {
  local out="$1" name="$2" module="${3%@*}" version="${3##*@}" tags="" ldflags="-s -w" replaces=() binaries=()
  local dir go_line b
  shift 3
  while [ $# -gt 0 ]; do
    case "$1" in
      --tags) tags="$2"; shift 2 ;;
      --ldflags) ldflags="$2"; shift 2 ;;
      --replace) replaces+=("$2"); shift 2 ;;
      *) binaries+=("$1"); shift ;;
    esac
  done
  dir="$MAPREDUCE_CACHE_DIR/build/$name-$version"
  rm -rf "$dir" && mkdir -p "$dir"
  # The pinned module's own go line, so the binary has the GODEBUG defaults of the upstream build.
  go_line="$(cd "$dir" && go list -m -f '{{.GoVersion}}' "$module@$version")"
  {
    printf 'module mapreduce-operator/build-%s\n\ngo %s\n\nrequire %s %s\n' "$name" "$go_line" "$module" "$version"
    [ ${#replaces[@]} -eq 0 ] || printf 'replace %s\n' "${replaces[@]}"
  } >"$dir/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    printf '\t_ "%s"\n' "${binaries[@]#*=}"
    printf ')\n'
  } >"$dir/tools.go"
  log "$name $version: resolving modules"
  (cd "$dir" && go mod tidy >/dev/null)
  for b in "${binaries[@]}"; do
    log "$name $version: building ${b%%=*}"
    (cd "$dir" && go build -tags "$tags" -ldflags "$ldflags" -o "$out/${b%%=*}" "${b#*=}")
  done
}

# kubernetes_args: the --replace and --ldflags arguments of build_wrapped for k8s.io/kubernetes, into args/ldflags.
kubernetes_args() {
  local v="$KUBERNETES_VERSION" m pkg major minor
  ldflags="-s -w" args=()
  # k8s.io/kubernetes replaces its staging modules with local folders; their published twins are tagged v0.MINOR.PATCH.
  for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider cluster-bootstrap \
    code-generator component-base component-helpers controller-manager cri-api cri-client csi-translation-lib \
    dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator kube-controller-manager kube-proxy \
    kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission sample-apiserver sample-cli-plugin \
    sample-controller; do
    args+=(--replace "k8s.io/$m => k8s.io/$m v0.${v#v1.}")
  done
  major="${v#v}"; major="${major%%.*}"
  minor="${v#v*.}"; minor="${minor%%.*}"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
}

build_kubernetes() {
  local v="$KUBERNETES_VERSION" cmd ldflags args
  cached "kubernetes $v" "$K8S_BIN_DIR" kube-apiserver kube-controller-manager kube-scheduler && return 0
  kubernetes_args
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do args+=("$cmd=k8s.io/kubernetes/cmd/$cmd"); done
  # notest is a tag of Kubernetes' own release build (hack/lib/golang.sh); etcd's and Jaeger's builds do not set it.
  install_atomically "$K8S_BIN_DIR" build_wrapped kubernetes "k8s.io/kubernetes@$v" --tags notest --ldflags "$ldflags" \
    "${args[@]}"
}

# The kubelet of the real node (hack/realnode.sh), in its own folder so the servers' cache above stays valid.
# Static (CGO_ENABLED=0) like the servers, so it shares their Go build cache.
build_kubelet() {
  local v="$KUBERNETES_VERSION" ldflags args
  cached "kubelet $v" "$KUBELET_BIN_DIR" kubelet && return 0
  kubernetes_args
  install_atomically "$KUBELET_BIN_DIR" build_wrapped kubelet "k8s.io/kubernetes@$v" --tags notest --ldflags "$ldflags" \
    "${args[@]}" kubelet=k8s.io/kubernetes/cmd/kubelet
}

build_etcd() { # etcd's go.mod points its sibling modules at local folders
  cached "etcd $ETCD_VERSION" "$ETCD_BIN_DIR" etcd && return 0
  install_atomically "$ETCD_BIN_DIR" build_wrapped etcd "go.etcd.io/etcd/server/v3@$ETCD_VERSION" \
    etcd=go.etcd.io/etcd/server/v3
}

build_jaeger() { # a dependency's replace lines are ignored, so Jaeger's one is repeated here
  cached "jaeger $JAEGER_VERSION" "$JAEGER_BIN_DIR" jaeger && return 0
  install_atomically "$JAEGER_BIN_DIR" build_wrapped jaeger "github.com/jaegertracing/jaeger@$JAEGER_VERSION" \
    --replace "github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0" \
    jaeger=github.com/jaegertracing/jaeger/cmd/jaeger
}

build_kwok() {
  cached "kwok $KWOK_VERSION" "$KWOK_BIN_DIR" kwok && return 0
  log "kwok $KWOK_VERSION: building"
  install_atomically "$KWOK_BIN_DIR" go_install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "-s -w"
}

build_helm() {
  local v="$HELM_VERSION" gomod client_go minor pkg ldflags
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$v"
  cached "helm $v" "$HELM_BIN_DIR" helm && return 0
  log "helm $v: building"
  # As Helm's release build (its Makefile): the Kubernetes version assumed without a cluster (`helm template`
  # and `helm lint` without --kube-version) is its client-go's, v0.MINOR -> v1.MINOR. A plain go install
  # leaves the source's default, v1.20.0, older than any chart's kubeVersion floor.
  gomod="$(go mod download -json "helm.sh/helm/v3@$v" | grep '"GoMod"' | cut -d'"' -f4)"
  client_go="$(awk '$1 == "k8s.io/client-go" { print $2 }' "$gomod")"
  minor="${client_go#v0.}"; minor="${minor%%.*}"
  [ -n "$minor" ] || die "helm $v: no k8s.io/client-go version in $gomod"
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
  done
  install_atomically "$HELM_BIN_DIR" go_install "helm.sh/helm/v3/cmd/helm@$v" "$ldflags"
}

start=$(date +%s)
case "${1:-all}" in
  all) build_etcd; build_kwok; build_kubernetes; build_jaeger; build_helm ;;
  etcd) build_etcd ;;
  kwok) build_kwok ;;
  kubernetes) build_kubernetes ;;
  kubelet) build_kubelet ;;
  jaeger) build_jaeger ;;
  helm) build_helm ;;
  *) die "usage: $0 [all|etcd|kwok|kubernetes|kubelet|jaeger|helm]" ;;
esac
log "control plane binaries ready ($(( $(date +%s) - start ))s)"
