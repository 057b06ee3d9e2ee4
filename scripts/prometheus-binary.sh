#!/usr/bin/env bash
# scripts/prometheus-binary.sh: build upstream Prometheus at the version lib/config/images.ts pins
# (DEFAULT_IMAGES.prometheus, prom/prometheus:v3.7.3) from the Go module proxy, into
# ${PULUMI_EPHEMERY_CACHE:-~/.cache/pulumi-ephemery}/prometheus-<version>/prometheus (static, CGO off).
#
# Why: Debian's prometheus 2.42 (scripts/client-images.sh monitoring) is built without the kubernetes service
# discovery (its discovery/ packages stop at the ones Debian packages the Go deps of), and the in-cluster
# monitoring (lib/kubernetes/monitoring.ts) finds the node's pods through kubernetes_sd_configs. Prometheus 3.x is
# module github.com/prometheus/prometheus v0.<3xx>.<patch>; its go.mod has exclude directives, so `go install
# mod@ver` refuses it: a wrapper module requires it (copying its excludes) and tools.go imports cmd/prometheus.
# The web UI's assets are not in the module (no `builtinassets` tag): the HTTP API works, the UI pages do not.
#
# Cold: ~15-30 min on 2 busy cores; a finished build is marked .done and reused. Locked with flock.
# Prints the directory built.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PULUMI_EPHEMERY_CACHE:-$HOME/.cache/pulumi-ephemery}"
pin=$(sed -n '/^export const DEFAULT_IMAGES = {/,/^}/s/^  prometheus: "prom\/prometheus:v\([0-9.]*\)",$/\1/p' "$ROOT/lib/config/images.ts")
[[ "$pin" =~ ^3\.([0-9]+)\.([0-9]+)$ ]] || { echo "prometheus-binary: no prom/prometheus:v3.x.y pin in lib/config/images.ts (got '$pin')" >&2; exit 1; }
VERSION="$pin"
MODULE_VERSION="v0.$((300 + BASH_REMATCH[1])).${BASH_REMATCH[2]}"
OUT="$CACHE/prometheus-$VERSION"
mkdir -p "$CACHE"
[[ -x /usr/local/go/bin/go ]] && ! command -v go >/dev/null && PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "prometheus-binary: Go is needed (https://go.dev/dl/)" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0

log() { printf '[prometheus-binary] %s\n' "$*" >&2; }

exec 9>"$CACHE/.prometheus-$VERSION.lock"
flock 9
if [[ -f "$OUT/.done" ]]; then printf '%s\n' "$OUT"; exit 0; fi

t0=$SECONDS
work="$CACHE/prometheus-src-$VERSION"
mkdir -p "$work"
gomod=$(cd "$work" && go mod download -json "github.com/prometheus/prometheus@$MODULE_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
[[ -f "$gomod" ]] || { log "the Go module proxy did not serve github.com/prometheus/prometheus@$MODULE_VERSION"; exit 1; }
{
  printf 'module pulumi-ephemery/prometheus-build\n\ngo 1.24.0\n\nrequire github.com/prometheus/prometheus %s\n\n' "$MODULE_VERSION"
  # Its excludes, so the build resolves the same versions as upstream's own.
  sed -n '/^exclude /,$p' "$gomod"
} >"$work/go.mod"
printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/prometheus/prometheus/cmd/prometheus"\n' >"$work/tools.go"
log "resolving github.com/prometheus/prometheus@$MODULE_VERSION's modules"
(cd "$work" && go mod tidy)
log "building cmd/prometheus (cold: ~15-30 min)"
mkdir -p "$OUT.part"
(cd "$work" && nice -n 19 go build -trimpath \
  -ldflags "-s -w -X github.com/prometheus/common/version.Version=$VERSION -X github.com/prometheus/common/version.Branch=module-proxy" \
  -o "$OUT.part/prometheus" github.com/prometheus/prometheus/cmd/prometheus)
# Read whole: under pipefail a reader that stops early (head, grep -q) fails the writer with SIGPIPE.
grep -q "version $VERSION" <<<"$("$OUT.part/prometheus" --version 2>&1 | sed -n 1p)" || { log "the built binary does not say version $VERSION"; exit 1; }
rm -rf "$OUT" && mv "$OUT.part" "$OUT" && touch "$OUT/.done"
log "built in $((SECONDS - t0)) s"
printf '%s\n' "$OUT"
