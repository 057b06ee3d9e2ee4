/**
 * EIP-3076 slashing protection as the project moves it between hosts and clients: strict parsing of
 * interchange files, import with the "minimal" strategy (per-key low watermarks: highest block slot,
 * highest source and target epoch), duplicate pubkeys merged, slashable data detected, and export of
 * the watermarks as one minimal interchange that every client imports. Pure: no files, no network.
 *
 * Minimal is safe by construction: a watermark only ever rises, so merging exports of several hosts or
 * importing a stale file can never allow a message a client refused before.
 */
import { normalizePubkey } from "./keystore";

export const INTERCHANGE_FORMAT_VERSION = "5";
export const UINT64_MAX = 2n ** 64n - 1n;

/** What one interchange file may hold; real exports of a few thousand keys stay far below. */
export const INTERCHANGE_LIMITS = {
  records: 100_000,
  /** Blocks plus attestations over all records. */
  items: 2_000_000,
};

const ROOT = /^0x[0-9a-fA-F]{64}$/;
/** A decimal uint64: at most 20 digits, checked against 2^64-1 after. */
const UINT = /^[0-9]{1,20}$/;

export interface SignedBlock { slot: bigint; signingRoot?: string }
export interface SignedAttestation { source: bigint; target: bigint; signingRoot?: string }

/** What one key has signed: full history of what was imported, and the watermarks that decide. */
export interface KeyHistory {
  blocks: SignedBlock[];
  attestations: SignedAttestation[];
  maxSlot?: bigint;
  maxSource?: bigint;
  maxTarget?: bigint;
}

export interface ProtectionDb {
  /** Lower-case hex, 0x-prefixed, 32 bytes: the chain this database belongs to. */
  genesisValidatorsRoot: string;
  /** By pubkey: lower-case hex without 0x. */
  keys: Map<string, KeyHistory>;
}

export interface ImportResult {
  /** False when the file is malformed or for another chain; the database is then unchanged. */
  ok: boolean;
  /** Each a sentence naming the place in the file: why the import was refused. */
  problems: string[];
  /** Slashable data found (double votes, surrounds, source > target, below a watermark); imported anyway. */
  slashable: string[];
  db: ProtectionDb;
}

export interface InterchangeJson {
  metadata: { interchange_format_version: string; genesis_validators_root: string };
  data: { pubkey: string; signed_blocks: { slot: string; signing_root?: string }[]; signed_attestations: { source_epoch: string; target_epoch: string; signing_root?: string }[] }[];
}

export function emptyDb(genesisValidatorsRoot: string): ProtectionDb {
  if (!ROOT.test(genesisValidatorsRoot)) throw new Error(`genesis validators root ${JSON.stringify(genesisValidatorsRoot)} must be 0x and 32 bytes of hex (the release's genesis_validators_root.txt)`);
  return { genesisValidatorsRoot: genesisValidatorsRoot.toLowerCase(), keys: new Map() };
}

interface ParsedRecord { /** Its index in `data`. */ index: number; pubkey: string; blocks: SignedBlock[]; attestations: SignedAttestation[] }

