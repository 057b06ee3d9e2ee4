#!/usr/bin/env bash
# scripts/k8s-provider.sh: build the Pulumi Kubernetes provider plugin (pulumi-resource-kubernetes) that
# @pulumi/kubernetes in package.json expects, from the Go module proxy, cache it, and register it in the
# offline toolchain's PULUMI_HOME (.toolchain/pulumi-home, made by scripts/toolchain.sh).
#
# Why a wrapper module: the provider's main package (cmd/pulumi-resource-kubernetes in
# github.com/pulumi/pulumi-kubernetes/provider/v4) embeds schema-embed.json and terraform-mapping-embed.json,
# which upstream writes with `go generate` (its generate.go) at release time and which are not in the module
# zip; and its go.mod replaces the sdk/v4 module with ../sdk, which `go install mod@ver` refuses. So a wrapper
# module requires the provider module, carries a copy of its main.go, and generates the two files from the
# module's own schema.json (with the plugin version set, as generate.go does) and terraform-mapping.json
# (compacted) by running the module's own generate.go. The version the plugin reports comes from
# github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version, set with -ldflags -X as upstream's
# Makefile does.
#
# The proxy serves the provider module only as a pseudo-version (PROVIDER_MODULE below, a commit of
# 2026-01-15); the plugin version is the @pulumi/kubernetes version from package.json (4.34.2).
#
# Cold: 9.4 min on 2 cores with an empty Go build cache (go build 512 s; a 159 MiB stripped binary, 4 GiB peak
# RSS), plus the module downloads on a fresh machine; ~12-40 s after an edit of this script (warm Go build cache).
# Cached in ${PULUMI_EPHEMERY_CACHE:-~/.cache/pulumi-ephemery}/k8s-provider-<version>/<hash of this script>/ and
# reused (0.3 s). Locked with flock. Prints the cached binary's path.
# Usage: scripts/k8s-provider.sh [--no-install]
#   --no-install: build/cache only, do not register the plugin in .toolchain/pulumi-home.
set -euo pipefail

# All in one function, read whole before it runs: the cache key is this file's hash, and an edit while a build
# runs must not change what the running bash reads next.
main() {
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROVIDER_MODULE="${K8S_PROVIDER_MODULE:-github.com/pulumi/pulumi-kubernetes/provider/v4@v4.0.0-20260115033456-f47bc2d6f199}"
INSTALL=1
for arg in "$@"; do
  case "$arg" in
    --no-install) INSTALL=0 ;;
    *) echo "k8s-provider: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { printf '[k8s-provider] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

VERSION="$(node -e 'const p=require(process.argv[1]);process.stdout.write(String((p.dependencies||{})["@pulumi/kubernetes"]||""))' "$ROOT/package.json")"
VERSION="${K8S_PROVIDER_VERSION:-${VERSION:-4.34.2}}"
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "the plugin version must look like 4.34.2, got '$VERSION'"
# The pinned module is what the proxy serves for 4.34.2's time; another plugin version needs its own module pin.
[[ "$VERSION" == 4.34.2 || -n "${K8S_PROVIDER_MODULE:-}" ]] ||
  die "@pulumi/kubernetes is $VERSION: set K8S_PROVIDER_MODULE to the provider/v4 module version to build it from"
[[ "$PROVIDER_MODULE" =~ ^github\.com/pulumi/pulumi-kubernetes/provider/v4@v[0-9A-Za-z.+-]+$ ]] ||
  die "K8S_PROVIDER_MODULE must be github.com/pulumi/pulumi-kubernetes/provider/v4@<version>, got '$PROVIDER_MODULE'"

CACHE="${PULUMI_EPHEMERY_CACHE:-$HOME/.cache/pulumi-ephemery}"
SCRIPT_SUM="$( { cat "${BASH_SOURCE[0]}"; echo "$PROVIDER_MODULE"; } | sha256sum | cut -c1-16)"
OUT="$CACHE/k8s-provider-$VERSION/$SCRIPT_SUM"
BIN="$OUT/pulumi-resource-kubernetes"
mkdir -p "$CACHE/k8s-provider-$VERSION"
[[ -x /usr/local/go/bin/go ]] && ! command -v go >/dev/null && PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || die "Go is needed (https://go.dev/dl/)"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

