#!/usr/bin/env bash
# scripts/client-binaries.sh: build the real geth and prysm binaries that the live-chain tier runs, from their
# Go modules at the versions lib/config/images.ts pins, into ${PULUMI_EPHEMERY_CACHE:-~/.cache/pulumi-ephemery}/clients/.
#
#   geth  v<pin>  github.com/ethereum/go-ethereum/cmd/geth           -> clients/geth-<ver>/geth
#   prysm v<pin>  github.com/OffchainLabs/prysm/v7 ./cmd/beacon-chain ./cmd/validator ./cmd/prysmctl
#                 (its go.mod has replace directives, so `go install mod@ver` refuses it: the module is
#                 downloaded and built inside a writable copy, CGO_ENABLED=1 for its BLS library)
#                                                                    -> clients/prysm-<ver>/{beacon-chain,validator,prysmctl}
#
# A finished build is marked with a .done file and reused; a pin change builds the new version beside it.
# Usage: scripts/client-binaries.sh [geth] [prysm]   (both when none is named). Prints the directories built.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PULUMI_EPHEMERY_CACHE:-$HOME/.cache/pulumi-ephemery}/clients"
mkdir -p "$CACHE"
[[ -x /usr/local/go/bin/go ]] && ! command -v go >/dev/null && PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "client-binaries: Go is needed (https://go.dev/dl/)" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

log() { printf '[client-binaries] %s\n' "$*" >&2; }

# pinned_tag KEY: the tag of DEFAULT_IMAGES.KEY in lib/config/images.ts (e.g. v1.16.7).
pinned_tag() {
  local line
  line=$(sed -n "s/^  $1: \"[^\"]*:\([^\":]*\)\",\$/\1/p" "$ROOT/lib/config/images.ts")
  [[ -n "$line" ]] || { log "no pin named $1 in lib/config/images.ts"; exit 1; }
  printf '%s' "$line"
}

build_geth() {
  local ver out
  ver=$(pinned_tag geth)
  out="$CACHE/geth-$ver"
  if [[ -f "$out/.done" ]]; then printf '%s\n' "$out"; return; fi
  log "building geth $ver from github.com/ethereum/go-ethereum (several minutes on 2 cores)"
  local t0=$SECONDS
  rm -rf "$out" && mkdir -p "$out"
  GOBIN="$out" go install -trimpath "github.com/ethereum/go-ethereum/cmd/geth@$ver"
  # Read whole, then matched: `geth version | grep -q` under pipefail fails when grep exits first (SIGPIPE).
  grep -q "^Version: ${ver#v}" <<<"$("$out/geth" version)" || { log "built geth does not report version $ver"; exit 1; }
  touch "$out/.done"
  log "geth $ver built in $((SECONDS - t0))s"
  printf '%s\n' "$out"
}

build_prysm() {
  local ver out src work
  ver=$(pinned_tag prysmBeacon)
  [[ "$(pinned_tag prysmValidator)" == "$ver" ]] || { log "prysm beacon and validator pins differ; build supports one version"; exit 1; }
  out="$CACHE/prysm-$ver"
  if [[ -f "$out/.done" ]]; then printf '%s\n' "$out"; return; fi
  log "building prysm $ver (beacon-chain, validator, prysmctl) from github.com/OffchainLabs/prysm/v7"
  local t0=$SECONDS tmp
  tmp=$(mktemp -d)
  src=$(cd "$tmp" && go mod download -json "github.com/OffchainLabs/prysm/v7@$ver" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  rmdir "$tmp"
  [[ -d "$src" ]] || { log "the Go module proxy did not serve github.com/OffchainLabs/prysm/v7@$ver"; exit 1; }
  work="$CACHE/prysm-src-$ver"
  if [[ ! -f "$work/go.mod" ]]; then
    rm -rf "$work" && cp -r "$src" "$work" && chmod -R u+w "$work"
  fi
  rm -rf "$out" && mkdir -p "$out"
  (cd "$work" && CGO_ENABLED=1 go build -trimpath \
    -ldflags "-X github.com/OffchainLabs/prysm/v7/runtime/version.gitTag=$ver" \
    -o "$out/" ./cmd/beacon-chain ./cmd/validator ./cmd/prysmctl)
  for b in beacon-chain validator prysmctl; do [[ -x "$out/$b" ]] || { log "prysm build left no $b"; exit 1; }; done
  for b in beacon-chain validator; do
    grep -q "Prysm/$ver/" <<<"$("$out/$b" --version)" || { log "built $b does not report version $ver"; exit 1; }
  done
  touch "$out/.done"
  log "prysm $ver built in $((SECONDS - t0))s"
  printf '%s\n' "$out"
}

# One build at a time per cache: a second run waits, then finds the .done of the first.
exec 9>"$CACHE/.lock"
flock 9

want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=(geth prysm)
for c in "${want[@]}"; do
  case "$c" in
    geth) build_geth ;;
    prysm) build_prysm ;;
    *) log "unknown client: $c (geth or prysm)"; exit 2 ;;
  esac
done