/** Problems (each a sentence) that make `value` unusable for the chain of `genesisValidatorsRoot`. */
export function parseInterchange(value: unknown, genesisValidatorsRoot: string | undefined): { records: ParsedRecord[]; root?: string; problems: string[] } {
  const problems: string[] = [];
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { records: [], problems: ["is not an EIP-3076 interchange file (not a JSON object)"] };
  const ic = value as Record<string, unknown>;
  const meta = ic.metadata as Record<string, unknown> | undefined;
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) return { records: [], problems: ["is not an EIP-3076 interchange file (no metadata object)"] };
  if (meta.interchange_format_version !== INTERCHANGE_FORMAT_VERSION) {
    problems.push(`has interchange_format_version ${short(meta.interchange_format_version)}; only "5" (EIP-3076) is supported: export it again with a current client`);
  }
  const root = meta.genesis_validators_root;
  if (typeof root !== "string" || !ROOT.test(root)) {
    problems.push(`has genesis_validators_root ${short(root)}; it must be 0x and 32 bytes of hex`);
  } else if (genesisValidatorsRoot !== undefined && root.toLowerCase() !== genesisValidatorsRoot.toLowerCase()) {
    problems.push(`belongs to another chain: genesis_validators_root ${root}, the current iteration's is ${genesisValidatorsRoot}; slashing protection of an old Ephemery iteration cannot be imported`);
  }
  if (!Array.isArray(ic.data)) return { records: [], problems: [...problems, 'has no "data" list'] };
  if (ic.data.length > INTERCHANGE_LIMITS.records) return { records: [], problems: [...problems, `has ${ic.data.length} records, over the limit of ${INTERCHANGE_LIMITS.records}`] };
  const records: ParsedRecord[] = [];
  let items = 0;
  ic.data.forEach((raw: unknown, i: number) => {
    const at = `data[${i}]`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) { problems.push(`${at} is not an object`); return; }
    const rec = raw as Record<string, unknown>;
    const pubkey = normalizePubkey(rec.pubkey);
    if (!pubkey) { problems.push(`${at}.pubkey ${short(rec.pubkey)} is not a 48-byte hex public key`); return; }
    const blocks: SignedBlock[] = [];
    const attestations: SignedAttestation[] = [];
    if (!Array.isArray(rec.signed_blocks)) problems.push(`${at}.signed_blocks must be a list`);
    else {
      items += rec.signed_blocks.length;
      if (items <= INTERCHANGE_LIMITS.items) rec.signed_blocks.forEach((b: unknown, j: number) => {
        const where = `${at}.signed_blocks[${j}]`;
        const o = (typeof b === "object" && b !== null ? b : {}) as Record<string, unknown>;
        const slot = uint64(o.slot, `${where}.slot`, problems);
        const signingRoot = signingRootOf(o.signing_root, `${where}.signing_root`, problems);
        if (slot !== undefined) blocks.push({ slot, signingRoot });
      });
    }
    if (!Array.isArray(rec.signed_attestations)) problems.push(`${at}.signed_attestations must be a list`);
    else {
      items += rec.signed_attestations.length;
      if (items <= INTERCHANGE_LIMITS.items) rec.signed_attestations.forEach((a: unknown, j: number) => {
        const where = `${at}.signed_attestations[${j}]`;
        const o = (typeof a === "object" && a !== null ? a : {}) as Record<string, unknown>;
        const source = uint64(o.source_epoch, `${where}.source_epoch`, problems);
        const target = uint64(o.target_epoch, `${where}.target_epoch`, problems);
        const signingRoot = signingRootOf(o.signing_root, `${where}.signing_root`, problems);
        if (source !== undefined && target !== undefined) attestations.push({ source, target, signingRoot });
      });
    }
    records.push({ index: i, pubkey, blocks, attestations });
  });
  if (items > INTERCHANGE_LIMITS.items) problems.push(`holds ${items} signed blocks and attestations, over the limit of ${INTERCHANGE_LIMITS.items}`);
  return { records, root: typeof root === "string" && ROOT.test(root) ? root.toLowerCase() : undefined, problems: problems.slice(0, 20).concat(problems.length > 20 ? [`and ${problems.length - 20} more problem(s)`] : []) };
}

function uint64(v: unknown, where: string, problems: string[]): bigint | undefined {
  if (typeof v !== "string" || !UINT.test(v) || BigInt(v) > UINT64_MAX) {
    problems.push(`${where} is ${short(v)}; it must be a decimal string from 0 to ${UINT64_MAX}`);
    return undefined;
  }
  return BigInt(v);
}

function signingRootOf(v: unknown, where: string, problems: string[]): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !ROOT.test(v)) { problems.push(`${where} is ${short(v)}; it must be 0x and 32 bytes of hex, or absent`); return undefined; }
  const root = v.toLowerCase();
  // EIP-3076: an all-zero root means "unknown", like an absent one.
  return /^0x0{64}$/.test(root) ? undefined : root;
}

