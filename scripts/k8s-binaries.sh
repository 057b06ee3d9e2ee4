#!/usr/bin/env bash
# scripts/k8s-binaries.sh: build the Kubernetes control plane, kubelet and kubectl that the Kubernetes tier
# (npm run test:k8s) runs, from the Go module proxy, into
# ${PULUMI_EPHEMERY_CACHE:-~/.cache/pulumi-ephemery}/k8s-<version>/{kube-apiserver,kube-controller-manager,
# kube-scheduler,kubelet,kubectl}.
#
# The k8s.io/kubernetes module zip carries no ./staging sources, and its go.mod replaces every staging repo
# with ./staging/src/k8s.io/<x>, so neither `go install mod@ver` nor a build inside the module works. A wrapper
# module requires k8s.io/kubernetes at the version and replaces each of those staging repos with the published
# k8s.io/<x> v0.<minor>.<patch> (the list is read from kubernetes' own go.mod, so it follows the version);
# tools.go imports the five commands. 1.34 is the line this machine can run: 1.35 refuses cgroup v1 unless told,
# 1.36 drops containerd 1.x (Debian bookworm has 1.6).
#
# Cold: ~20-30 min on 2 busy cores (kube-apiserver is most of it; the others reuse the Go build cache).
# A finished build is marked with a .done file and reused; a version change builds beside it. Locked with flock.
# Usage: scripts/k8s-binaries.sh   (K8S_VERSION=v1.34.4 by default). Prints the directory built.
set -euo pipefail

VERSION="${K8S_VERSION:-v1.34.4}"
[[ "$VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || { echo "k8s-binaries: K8S_VERSION must look like v1.34.4, got '$VERSION'" >&2; exit 2; }
MINOR="${BASH_REMATCH[1]}" PATCH="${BASH_REMATCH[2]}"
STAGING_VERSION="v0.$MINOR.$PATCH"
CACHE="${PULUMI_EPHEMERY_CACHE:-$HOME/.cache/pulumi-ephemery}"
OUT="$CACHE/k8s-$VERSION"
BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
mkdir -p "$CACHE"
[[ -x /usr/local/go/bin/go ]] && ! command -v go >/dev/null && PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "k8s-binaries: Go is needed (https://go.dev/dl/)" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

log() { printf '[k8s-binaries] %s\n' "$*" >&2; }

# One build at a time per cache: a second run waits, then finds the .done of the first.
exec 9>"$CACHE/.k8s-$VERSION.lock"
flock 9

if [[ -f "$OUT/.done" ]]; then printf '%s\n' "$OUT"; exit 0; fi

t0=$SECONDS
work="$CACHE/k8s-src-$VERSION"
mkdir -p "$work"
log "reading k8s.io/kubernetes@$VERSION's go.mod from the Go module proxy"
gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
[[ -f "$gomod" ]] || { log "the Go module proxy did not serve k8s.io/kubernetes@$VERSION"; exit 1; }
mapfile -t staging < <(sed -n 's#^\t\(k8s\.io/[a-z0-9-]*\) => \./staging/src/k8s\.io/[a-z0-9-]*$#\1#p' "$gomod")
[[ ${#staging[@]} -ge 25 ]] || { log "found only ${#staging[@]} staging replaces in $gomod; the recipe needs revisiting"; exit 1; }

{
  printf 'module pulumi-ephemery/k8s-binaries\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$VERSION"
  for m in "${staging[@]}"; do printf '\t%s => %s %s\n' "$m" "$m" "$STAGING_VERSION"; done
  printf ')\n'
} >"$work/go.mod.new"
if ! cmp -s "$work/go.mod.new" "$work/go.mod.seed" 2>/dev/null; then
  # A new recipe (first run or another version's list): start the module over from the seed.
  cp "$work/go.mod.new" "$work/go.mod.seed" && cp "$work/go.mod.new" "$work/go.mod" && rm -f "$work/go.sum"
fi
rm -f "$work/go.mod.new"
{
  printf '//go:build tools\n\npackage tools\n\nimport (\n'
  for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$b"; done
  printf ')\n'
} >"$work/tools.go"

log "resolving the module graph (${#staging[@]} staging repos at $STAGING_VERSION)"
(cd "$work" && go mod tidy -e >/dev/null 2>"$work/tidy.log" || true)
# tidy drops the requirement when tools.go is build-tagged out; keep it and let go build resolve the rest.
grep -q 'k8s.io/kubernetes ' "$work/go.mod" || (cd "$work" && go get "k8s.io/kubernetes@$VERSION")

ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$VERSION -X k8s.io/component-base/version.gitMajor=1"
ldflags+=" -X k8s.io/component-base/version.gitMinor=$MINOR -X k8s.io/component-base/version.gitTreeState=clean"
rm -rf "$OUT.partial" && mkdir -p "$OUT.partial"
for b in "${BINS[@]}"; do
  t1=$SECONDS
  log "building $b $VERSION"
  (cd "$work" && go build -trimpath -tags tools -ldflags "$ldflags" -o "$OUT.partial/$b" "k8s.io/kubernetes/cmd/$b")
  log "$b built in $((SECONDS - t1))s"
done
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet; do
  # Read whole, then matched: under pipefail `grep -q` exiting first would fail the pipeline (SIGPIPE).
  grep -qx "Kubernetes $VERSION" <<<"$("$OUT.partial/$b" --version)" || { log "built $b does not report $VERSION: $("$OUT.partial/$b" --version)"; exit 1; }
done
grep -q "Client Version: $VERSION" <<<"$("$OUT.partial/kubectl" version --client 2>/dev/null)" || { log "built kubectl does not report $VERSION"; exit 1; }
rm -rf "$OUT" && mv "$OUT.partial" "$OUT"
touch "$OUT/.done"
log "Kubernetes $VERSION built in $((SECONDS - t0))s"
printf '%s\n' "$OUT"
