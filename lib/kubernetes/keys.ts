/**
 * Validator keys on a `kind: kubernetes` node. Pure: no Pulumi, no cluster.
 *
 * - The key set (lib/keys/layout clientLayout) and an optional EIP-3076 interchange go into the
 *   `<node>-validator-keys` Secret only (lib/kubernetes/manifests.ts mounts it 0400 into the VC).
 * - An init container `import-slashing-protection` runs, before the VC starts, the same client tool the host
 *   installer runs (lib/keys/layout KEY_TOOLS importCmd, in the VC's image with its data PVC at /data), with the
 *   host installer's semantics (host-scripts/keys-install.sh check_interchange_root, already_imported): an EIP-3076
 *   version 5 file whose genesis_validators_root equals the installed release's, each file imported once
 *   (its digest recorded in the data PVC). No new client flags: the commands are KEY_TOOLS' (option-checked by
 *   tests/unit/clientOptions.test.ts); e.g. prysm v7.0.0 `validator slashing-protection-history import --datadir
 *   --slashing-protection-json-file --accept-terms-of-use` (cmd/validator/slashing-protection/slashing-protection.go),
 *   lighthouse `account validator slashing-protection import FILE` (account_manager/src/validator/slashing_protection.rs).
 * - The StatefulSet carries its pubkeys as an annotation (public data) so the next `up` can see which keys
 *   leave it; the pod template carries a digest of them, so a changed key set rolls the pod (replicas 1,
 *   OrderedReady: the old pod is gone before the new one starts).
 */
import { createHash } from "crypto";
import { PATHS } from "../clients/types";
import { KEY_TOOLS, ValidatorClientName } from "../keys/layout";
import { shellQuote } from "../hostScripts";

/** The interchange's place in the key set, under current/ (the host bundle uses the same name). */
export const INTERCHANGE_FILE = "slashing-protection.json";
/** In the VC's data PVC: one digest per imported interchange (the host keeps the same list per key set). */
export const IMPORTED_LIST = ".ephemery-imported-interchanges.txt";
export const PUBKEYS_ANNOTATION = "ephemery.dev/validator-pubkeys";
export const KEYSET_ANNOTATION = "ephemery.dev/validator-keyset";
export const IMPORT_CONTAINER = "import-slashing-protection";
/** The component type carrying a kubernetes node's key facts (components/kubernetesKeys.ts; policies/keys.ts reads it). */
export const KUBERNETES_KEYS_TYPE = "ephemery:kubernetes:ValidatorKeys";
/** Keeps the annotation far below Kubernetes' 256 KiB limit for all annotations of an object. */
export const MAX_KEYS_PER_NODE = 2000;

const PUBKEY = /^[0-9a-f]{96}$/;
/** The API server refuses a Secret over 1 MiB (etcd's request limit is close to it too). */
export const MAX_SECRET_BYTES = 1024 * 1024;

export class KubernetesKeysError extends Error {}

/** Refuses a keys Secret the API server would refuse, naming the fix; `data` is the Secret's base64 values. */
export function checkKeysSecretSize(node: string, data: Record<string, string>): void {
  const bytes = Object.entries(data).reduce((n, [k, v]) => n + k.length + v.length, 0);
  if (bytes > MAX_SECRET_BYTES) {
    throw new KubernetesKeysError(`${node}: the validator keys Secret would be ${bytes} bytes; Kubernetes allows at most ${MAX_SECRET_BYTES} (1 MiB) per Secret: split the keys over more nodes (about 700 deposit-CLI keystores fit one)`);
  }
}

/** Annotation values for the StatefulSet (pubkeys) and its pod template (digest of pubkeys and interchange). */
export function keyAnnotations(pubkeys: string[], interchange: string | undefined): { statefulSet: Record<string, string>; template: Record<string, string> } {
  if (pubkeys.length > MAX_KEYS_PER_NODE) throw new KubernetesKeysError(`${pubkeys.length} validator keys on one node; at most ${MAX_KEYS_PER_NODE} fit the node's annotations: split them over more nodes`);
  for (const pk of pubkeys) if (!PUBKEY.test(pk)) throw new KubernetesKeysError(`pubkey "${pk.slice(0, 20)}" is not 48 bytes of lowercase hex`);
  const sorted = [...pubkeys].sort();
  const digest = createHash("sha256").update(sorted.join("\n")).update("\0").update(interchange ?? "").digest("hex");
  return { statefulSet: { [PUBKEYS_ANNOTATION]: sorted.join(",") }, template: { [KEYSET_ANNOTATION]: digest } };
}

