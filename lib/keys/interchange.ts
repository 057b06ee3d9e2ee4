/** EIP-3076 slashing-protection interchange files: checked before any import. Pure. */
import { normalizePubkey } from "./keystore";
import { parseInterchange } from "./slashingProtection";

export interface Interchange {
  metadata: { interchange_format_version: string; genesis_validators_root: string };
  data: { pubkey: string; signed_blocks: { slot: string; signing_root?: string }[]; signed_attestations: { source_epoch: string; target_epoch: string; signing_root?: string }[] }[];
}

export function isInterchangeLike(value: unknown): boolean {
  return typeof value === "object" && value !== null && "metadata" in value && typeof (value as { metadata: unknown }).metadata === "object"
    && (value as { metadata: Record<string, unknown> }).metadata !== null
    && "interchange_format_version" in (value as { metadata: Record<string, unknown> }).metadata;
}

/**
 * Problems (each a sentence) with an interchange file: the EIP-3076 checks of ./slashingProtection (format
 * version 5, roots, uint64 slots and epochs, signing roots, size), the root equal to `genesisValidatorsRoot`
 * when given, and only pubkeys from `allowedPubkeys` when given. A pubkey may appear in several records:
 * EIP-3076 merges them.
 */
export function interchangeProblems(value: unknown, expect: { genesisValidatorsRoot?: string; allowedPubkeys?: string[] } = {}): string[] {
  if (!isInterchangeLike(value)) return ["is not an EIP-3076 interchange file (no metadata.interchange_format_version)"];
  const { records, problems } = parseInterchange(value, expect.genesisValidatorsRoot);
  if (expect.allowedPubkeys) {
    const allowed = new Set(expect.allowedPubkeys);
    for (const r of records) if (!allowed.has(r.pubkey)) problems.push(`data[${r.index}] is for 0x${r.pubkey}, which is not one of the keys being installed`);
  }
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