# GetPluginInfo over the plugin's gRPC port, with the gRPC client and Pulumi protos @pulumi/pulumi installs.
# argv: node_modules dir, port. Prints the version the plugin reports.
# shellcheck disable=SC2016 # ${...} here are JavaScript template literals, for node
PLUGIN_INFO_JS='
const [nm, port] = process.argv.slice(1);
const grpc = require(`${nm}/@grpc/grpc-js`);
const { ResourceProviderClient } = require(`${nm}/@pulumi/pulumi/proto/provider_grpc_pb.js`);
const { Empty } = require(`${nm}/google-protobuf/google/protobuf/empty_pb.js`);
const c = new ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
c.waitForReady(Date.now() + 30000, (e) => {
  if (e) { console.error(e.message); process.exit(1); }
  c.getPluginInfo(new Empty(), (err, r) => {
    if (err) { console.error(err.message); process.exit(1); }
    process.stdout.write(r.getVersion());
    c.close();
  });
});
'

exec 9>"$CACHE/k8s-provider-$VERSION/.lock"
flock 9

if [[ -f "$OUT/.done" && -x "$BIN" ]]; then
  log "cached: $BIN"
else
  t0=$SECONDS
  work="$CACHE/k8s-provider-$VERSION/src"
  mkdir -p "$work"
  log "reading $PROVIDER_MODULE from the Go module proxy"
  json="$(cd "$work" && go mod download -json "$PROVIDER_MODULE")" || die "the Go module proxy did not serve $PROVIDER_MODULE"
  moddir="$(node -e 'const j=JSON.parse(process.argv[1]);if(j.Error||!j.Dir)process.exit(1);process.stdout.write(j.Dir)' "$json")" ||
    die "no module directory for $PROVIDER_MODULE: $json"
  gomod="$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).GoMod)' "$json")"
  cmddir="$moddir/cmd/pulumi-resource-kubernetes"
  for f in main.go generate.go schema.json terraform-mapping.json; do
    [[ -f "$cmddir/$f" ]] || die "$cmddir/$f is missing; the recipe needs revisiting"
  done
  godirective="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod" | head -1)"

  # The wrapper module: the provider module and the pulumi/pkg/v3 it builds with (generate.go imports its
  # codegen/schema); nothing else, so the graph is the provider's own.
  pkgv3="$(sed -n 's#^\tgithub.com/pulumi/pulumi/pkg/v3 \(v[^ ]*\)$#\1#p' "$gomod")"
  [[ -n "$pkgv3" ]] || die "no github.com/pulumi/pulumi/pkg/v3 requirement in $gomod"
  printf 'module pulumi-ephemery/k8s-provider\n\ngo %s\n\nrequire (\n\t%s %s\n\tgithub.com/pulumi/pulumi/pkg/v3 %s\n)\n' \
    "${godirective:-1.24.0}" "${PROVIDER_MODULE%@*}" "${PROVIDER_MODULE#*@}" "$pkgv3" >"$work/go.mod.new"
  if ! cmp -s "$work/go.mod.new" "$work/go.mod.seed" 2>/dev/null; then
    cp "$work/go.mod.new" "$work/go.mod.seed" && cp "$work/go.mod.new" "$work/go.mod"
    # The provider's go.sum covers its whole graph; start from it.
    cp "$moddir/go.sum" "$work/go.sum" && chmod u+w "$work/go.sum"
  fi
  rm -f "$work/go.mod.new"

  rm -rf "$work/cmd" && mkdir -p "$work/cmd/pulumi-resource-kubernetes" "$work/gen"
  install -m 0644 "$cmddir/main.go" "$work/cmd/pulumi-resource-kubernetes/main.go"
  # generate.go reads ./schema.json and ./terraform-mapping.json and writes the *-embed.json files beside them.
  install -m 0644 "$cmddir/generate.go" "$cmddir/schema.json" "$cmddir/terraform-mapping.json" "$work/gen/"
  log "generating schema-embed.json (version $VERSION) and terraform-mapping-embed.json with the module's generate.go"
  (cd "$work/gen" && VERSION="$VERSION" go run ./generate.go)
  for f in schema-embed.json terraform-mapping-embed.json; do
    [[ -s "$work/gen/$f" ]] || die "generate.go did not write $f"
    mv "$work/gen/$f" "$work/cmd/pulumi-resource-kubernetes/$f"
  done
  schema_version="$(node -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).version))' "$work/cmd/pulumi-resource-kubernetes/schema-embed.json")"
  [[ "$schema_version" == "$VERSION" ]] || die "schema-embed.json has version '$schema_version', not $VERSION"

  log "building pulumi-resource-kubernetes $VERSION from ${PROVIDER_MODULE#*@} (cold: ~9 min on 2 cores)"
  rm -rf "$OUT.partial" && mkdir -p "$OUT.partial"
  t1=$SECONDS
  (cd "$work" && go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$VERSION" \
    -o "$OUT.partial/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes)
  log "go build: $((SECONDS - t1))s"

  # Check the binary before caching it: its build info names the provider module at the pinned version (the
  # -ldflags are not recorded under -trimpath); then it must start as the engine starts a plugin (print its gRPC
  # port) and report $VERSION from GetPluginInfo.
  [[ -f "$ROOT/node_modules/@pulumi/pulumi/proto/provider_grpc_pb.js" ]] || die "$ROOT/node_modules lacks @pulumi/pulumi: run npm ci first"
  info="$(go version -m "$OUT.partial/pulumi-resource-kubernetes")"
  [[ "$info" == *$'\tdep\t'"${PROVIDER_MODULE%@*}"$'\t'"${PROVIDER_MODULE#*@}"* ]] ||
    die "built binary is not from ${PROVIDER_MODULE}: $info"
  portfile="$OUT.partial/.port"
  "$OUT.partial/pulumi-resource-kubernetes" >"$portfile" 2>"$OUT.partial/.stderr" &
  pid=$!
  for _ in $(seq 1 100); do
    [[ -s "$portfile" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  port="$(cat "$portfile")"
  reported=""
  if [[ "$port" =~ ^[0-9]+$ ]]; then
    # GetPluginInfo is what the engine reads the plugin's version from: it must be the -X value.
    reported="$(node -e "$PLUGIN_INFO_JS" "$ROOT/node_modules" "$port" 2>&1)" || reported="GetPluginInfo failed: $reported"
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [[ "$port" =~ ^[0-9]+$ ]] || die "built plugin did not print a port: '$port' $(cat "$OUT.partial/.stderr")"
  [[ "$reported" == "$VERSION" ]] || die "built plugin reports version '$reported', not $VERSION"
  rm -f "$portfile" "$OUT.partial/.stderr"

  rm -rf "$OUT" && mv "$OUT.partial" "$OUT"
  touch "$OUT/.done"
  log "pulumi-resource-kubernetes $VERSION built in $((SECONDS - t0))s"
fi

if [[ $INSTALL == 1 ]]; then
  [[ -f "$ROOT/.toolchain/env.sh" ]] || die "$ROOT/.toolchain/env.sh is missing: run scripts/toolchain.sh first (or pass --no-install)"
  # shellcheck disable=SC1091
  . "$ROOT/.toolchain/env.sh"
  plugdir="$PULUMI_HOME/plugins/resource-kubernetes-v$VERSION"
  if ! cmp -s "$BIN" "$plugdir/pulumi-resource-kubernetes" 2>/dev/null; then
    rm -rf "$plugdir" "$plugdir.lock" "$plugdir.partial"
    pulumi plugin install resource kubernetes "$VERSION" --file "$BIN" >/dev/null
    cmp -s "$BIN" "$plugdir/pulumi-resource-kubernetes" || die "pulumi plugin install did not place the binary in $plugdir"
    log "registered kubernetes $VERSION in $PULUMI_HOME"
  fi
fi
printf '%s\n' "$BIN"
}

main "$@"
