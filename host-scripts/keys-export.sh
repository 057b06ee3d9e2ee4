#!/usr/bin/env bash
# keys-export: the main container of a kubernetes node's `<node>-keys-export` Job (lib/kubernetes/keyExport.ts),
# run while the node's pod is stopped, when validator keys leave the node in a `pulumi up`. Its init container has
# run the validator client's own slashing-protection export (KEY_TOOLS exportCmd, as a host's release does) into
# EXPORT_FILE. This checks the file as an EIP-3076 interchange and keeps the records of the keys that move (the
# bundled lib/kubernetes/keyExportCheck.ts: the program's own checks), then PATCHes the result into the Secret
# K8S_SECRET with the pod's own token; the workstation's release step reads it back with kubectl.
# Values are rendered in at the marker below, each single-quoted: data, never code.
# shellcheck disable=SC2153
set -euo pipefail

# @@VALUES@@

log() { printf '%s keys-export[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$NODE" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# @@INCLUDE kube-api.sh@@

patch=$(mktemp "${TMPDIR:-/tmp}/keys-export.XXXXXX")
answer=$(mktemp "${TMPDIR:-/tmp}/keys-export.XXXXXX")
trap 'rm -f -- "$patch" "$answer"' EXIT
"${EPHEMERY_NODE:-node}" "$CHECKER_JS" "$EXPORT_FILE" "$REQUEST_FILE" "$patch" || die "the exported slashing protection was refused (above); nothing was published"
# `@file`: curl reads the body from the file, so its size is no argv limit.
kube_api PATCH "/api/v1/namespaces/$K8S_NAMESPACE/secrets/$K8S_SECRET" "$answer" "@$patch" || die "the API server could not be reached (HTTP $K8S_STATUS); nothing was published"
[ "$K8S_STATUS" = 200 ] || die "patching secret $K8S_NAMESPACE/$K8S_SECRET answered HTTP $K8S_STATUS; check the Role $K8S_SECRET (get and patch of that one Secret)"
log "published the slashing protection of the moving keys into secret $K8S_NAMESPACE/$K8S_SECRET"
