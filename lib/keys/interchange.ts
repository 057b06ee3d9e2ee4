/** EIP-3076 slashing-protection interchange files: checked before any import. Pure. */
import { normalizePubkey } from "./keystore";

export interface Interchange {
  metadata: { interchange_format_version: string; genesis_validators_root: string };
  data: { pubkey: string; signed_blocks: { slot: string; signing_root?: string }[]; signed_attestations: { source_epoch: string; target_epoch: string; signing_root?: string }[] }[];
}

const ROOT = /^0x[0-9a-fA-F]{64}$/;
const UINT = /^\d+$/;

export function isInterchangeLike(value: unknown): boolean {
  return typeof value === "object" && value !== null && "metadata" in value && typeof (value as { metadata: unknown }).metadata === "object"
    && (value as { metadata: Record<string, unknown> }).metadata !== null
    && "interchange_format_version" in (value as { metadata: Record<string, unknown> }).metadata;
}

/**
 * Problems (each a sentence) with an interchange file: format version 5, a well-formed root equal to
 * `genesisValidatorsRoot` when given, well-formed records, and only pubkeys from `allowedPubkeys` when given.
 */
export function interchangeProblems(value: unknown, expect: { genesisValidatorsRoot?: string; allowedPubkeys?: string[] } = {}): string[] {
  const problems: string[] = [];
  if (!isInterchangeLike(value)) return ["is not an EIP-3076 interchange file (no metadata.interchange_format_version)"];
  const ic = value as Interchange;
  if (ic.metadata.interchange_format_version !== "5") {
    problems.push(`has interchange_format_version ${JSON.stringify(ic.metadata.interchange_format_version)}; only "5" (EIP-3076) is supported: export it again with a current client`);
  }
  const root = ic.metadata.genesis_validators_root;
  if (typeof root !== "string" || !ROOT.test(root)) {
    problems.push(`has genesis_validators_root ${JSON.stringify(root)}; it must be 0x and 32 bytes of hex`);
  } else if (expect.genesisValidatorsRoot && root.toLowerCase() !== expect.genesisValidatorsRoot.toLowerCase()) {
    problems.push(`belongs to another chain: genesis_validators_root ${root}, the current iteration's is ${expect.genesisValidatorsRoot}; slashing protection of an old Ephemery iteration cannot be imported`);
  }
  if (!Array.isArray(ic.data)) return [...problems, 'has no "data" list'];
  const allowed = expect.allowedPubkeys ? new Set(expect.allowedPubkeys) : undefined;
  const seen = new Set<string>();
  ic.data.forEach((rec, i) => {
    const pk = normalizePubkey(rec?.pubkey);
    if (!pk) { problems.push(`data[${i}].pubkey ${JSON.stringify(rec?.pubkey)} is not a 48-byte hex public key`); return; }
    if (seen.has(pk)) problems.push(`data[${i}] repeats pubkey 0x${pk}`);
    seen.add(pk);
    if (allowed && !allowed.has(pk)) problems.push(`data[${i}] is for 0x${pk}, which is not one of the keys being installed`);
    if (!Array.isArray(rec.signed_blocks) || rec.signed_blocks.some((b) => !UINT.test(String(b?.slot)))) problems.push(`data[${i}].signed_blocks must be a list of { slot: "<decimal>" }`);
    if (!Array.isArray(rec.signed_attestations) || rec.signed_attestations.some((a) => !UINT.test(String(a?.source_epoch)) || !UINT.test(String(a?.target_epoch)))) {
      problems.push(`data[${i}].signed_attestations must be a list of { source_epoch, target_epoch } decimal strings`);
    }
  });
  return problems;
}

/** Pubkeys (lower-case hex, no 0x) an interchange holds records for. */
export function interchangePubkeys(ic: Interchange): string[] {
  return ic.data.map((r) => normalizePubkey(r.pubkey)).filter((p): p is string => p !== undefined);
}

/** The records of `pubkeys` only: what moves with keys from one host to another. */
export function filterInterchange(ic: Interchange, pubkeys: string[]): Interchange {
  const keep = new Set(pubkeys);
  return { metadata: ic.metadata, data: ic.data.filter((r) => keep.has(normalizePubkey(r.pubkey) ?? "")) };
}
