#!/usr/bin/env bash
# Prints the path of a cached tool binary, installing it first if needed:
#   jaeger      built from its pinned Go module (hack/build-control-plane.sh jaeger)
#   helm        built from its pinned Go module (hack/build-control-plane.sh helm)
#   prometheus  Debian's package at PROMETHEUS_DEB_VERSION, unpacked into the cache (no service is installed)
#   lua         Debian's lua5.1 (Argo CD's health checks are Lua 5.1), unpacked the same way
#   faketime    Debian's libfaketime, unpacked the same way: prints the library to LD_PRELOAD
#   kstatus     hack/kstatus: what Flux and kpt compute of an object (sigs.k8s.io/cli-utils, pinned in its go.mod)
#   zipkin      the pinned zipkin-server exec jar from Maven Central, checked and extracted: prints the jar to `java -jar`
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

extract_debs() { local deb; for deb in "$2"/*.deb; do dpkg -x "$deb" "$1"; done; } # extract_debs INTO FROM

# Downloads Debian packages (name=version ...) and unpacks them into DIR; installs nothing system-wide.
unpack_debs() { # unpack_debs DIR PACKAGE=VERSION...
  local dir="$1" tmp; shift
  tmp="$(mktemp -d)"
  log "downloading Debian's $*"
  if ! (cd "$tmp" && apt-get download -qq "$@" >/dev/null 2>&1); then
    [ "$(id -u)" -eq 0 ] || die "cannot download $*; run apt-get update as root"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    (cd "$tmp" && apt-get download -qq "$@" >/dev/null 2>&1) || die "apt-get download $* failed"
  fi
  install_atomically "$dir" extract_debs "$tmp"
  rm -rf "$tmp"
}

install_lua() {
  unpack_debs "$LUA_DIR" "lua5.1=$LUA_DEB_VERSION" "liblua5.1-0=$LUA_DEB_VERSION"
  cat >"$LUA_DIR/lua" <<SH
#!/usr/bin/env bash
LD_LIBRARY_PATH="$LUA_DIR/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$LUA_DIR/usr/bin/lua5.1" "\$@"
SH
  chmod +x "$LUA_DIR/lua"
}

build_kstatus() { # our own module (hack/kstatus), pinned by its go.sum
  log "kstatus: building hack/kstatus"
  (cd "$HACK_DIR/kstatus" && CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w" -o "$1/kstatus" .)
}

# The jar is checked against ZIPKIN_SHA256, then extracted (Spring Boot's jarmode=tools): an extracted jar
# starts in about half the time of the 135 MB nested one (measured: 10 s instead of 21 s on 2 cores).
install_zipkin() { # install_zipkin DIR
  local tmp jar="zipkin-server-$ZIPKIN_VERSION-exec.jar"
  tmp="$(mktemp -d)"
  log "zipkin: downloading io.zipkin:zipkin-server:$ZIPKIN_VERSION:exec from Maven Central"
  curl -sSfL --retry 3 -o "$tmp/$jar" "https://repo1.maven.org/maven2/io/zipkin/zipkin-server/$ZIPKIN_VERSION/$jar"
  echo "$ZIPKIN_SHA256  $tmp/$jar" | sha256sum --check --quiet - || die "zipkin: $jar does not match ZIPKIN_SHA256"
  java -Djarmode=tools -jar "$tmp/$jar" extract --destination "$1" --force --application-filename zipkin.jar >/dev/null
  rm -rf "$tmp"
}

case "${1:-}" in
  jaeger) [ -x "$JAEGER_BIN_DIR/jaeger" ] || bash "$HACK_DIR/build-control-plane.sh" jaeger >&2
    echo "$JAEGER_BIN_DIR/jaeger" ;;
  helm) [ -x "$HELM_BIN_DIR/helm" ] || bash "$HACK_DIR/build-control-plane.sh" helm >&2
    echo "$HELM_BIN_DIR/helm" ;;
  prometheus) [ -x "$PROMETHEUS_DIR/usr/bin/prometheus" ] ||
      unpack_debs "$PROMETHEUS_DIR" "prometheus=$PROMETHEUS_DEB_VERSION" >&2
    echo "$PROMETHEUS_DIR/usr/bin/prometheus" ;;
  lua) [ -x "$LUA_DIR/lua" ] || install_lua >&2
    echo "$LUA_DIR/lua" ;;
  faketime) lib="$FAKETIME_DIR/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
    [ -f "$lib" ] || unpack_debs "$FAKETIME_DIR" "libfaketime=$FAKETIME_DEB_VERSION" >&2
    echo "$lib" ;;
  kstatus) [ -x "$KSTATUS_BIN_DIR/kstatus" ] || install_atomically "$KSTATUS_BIN_DIR" build_kstatus >&2
    echo "$KSTATUS_BIN_DIR/kstatus" ;;
  zipkin) if [ ! -f "$ZIPKIN_DIR/zipkin.jar" ]; then
      ensure_apt curl curl >&2
      ensure_apt java openjdk-17-jre-headless >&2
      install_atomically "$ZIPKIN_DIR" install_zipkin >&2
    fi
    echo "$ZIPKIN_DIR/zipkin.jar" ;;
  *) die "usage: $0 jaeger|helm|prometheus|lua|faketime|kstatus|zipkin" ;;
esac