/**
 * The init container's script: the interchange import with the host installer's checks and messages, then
 * (prysm) the wallet import, in the host installer's order (host-scripts/keys-install.sh activate).
 */
export function importScript(client: ValidatorClientName): string {
  const tools = KEY_TOOLS[client];
  const file = `${PATHS.keys}/${INTERCHANGE_FILE}`;
  const record = `${PATHS.data}/${IMPORTED_LIST}`;
  return [
    "set -eu",
    'die() { echo "import-slashing-protection: error: $*" >&2; exit 1; }',
    "import_slashing_protection() {",
    `f=${shellQuote(file)}`,
    `rec=${shellQuote(record)}`,
    '[ -s "$f" ] || { echo "no slashing protection to import"; return 0; }',
    'digest=$(sha256sum < "$f" | cut -d" " -f1)',
    'if [ -f "$rec" ] && grep -qxF "$digest" "$rec"; then echo "slashing protection $digest already imported"; return 0; fi',
    `grep -q '"interchange_format_version"[[:space:]]*:[[:space:]]*"5"' "$f" || die "${INTERCHANGE_FILE} is not an EIP-3076 version 5 interchange"`,
    `have=$(grep -o '"genesis_validators_root"[[:space:]]*:[[:space:]]*"0x[0-9a-fA-F]*"' "$f" | head -n1 | grep -o '0x[0-9a-fA-F]*' | tr 'A-F' 'a-f' || true)`,
    `[ -n "$have" ] || die "${INTERCHANGE_FILE} has no genesis_validators_root"`,
    `want=$(tr -d ' \\n\\r' < ${shellQuote(`${PATHS.testnet}/genesis_validators_root.txt`)} 2>/dev/null | tr 'A-F' 'a-f' || true)`,
    // The chain comes from the installed release, never from the file: without it nothing is imported.
    'case "$want" in 0x*) ;; *) want=bad ;; esac',
    'case "${want#0x}" in *[!0-9a-f]*) want=bad ;; esac',
    `[ "\${#want}" -eq 66 ] || die "the release's genesis_validators_root.txt (${PATHS.testnet}) is missing or malformed, so the chain of ${INTERCHANGE_FILE} cannot be checked; write a verified release into the testnet volume, then restart the pod"`,
    `[ "$have" = "$want" ] || die "${INTERCHANGE_FILE} is for genesis_validators_root $have but this node runs $want (another Ephemery iteration); refusing to import: remove it from the key source"`,
    'echo "importing slashing protection $digest"',
    `( ${tools.importCmd} ) < "$f" || die "importing slashing protection failed; the validator client was not started"`,
    'echo "$digest" >> "$rec"',
    'echo "imported slashing protection $digest"',
    "}",
    "import_slashing_protection",
    ...(tools.walletImportCmd ? [`( ${tools.walletImportCmd} ) || die "prysm wallet import failed"`] : []),
  ].join("\n");
}

/** The init container that imports the interchange, in the VC's image (or its tool image) and user. */
export function importInitContainer(client: ValidatorClientName, validator: { image: string; securityContext?: unknown }, imagePullPolicy: string, escape: (v: string) => string): Record<string, unknown> {
  const tools = KEY_TOOLS[client];
  return {
    name: IMPORT_CONTAINER,
    image: tools.toolImage ? tools.toolImage(validator.image) : validator.image,
    imagePullPolicy,
    command: ["/bin/sh", "-c", escape(importScript(client))],
    volumeMounts: [
      { name: "validator-data", mountPath: PATHS.data },
      { name: "validator-keys", mountPath: PATHS.keysRoot, readOnly: true },
      { name: "testnet", mountPath: PATHS.testnetRoot, readOnly: true },
    ],
    ...(validator.securityContext ? { securityContext: validator.securityContext } : {}),
  };
}