/** A value for a message: JSON, cut to 80 characters (it may come from a hostile file). */
function short(v: unknown): string {
  const s = v === undefined ? "missing" : JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * Imports `value` into `db` (EIP-3076, minimal strategy). The chain is the database's: a file for another
 * genesis_validators_root is refused, there is no "none given". Returns a new database; `db` is not changed.
 */
export function importInterchange(db: ProtectionDb, value: unknown): ImportResult {
  const parsed = parseInterchange(value, db.genesisValidatorsRoot);
  if (parsed.problems.length) return { ok: false, problems: parsed.problems, slashable: [], db };
  const keys = new Map([...db.keys].map(([k, h]) => [k, { ...h, blocks: [...h.blocks], attestations: [...h.attestations] }]));
  const slashable: string[] = [];
  // The watermarks before this import: data below them is stale or slashable relative to what was signed.
  const before = new Map([...db.keys].map(([k, h]) => [k, lowerBounds(h)]));
  for (const rec of parsed.records) {
    const h = keys.get(rec.pubkey) ?? { blocks: [], attestations: [] };
    keys.set(rec.pubkey, h);
    const bound = before.get(rec.pubkey);
    const pk = `0x${rec.pubkey.slice(0, 12)}…`;
    for (const b of rec.blocks) {
      const clash = h.blocks.find((o) => o.slot === b.slot);
      if (clash && !(clash.signingRoot && clash.signingRoot === b.signingRoot)) slashable.push(`${pk}: two blocks at slot ${b.slot} (double proposal, or signing roots unknown)`);
      else if (!clash && bound?.minSlot !== undefined && b.slot < bound.minSlot) slashable.push(`${pk}: block at slot ${b.slot} is below the lowest slot already recorded (${bound.minSlot})`);
      h.blocks.push(b);
      if (h.maxSlot === undefined || b.slot > h.maxSlot) h.maxSlot = b.slot;
    }
    for (const a of rec.attestations) {
      if (a.source > a.target) slashable.push(`${pk}: attestation with source epoch ${a.source} after its target epoch ${a.target}`);
      const same = h.attestations.find((o) => o.target === a.target);
      if (same && !(same.signingRoot && same.signingRoot === a.signingRoot)) slashable.push(`${pk}: two attestations for target epoch ${a.target} (double vote, or signing roots unknown)`);
      else if (!same) {
        const surround = h.attestations.find((o) => (o.source < a.source && a.target < o.target) || (a.source < o.source && o.target < a.target));
        if (surround) slashable.push(`${pk}: attestation ${a.source}→${a.target} and ${surround.source}→${surround.target} surround one another`);
        else if (bound?.minSource !== undefined && (a.source < bound.minSource || a.target <= bound.minTarget!)) {
          slashable.push(`${pk}: attestation ${a.source}→${a.target} is below the lowest already recorded (${bound.minSource}→${bound.minTarget})`);
        }
      }
      h.attestations.push(a);
      if (h.maxSource === undefined || a.source > h.maxSource) h.maxSource = a.source;
      if (h.maxTarget === undefined || a.target > h.maxTarget) h.maxTarget = a.target;
    }
  }
  return { ok: true, problems: [], slashable, db: { genesisValidatorsRoot: db.genesisValidatorsRoot, keys } };
}

function lowerBounds(h: KeyHistory): { minSlot?: bigint; minSource?: bigint; minTarget?: bigint } {
  const min = (xs: bigint[]) => (xs.length ? xs.reduce((a, b) => (b < a ? b : a)) : undefined);
  return { minSlot: min(h.blocks.map((b) => b.slot)), minSource: min(h.attestations.map((a) => a.source)), minTarget: min(h.attestations.map((a) => a.target)) };
}

/** Whether a client holding `db` (minimal strategy) refuses to sign a block at `slot`. */
export function refusesBlock(db: ProtectionDb, pubkey: string, slot: bigint): boolean {
  const h = db.keys.get(pubkey);
  return h?.maxSlot !== undefined && slot <= h.maxSlot;
}

/** Whether a client holding `db` (minimal strategy) refuses to sign the attestation `source`→`target`. */
export function refusesAttestation(db: ProtectionDb, pubkey: string, source: bigint, target: bigint): boolean {
  if (source > target) return true;
  const h = db.keys.get(pubkey);
  return (h?.maxSource !== undefined && source < h.maxSource) || (h?.maxTarget !== undefined && target <= h.maxTarget);
}

/** Records a signature the client made (what a client does after an allowed signing). */
export function recordBlock(db: ProtectionDb, pubkey: string, slot: bigint): void {
  const h = historyOf(db, pubkey);
  h.blocks.push({ slot });
  if (h.maxSlot === undefined || slot > h.maxSlot) h.maxSlot = slot;
}

export function recordAttestation(db: ProtectionDb, pubkey: string, source: bigint, target: bigint): void {
  const h = historyOf(db, pubkey);
  h.attestations.push({ source, target });
  if (h.maxSource === undefined || source > h.maxSource) h.maxSource = source;
  if (h.maxTarget === undefined || target > h.maxTarget) h.maxTarget = target;
}

function historyOf(db: ProtectionDb, pubkey: string): KeyHistory {
  let h = db.keys.get(pubkey);
  if (!h) db.keys.set(pubkey, (h = { blocks: [], attestations: [] }));
  return h;
}

/**
 * The database as one minimal interchange: per key, the highest block slot and one attestation at
 * (highest source, highest target), without signing roots, so a client refuses everything at or below
 * them. A target below the highest source (only possible from slashable input) is raised to the source:
 * clients refuse source > target on import, and the raised watermark is stricter, never looser.
 */
export function exportInterchange(db: ProtectionDb, pubkeys?: string[]): InterchangeJson {
  const keep = pubkeys ? new Set(pubkeys) : undefined;
  const data: InterchangeJson["data"] = [];
  for (const [pubkey, h] of [...db.keys].sort(([a], [b]) => a.localeCompare(b))) {
    if (keep && !keep.has(pubkey)) continue;
    const signed_blocks = h.maxSlot === undefined ? [] : [{ slot: h.maxSlot.toString() }];
    const signed_attestations = h.maxSource === undefined || h.maxTarget === undefined ? []
      : [{ source_epoch: h.maxSource.toString(), target_epoch: (h.maxTarget > h.maxSource ? h.maxTarget : h.maxSource).toString() }];
    data.push({ pubkey: `0x${pubkey}`, signed_blocks, signed_attestations });
  }
  return { metadata: { interchange_format_version: INTERCHANGE_FORMAT_VERSION, genesis_validators_root: db.genesisValidatorsRoot }, data };
}

/**
 * Several interchanges of one chain (files shipped with keys, exports of the hosts keys leave) merged into
 * the one minimal interchange a host imports. All must share the chain of the first; `expectedRoot`, when
 * known (the release's genesis_validators_root), is checked too. Undefined when there is nothing to import.
 */
export function mergeInterchangeFiles(parts: { file: string; value: unknown }[], opts: { expectedRoot?: string; pubkeys?: string[] } = {}): { interchange?: InterchangeJson; problems: string[]; slashable: string[] } {
  const problems: string[] = [];
  const slashable: string[] = [];
  let db: ProtectionDb | undefined;
  for (const part of parts) {
    if (!db) {
      const first = parseInterchange(part.value, opts.expectedRoot);
      if (first.problems.length || !first.root) { problems.push(...first.problems.map((p) => `${part.file} ${p}`)); continue; }
      db = emptyDb(first.root);
    }
    const r = importInterchange(db, part.value);
    if (!r.ok) {
      const otherChain = r.problems.some((p) => p.startsWith("belongs to another chain"));
      problems.push(...(otherChain
        ? [`${part.file} is for another chain than the other slashing-protection files (${db.genesisValidatorsRoot}); files of different chains cannot be imported together: remove the stale one`]
        : r.problems.map((p) => `${part.file} ${p}`)));
      continue;
    }
    slashable.push(...r.slashable.map((s) => `${part.file}: ${s}`));
    db = r.db;
  }
  if (!db || problems.length) return { problems, slashable };
  const interchange = exportInterchange(db, opts.pubkeys);
  return { interchange: interchange.data.length ? interchange : undefined, problems, slashable };
}
