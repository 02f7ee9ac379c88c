#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-scheduler, kube-controller-manager, kwok, Jaeger and Helm from their pinned Go modules
# into $MAPREDUCE_CACHE_DIR. Each component is skipped when its cached binaries exist.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v go >/dev/null || die "Go is needed to build the control plane (https://go.dev/doc/install)"
export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath" GOTOOLCHAIN=local
# 2 cores: one build at a time and one link at a time keeps memory well under the machine's 24 GiB.
BUILD_FLAGS=(-tags notest)

wrapper_dir() { # a throwaway module that pins what `go install` cannot (replace lines)
  local dir="$MAPREDUCE_CACHE_DIR/build/$1"
  rm -rf "$dir" && mkdir -p "$dir" && printf '%s' "$dir"
}

build_kubernetes() {
  local out="$K8S_BIN_DIR" v="$KUBERNETES_VERSION"
  if [ -x "$out/kube-apiserver" ] && [ -x "$out/kube-controller-manager" ] && [ -x "$out/kube-scheduler" ]; then
    log "kubernetes $v: cached in $out"; return 0
  fi
  local staging_version="v0.${v#v1.}" dir
  dir="$(wrapper_dir "kubernetes-$v")"
  local staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
    cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api cri-client
    csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
    kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission
    sample-apiserver sample-cli-plugin sample-controller)
  {
    echo "module mapreduce-operator/controlplane-kubernetes"
    echo
    echo "go 1.24.0"
    echo
    echo "require k8s.io/kubernetes $v"
    echo
    echo "replace ("
    for m in "${staging[@]}"; do echo "	k8s.io/$m => k8s.io/$m $staging_version"; done
    echo ")"
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  log "kubernetes $v: resolving modules"
  (cd "$dir" && go mod tidy >/dev/null)
  local major minor pkg ldflags
  major="${v#v}"; major="${major%%.*}"
  minor="${v#v*.}"; minor="${minor%%.*}"
  ldflags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "$out.tmp"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    log "kubernetes $v: building $cmd"
    (cd "$dir" && go build "${BUILD_FLAGS[@]}" -ldflags "-s -w $ldflags" -o "$out.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd")
  done
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_etcd() {
  local out="$ETCD_BIN_DIR" v="$ETCD_VERSION" dir
  if [ -x "$out/etcd" ]; then log "etcd $v: cached in $out"; return 0; fi
  dir="$(wrapper_dir "etcd-$v")"
  cat >"$dir/go.mod" <<MOD
module mapreduce-operator/controlplane-etcd

go 1.24.0

require (
	go.etcd.io/etcd/server/v3 $v
	go.etcd.io/etcd/api/v3 $v
	go.etcd.io/etcd/client/pkg/v3 $v
	go.etcd.io/etcd/client/v3 $v
	go.etcd.io/etcd/pkg/v3 $v
)
MOD
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  log "etcd $v: resolving modules"
  (cd "$dir" && go mod tidy >/dev/null)
  log "etcd $v: building"
  mkdir -p "$out.tmp"
  (cd "$dir" && go build -ldflags "-s -w" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_kwok() {
  local out="$KWOK_BIN_DIR" v="$KWOK_VERSION"
  if [ -x "$out/kwok" ]; then log "kwok $v: cached in $out"; return 0; fi
  log "kwok $v: building"
  mkdir -p "$out.tmp"
  GOBIN="$out.tmp" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$v"
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_jaeger() { # Jaeger's go.mod has a replace line, so it is built from a wrapper module like Kubernetes
  local out="$JAEGER_BIN_DIR" v="$JAEGER_VERSION" dir
  if [ -x "$out/jaeger" ]; then log "jaeger $v: cached in $out"; return 0; fi
  dir="$(wrapper_dir "jaeger-$v")"
  cat >"$dir/go.mod" <<MOD
module mapreduce-operator/jaeger

go 1.24.6

require github.com/jaegertracing/jaeger $v

replace github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0
MOD
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
GO
  log "jaeger $v: resolving modules"
  (cd "$dir" && go mod tidy >/dev/null)
  log "jaeger $v: building"
  mkdir -p "$out.tmp"
  (cd "$dir" && go build -ldflags "-s -w" -o "$out.tmp/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger)
  rm -rf "$out" && mv "$out.tmp" "$out"
}

build_helm() {
  local out="$HELM_BIN_DIR" v="$HELM_VERSION"
  if [ -x "$out/helm" ]; then log "helm $v: cached in $out"; return 0; fi
  log "helm $v: building"
  mkdir -p "$out.tmp"
  GOBIN="$out.tmp" go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$v" "helm.sh/helm/v3/cmd/helm@$v"
  rm -rf "$out" && mv "$out.tmp" "$out"
}

mkdir -p "$MAPREDUCE_CACHE_DIR"
start=$(date +%s)
case "${1:-all}" in
  all) build_etcd; build_kwok; build_kubernetes; build_jaeger; build_helm ;;
  etcd) build_etcd ;;
  kwok) build_kwok ;;
  kubernetes) build_kubernetes ;;
  jaeger) build_jaeger ;;
  helm) build_helm ;;
  *) die "usage: $0 [all|etcd|kwok|kubernetes|jaeger|helm]" ;;
esac
log "control plane binaries ready ($(( $(date +%s) - start ))s)"
