# Builds the real node's OCI images from local parts and imports them into its containerd; no registry is used.
# Sourced by hack/realnode.sh, which sets REALNODE_DIR and ctr_k8s.
#   mapreduce.local/busybox:$BUSYBOX_TAG  Debian's busybox-static: sh and the usual tools
#   mapreduce.local/pause:$BUSYBOX_TAG    the same layer, sleeping: the pods' sandbox (containerd's sandbox_image)
#   mapreduce.local/node:$NODE_VERSION    the cached Node.js 24 binary, its shared libraries, busybox, and /app:
#                                         examples/ with the npm packages the example agents import

IMAGE_REPO=mapreduce.local
image_names() { # sets the names, once busybox-static is installed: its upstream version tags its images
  local v
  v="$(dpkg-query -W -f '${source:Upstream-Version}' busybox-static)"
  [ -n "$v" ] || die "busybox-static is not installed"
  BUSYBOX_IMAGE="$IMAGE_REPO/busybox:$v"
  PAUSE_IMAGE="$IMAGE_REPO/pause:$v"
  NODE_IMAGE="$IMAGE_REPO/node:$NODE_VERSION"
}
# The npm packages examples/agent imports; their dependencies come along (hack/realnode/deps-closure.mjs).
AGENT_NPM_PACKAGES=(@opentelemetry/api @opentelemetry/propagator-env-carrier @opentelemetry/sdk-node)

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# oci_archive OUT NAME CONFIG_JSON LAYER_TAR...: an OCI image layout tarball holding one image of uncompressed
# layers, named NAME for `ctr images import`. CONFIG_JSON is the image config's "config" object.
oci_archive() {
  local out="$1" name="$2" config="$3" dir layer digest diff_ids="" layers="" cfg_digest man_digest size
  shift 3
  dir="$(mktemp -d "$REALNODE_DIR/oci.XXXXXX")"
  mkdir -p "$dir/blobs/sha256"
  for layer in "$@"; do
    digest="$(sha256_of "$layer")"
    size="$(stat -c %s "$layer")"
    cp "$layer" "$dir/blobs/sha256/$digest"
    diff_ids+="${diff_ids:+,}\"sha256:$digest\""
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$digest\",\"size\":$size}"
  done
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$config" "$diff_ids" >"$dir/config.json"
  cfg_digest="$(sha256_of "$dir/config.json")"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$cfg_digest" "$(stat -c %s "$dir/config.json")" "$layers" >"$dir/manifest.json"
  mv "$dir/config.json" "$dir/blobs/sha256/$cfg_digest"
  man_digest="$(sha256_of "$dir/manifest.json")"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$man_digest" "$(stat -c %s "$dir/manifest.json")" "$name" "${name##*:}" >"$dir/index.json"
  mv "$dir/manifest.json" "$dir/blobs/sha256/$man_digest"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
  tar -C "$dir" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$out" oci-layout index.json blobs
  rm -rf "$dir"
}

# layer_tar OUT ROOTFS: a reproducible tar of ROOTFS.
layer_tar() { tar -C "$2" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$1" .; }

busybox_rootfs() { # busybox_rootfs DIR
  local dir="$1" applet
  mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/proc" "$dir/sys" "$dir/dev"
  chmod 1777 "$dir/tmp"
  cp /bin/busybox "$dir/bin/busybox"
  for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
}

node_rootfs() { # node_rootfs DIR: node, the libraries it links, and /app (examples + their npm packages)
  local dir="$1" node_bin lib pkg
  ensure_node_deps # the agents' npm packages come from node_modules
  node_bin="$(bash "$HACK_DIR/node.sh")/node"
  mkdir -p "$dir/usr/local/bin" "$dir/app"
  cp "$node_bin" "$dir/usr/local/bin/node"
  for lib in $(ldd "$node_bin" | grep -o '/[^ ]*'); do cp --parents -L "$lib" "$dir/"; done
  cp -r "$REPO_ROOT/examples" "$dir/app/examples"
  printf '{"type":"module","private":true}\n' >"$dir/app/package.json"
  while read -r pkg; do cp -a --parents "$pkg" "$dir/app/"; done < <(cd "$REPO_ROOT" &&
    "$(dirname "$node_bin")/node" "$HACK_DIR/realnode/deps-closure.mjs" "$REPO_ROOT" "${AGENT_NPM_PACKAGES[@]}")
}

# The archives' cache folder, keyed by everything they are built from.
images_dir() {
  local key
  key="$( {
    cat "$HACK_DIR/realnode/images.sh" "$HACK_DIR/realnode/deps-closure.mjs" "$REPO_ROOT/package-lock.json"
    echo "$BUSYBOX_IMAGE $NODE_IMAGE"
    (cd "$REPO_ROOT" && find examples -type f | sort | xargs sha256sum)
  } | sha256sum | cut -c1-12)"
  echo "$MAPREDUCE_CACHE_DIR/realnode-images-$key"
}

# build_images: builds the three archives (unless cached) and imports them into the node's containerd.
build_images() {
  local dir key
  dir="$(images_dir)"
  [ -f "$dir/node.tar" ] || install_atomically "$dir" build_archives
  for key in busybox pause node; do
    ctr_k8s images import "$dir/$key.tar" >/dev/null
  done
}

build_archives() { # build_archives DIR
  local dir="$1" work
  work="$(mktemp -d "$REALNODE_DIR/rootfs.XXXXXX")"
  busybox_rootfs "$work/busybox"
  layer_tar "$work/busybox.tar" "$work/busybox"
  oci_archive "$dir/busybox.tar" "$BUSYBOX_IMAGE" '{"Cmd":["sh"],"Env":["PATH=/bin"]}' "$work/busybox.tar"
  oci_archive "$dir/pause.tar" "$PAUSE_IMAGE" \
    '{"Entrypoint":["sh","-c","trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait $!; done"],"Env":["PATH=/bin"]}' \
    "$work/busybox.tar"
  node_rootfs "$work/node"
  layer_tar "$work/node.tar" "$work/node"
  oci_archive "$dir/node.tar" "$NODE_IMAGE" \
    '{"Entrypoint":["node"],"WorkingDir":"/app","Env":["PATH=/usr/local/bin:/bin","NODE_PATH=/app/node_modules"]}' \
    "$work/busybox.tar" "$work/node.tar"
  rm -rf "$work"
}
