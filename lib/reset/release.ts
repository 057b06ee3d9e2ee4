/**
 * Verification of an Ephemery release (the unpacked testnet-all.tar.gz) as data: every file is parsed with size
 * bounds (JSON as JSON, config.yaml with a restricted YAML reader, the *.vars files as KEY=value lines,
 * genesis.ssz by its fixed-offset header) and the files are cross-checked against each other, the tag and the
 * `ephemery:network` schedule.
 *
 * This file is also the host-side checker: it imports only Node built-ins, so releaseRunner.ts ships it as one
 * JavaScript file that the reset program runs with `node` (see `main`). Keep it free of project imports.
 */
import * as fs from "fs";
import * as path from "path";

/** The schedule settings a release is compared with (`ephemery:network.schedule`). */
export interface ReleaseSchedule {
  /** EL genesis of iteration 0 on the closed-form schedule (unix seconds). */
  baseTime: number;
  periodSec: number;
  genesisDelaySec: number;
  chainIdBase: number;
}

/** A pinned client and the forks its version supports (from lib/reset/forks.ts). */
export interface ClientForkSupport {
  client: string;
  role: string;
  /** The image tag, or "unknown" when the image is not pinned by a version tag. */
  version: string;
  /** Consensus-layer fork names (lower case) this version runs. */
  forks: string[];
  /** False when the version could not be compared with the table: nothing is claimed about it. */
  known: boolean;
}

export interface ReleasePolicy {
  schedule: ReleaseSchedule;
  /** Files every client of the node reads; a release without one is rejected before anything is wiped. */
  requiredFiles: string[];
  clients: ClientForkSupport[];
}

export interface ForkActivation {
  /** Consensus fork name, lower case (electra, fulu, gloas...). */
  fork: string;
  epoch: number;
}

export interface UnsupportedFork {
  fork: string;
  epoch: number;
  client: string;
  role: string;
  version: string;
}

export interface ReleaseFacts {
  iteration: number;
  chainId: number;
  elGenesisTime: number;
  clGenesisTime: number;
  periodSec: number;
  genesisDelaySec: number;
  genesisValidatorsRoot: string;
  /** "legacy" when besu.json and chainspec.json are present (generator 5.x), "genesis-json" when not (6.x). */
  layout: "legacy" | "genesis-json";
  /** Forks the config activates (epoch below FAR_FUTURE_EPOCH), in fork order. */
  forks: ForkActivation[];
}

export interface ReleaseVerdict {
  ok: boolean;
  /** Why the release is rejected: each names the file, the field, the value found and the value expected. */
  problems: string[];
  facts?: ReleaseFacts;
  /** The release agrees with itself but not with the `ephemery:network.schedule` settings. */
  scheduleMismatch: string[];
  unsupportedForks: UnsupportedFork[];
}

// --- bounds ---

const KIB = 1024;
const MIB = 1024 * KIB;
/** Largest size read per file; genesis.json carries the premine allocations (a few MiB today). */
export const FILE_LIMITS: Record<string, number> = {
  "genesis.json": 64 * MIB,
  "besu.json": 64 * MIB,
  "chainspec.json": 64 * MIB,
  "config.yaml": 1 * MIB,
  "retention.vars": 64 * KIB,
  "nodevars_env.txt": 256 * KIB,
  "genesis_validators_root.txt": 1 * KIB,
};
const DEFAULT_FILE_LIMIT = 16 * MIB;
/** genesis.ssz is only stat'ed and its header read; this bounds what a client would have to load. */
export const MAX_GENESIS_SSZ_BYTES = 1024 * MIB;
const MAX_YAML_LINES = 20_000;
const MAX_VALUE_CHARS = 64 * KIB;

export const FAR_FUTURE_EPOCH = 18446744073709551615n;

/** Consensus forks after phase0, in order, with the execution fork each one pairs with. */
export const CONSENSUS_FORKS = [
  { fork: "altair", el: undefined },
  { fork: "bellatrix", el: undefined },
  { fork: "capella", el: "shanghai" },
  { fork: "deneb", el: "cancun" },
  { fork: "electra", el: "prague" },
  { fork: "fulu", el: "osaka" },
  { fork: "gloas", el: "amsterdam" },
] as const;

/** The forks the support table (lib/reset/forks.ts) tracks; earlier ones every pinned client runs. */
export const TRACKED_FORKS = ["electra", "fulu", "gloas"];

// --- parsers (each throws an Error naming the file and line) ---

/** KEY=value lines as Ephemery writes them (`export K="v"` in retention.vars, `K="v"` in nodevars_env.txt). */
export function parseKeyValues(text: string, file: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"\\$`]*)"|'([^']*)'|([^\s"'\\$`;&|<>()]*))$/.exec(line);
    if (!m) throw new Error(`${file} line ${i + 1} is not a KEY="value" line`);
    const value = m[2] ?? m[3] ?? m[4] ?? "";
    if (value.length > MAX_VALUE_CHARS) throw new Error(`${file} line ${i + 1}: ${m[1]} is longer than ${MAX_VALUE_CHARS} characters`);
    if (out.has(m[1])) throw new Error(`${file} sets ${m[1]} twice (line ${i + 1})`);
    out.set(m[1], value);
  });
  return out;
}

/**
 * The consensus config.yaml: top-level `KEY: scalar` lines; a key with an empty value owns the indented or
 * `- ` lines below it (BLOB_SCHEDULE), kept as text. Anchors, aliases, tags and merge keys are refused, so
 * nothing expands beyond the file's own size; duplicate keys are refused (which one would a client take?).
 */
export function parseConfigYaml(text: string, file = "config.yaml"): Map<string, string> {
  const lines = text.split("\n");
  if (lines.length > MAX_YAML_LINES) throw new Error(`${file} has more than ${MAX_YAML_LINES} lines`);
  const out = new Map<string, string>();
  let block: string | undefined;
  lines.forEach((raw, i) => {
    const line = stripYamlComment(raw.replace(/\r$/, ""));
    if (line.trim() === "" || line.trim() === "---") return;
    if (/^[\s-]/.test(line)) {
      if (block === undefined) throw new Error(`${file} line ${i + 1} is indented but belongs to no key`);
      checkYamlScalar(line.trim().replace(/^-\s*/, "").replace(/^[A-Za-z0-9_]+:\s*/, ""), file, i);
      out.set(block, `${out.get(block)}${out.get(block) ? "\n" : ""}${line.trim()}`);
      return;
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*):(?:\s+(.*))?$/.exec(line);
    if (!m) throw new Error(`${file} line ${i + 1} is not a "KEY: value" line`);
    if (out.has(m[1])) throw new Error(`${file} sets ${m[1]} twice (line ${i + 1})`);
    const value = (m[2] ?? "").trim();
    checkYamlScalar(value, file, i);
    block = value === "" ? m[1] : undefined;
    out.set(m[1], unquote(value));
  });
  return out;
}

function stripYamlComment(line: string): string {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) { if (c === quote) quote = ""; continue; }
    if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i).trimEnd();
  }
  return line;
}

function checkYamlScalar(value: string, file: string, i: number): void {
  if (/^[&*!]/.test(value) || value.startsWith("<<")) {
    throw new Error(`${file} line ${i + 1} uses a YAML anchor, alias, tag or merge key; a release config has none`);
  }
  if (value.length > MAX_VALUE_CHARS) throw new Error(`${file} line ${i + 1} is longer than ${MAX_VALUE_CHARS} characters`);
}

function unquote(v: string): string {
  const m = /^"([^"]*)"$|^'([^']*)'$/.exec(v);
  return m ? (m[1] ?? m[2]) : v;
}

export interface SszHeader {
  sizeBytes: number;
  genesisTime: bigint;
  genesisValidatorsRoot: string;
  slot: bigint;
  previousVersion: string;
  currentVersion: string;
  forkEpoch: bigint;
}

/** BeaconState's fixed-offset head: genesis_time u64 @0, genesis_validators_root @8, slot u64 @40, fork @48. */
export function readSszHeader(head: Uint8Array, sizeBytes: number): SszHeader {
  if (head.length < 64) throw new Error(`genesis.ssz is ${sizeBytes} bytes, too short for a BeaconState`);
  const view = new DataView(head.buffer, head.byteOffset, 64);
  const hex = (a: number, b: number) => `0x${Buffer.from(head.subarray(a, b)).toString("hex")}`;
  return {
    sizeBytes,
    genesisTime: view.getBigUint64(0, true),
    genesisValidatorsRoot: hex(8, 40),
    slot: view.getBigUint64(40, true),
    previousVersion: hex(48, 52),
    currentVersion: hex(52, 56),
    forkEpoch: view.getBigUint64(56, true),
  };
}

/**
 * The smallest BeaconState a preset allows: its fixed-size vectors alone (block_roots, state_roots,
 * randao_mixes, slashings) take this much, so a shorter genesis.ssz is truncated.
 */
export function minBeaconStateBytes(preset: string): number {
  const p = preset === "minimal"
    ? { roots: 64, mixes: 64, slashings: 64 }
    : { roots: 8192, mixes: 65536, slashings: 8192 };
  return 64 + 112 + 2 * p.roots * 32 + p.mixes * 32 + p.slashings * 8;
}

// --- the verification ---

/** Reads one release file with its size bound; undefined when absent. Throws when it is a link or not a file. */
export type ReleaseReader = {
  text(name: string): string | undefined;
  /** The first `bytes` bytes and the total size (genesis.ssz is never read whole). */
  head(name: string, bytes: number): { head: Uint8Array; size: number } | undefined;
  exists(name: string): boolean;
};

export function verifyRelease(read: ReleaseReader, iteration: number, policy: ReleasePolicy): ReleaseVerdict {
  const problems: string[] = [];
  const verdict = (facts?: ReleaseFacts, scheduleMismatch: string[] = [], unsupportedForks: UnsupportedFork[] = []): ReleaseVerdict =>
    ({ ok: problems.length === 0, problems, facts, scheduleMismatch, unsupportedForks });
  const tag = `ephemery-${iteration}`;
  for (const f of policy.requiredFiles) {
    try {
      if (!read.exists(f)) problems.push(`release ${tag} lacks ${f}, which this node's clients read`);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length) return verdict();

  let retention: Map<string, string>, nodevars: Map<string, string>, config: Map<string, string>, genesis: GenesisJson, ssz: SszHeader;
  let gvrFile: string | undefined;
  try {
    retention = parseKeyValues(must(read.text("retention.vars"), "retention.vars"), "retention.vars");
    nodevars = parseKeyValues(must(read.text("nodevars_env.txt"), "nodevars_env.txt"), "nodevars_env.txt");
    config = parseConfigYaml(must(read.text("config.yaml"), "config.yaml"));
    genesis = parseGenesisJson(must(read.text("genesis.json"), "genesis.json"));
    const h = read.head("genesis.ssz", 64);
    if (!h) throw new Error("release lacks genesis.ssz");
    if (h.size > MAX_GENESIS_SSZ_BYTES) throw new Error(`genesis.ssz is ${h.size} bytes, above the ${MAX_GENESIS_SSZ_BYTES}-byte limit`);
    ssz = readSszHeader(h.head, h.size);
    gvrFile = read.text("genesis_validators_root.txt")?.trim();
  } catch (e) {
    problems.push((e as Error).message);
    return verdict();
  }

  const num = (file: string, key: string, v: string | undefined): number | undefined => {
    if (v === undefined || !/^\d{1,16}$/.test(v)) {
      problems.push(`${file} ${key} is ${v === undefined ? "missing" : `"${clip(v)}"`}, expected a whole number`);
      return undefined;
    }
    return Number(v);
  };
  const same = (what: string, got: string | number | undefined, want: string | number | undefined, wantFrom: string) => {
    if (got === undefined || want === undefined) return;
    if (String(got).toLowerCase() !== String(want).toLowerCase()) problems.push(`${what} is "${clip(String(got))}", expected "${want}" (${wantFrom})`);
  };

  // Iteration and tag.
  same("retention.vars ITERATION_NUMBER", retention.get("ITERATION_NUMBER") ?? "missing", iteration, `the tag ${tag}`);
  same("retention.vars ITERATION_RELEASE", retention.get("ITERATION_RELEASE") ?? "missing", tag, "the tag");
  same("nodevars_env.txt ITERATION_NUMBER", nodevars.get("ITERATION_NUMBER") ?? "missing", iteration, `the tag ${tag}`);

  // Chain id: genesis.json's config.chainId is the one the EL runs; every other copy must agree.
  const chainId = genesis.chainId;
  same("retention.vars CHAIN_ID", num("retention.vars", "CHAIN_ID", retention.get("CHAIN_ID")), chainId, "genesis.json config.chainId");
  same("nodevars_env.txt CHAIN_ID", num("nodevars_env.txt", "CHAIN_ID", nodevars.get("CHAIN_ID")), chainId, "genesis.json config.chainId");
  same("config.yaml DEPOSIT_CHAIN_ID", num("config.yaml", "DEPOSIT_CHAIN_ID", config.get("DEPOSIT_CHAIN_ID")), chainId, "genesis.json config.chainId");
  if (config.has("DEPOSIT_NETWORK_ID")) same("config.yaml DEPOSIT_NETWORK_ID", num("config.yaml", "DEPOSIT_NETWORK_ID", config.get("DEPOSIT_NETWORK_ID")), chainId, "genesis.json config.chainId");

  // EL genesis, CL genesis, period.
  const elGenesis = genesis.timestamp;
  same("config.yaml MIN_GENESIS_TIME", num("config.yaml", "MIN_GENESIS_TIME", config.get("MIN_GENESIS_TIME")), elGenesis, "genesis.json timestamp");
  same("retention.vars GENESIS_TIMESTAMP", num("retention.vars", "GENESIS_TIMESTAMP", retention.get("GENESIS_TIMESTAMP")), elGenesis, "genesis.json timestamp");
  const delay = num("config.yaml", "GENESIS_DELAY", config.get("GENESIS_DELAY"));
  const clGenesis = delay === undefined ? undefined : elGenesis + delay;
  same("nodevars_env.txt GENESIS_TIME", num("nodevars_env.txt", "GENESIS_TIME", nodevars.get("GENESIS_TIME")), clGenesis, "MIN_GENESIS_TIME + GENESIS_DELAY");
  same("genesis.ssz genesis_time", ssz.genesisTime.toString(), clGenesis, "MIN_GENESIS_TIME + GENESIS_DELAY");
  const period = num("retention.vars", "GENESIS_RESET_INTERVAL", retention.get("GENESIS_RESET_INTERVAL"));
  if (config.has("EPHEMERY_RESET_PERIOD")) same("config.yaml EPHEMERY_RESET_PERIOD", num("config.yaml", "EPHEMERY_RESET_PERIOD", config.get("EPHEMERY_RESET_PERIOD")), period, "retention.vars GENESIS_RESET_INTERVAL");
  // A minute is the floor of any schedule (test networks run ten-minute iterations); the settings check is the real bound.
  if (period !== undefined && period < 60) problems.push(`retention.vars GENESIS_RESET_INTERVAL is ${period} s; an iteration shorter than a minute is not a real schedule`);

  // genesis.ssz against config.yaml and genesis_validators_root.txt.
  const preset = config.get("PRESET_BASE") ?? "mainnet";
  const minSize = minBeaconStateBytes(preset);
  if (ssz.sizeBytes < minSize) problems.push(`genesis.ssz is ${ssz.sizeBytes} bytes, smaller than any ${preset}-preset BeaconState (${minSize}); the file is truncated`);
  if (ssz.slot !== 0n) problems.push(`genesis.ssz slot is ${ssz.slot}, expected 0 for a genesis state`);
  if (ssz.forkEpoch !== 0n) problems.push(`genesis.ssz fork.epoch is ${ssz.forkEpoch}, expected 0 for a genesis state`);
  const forks = activeForks(config, problems);
  forks.forEach((f, i) => {
    const before = forks[i - 1];
    if (before && f.epoch < before.epoch) problems.push(`config.yaml ${f.fork.toUpperCase()}_FORK_EPOCH ${f.epoch} comes before ${before.fork.toUpperCase()}_FORK_EPOCH ${before.epoch}; forks activate in order`);
  });
  const wantVersion = genesisForkVersion(config, forks);
  same("genesis.ssz fork.current_version", ssz.currentVersion, wantVersion, "the fork active at epoch 0 in config.yaml");
  const gvr = ssz.genesisValidatorsRoot;
  if (gvrFile !== undefined) same("genesis_validators_root.txt", gvrFile, gvr, "genesis.ssz genesis_validators_root");
  if (nodevars.has("GENESIS_VALROOT")) same("nodevars_env.txt GENESIS_VALROOT", nodevars.get("GENESIS_VALROOT"), gvr, "genesis.ssz genesis_validators_root");

  // EL fork times must match the CL fork epochs (an EL with Osaka and a CL without Fulu cannot build blocks).
  const slotSec = num("config.yaml", "SECONDS_PER_SLOT", config.get("SECONDS_PER_SLOT") ?? "12") ?? 12;
  const slotsPerEpoch = preset === "minimal" ? 8 : 32;
  if (clGenesis !== undefined) {
    for (const f of CONSENSUS_FORKS) {
      if (!f.el) continue;
      const elTime = genesis.forkTimes.get(f.el);
      const active = forks.find((a) => a.fork === f.fork);
      if (!active && elTime !== undefined) problems.push(`genesis.json config.${f.el}Time is ${elTime} but config.yaml never activates ${f.fork}`);
      if (active && elTime === undefined && f.el !== "amsterdam") problems.push(`config.yaml activates ${f.fork} at epoch ${active.epoch} but genesis.json has no config.${f.el}Time`);
      if (active && elTime !== undefined) {
        const clTime = clGenesis + active.epoch * slotSec * slotsPerEpoch;
        if (active.epoch === 0 ? elTime > clTime : elTime !== clTime) {
          problems.push(`genesis.json config.${f.el}Time is ${elTime}, expected ${active.epoch === 0 ? `at most ${clTime}` : clTime} (${f.fork} at epoch ${active.epoch})`);
        }
      }
    }
  }
  if (problems.length || delay === undefined || period === undefined || clGenesis === undefined) return verdict();

  const facts: ReleaseFacts = {
    iteration, chainId, elGenesisTime: elGenesis, clGenesisTime: clGenesis, periodSec: period, genesisDelaySec: delay,
    genesisValidatorsRoot: gvr, layout: read.exists("besu.json") && read.exists("chainspec.json") ? "legacy" : "genesis-json", forks,
  };
  return verdict(facts, scheduleMismatch(facts, policy.schedule), unsupportedForks(forks, policy.clients));
}

/** Where a self-consistent release disagrees with the configured schedule: alerted on, not rejected. */
export function scheduleMismatch(f: ReleaseFacts, s: ReleaseSchedule): string[] {
  const out: string[] = [];
  const expectEl = s.baseTime + f.iteration * s.periodSec;
  if (f.periodSec !== s.periodSec) out.push(`period ${f.periodSec} s in the release, ${s.periodSec} s in ephemery:network.schedule.periodSec`);
  if (f.elGenesisTime !== expectEl) out.push(`EL genesis ${f.elGenesisTime} in the release, ${expectEl} on the configured schedule (baseTime + iteration * periodSec)`);
  if (f.genesisDelaySec !== s.genesisDelaySec) out.push(`GENESIS_DELAY ${f.genesisDelaySec} s in the release, ${s.genesisDelaySec} s in ephemery:network.schedule.genesisDelaySec`);
  if (f.chainId !== s.chainIdBase + f.iteration) out.push(`chain id ${f.chainId} in the release, ${s.chainIdBase + f.iteration} on the configured schedule (chainIdBase + iteration)`);
  return out;
}

/** The forks config.yaml activates, in fork order; a *_FORK_EPOCH that is not a u64 is a problem. */
export function activeForks(config: Map<string, string>, problems: string[] = []): ForkActivation[] {
  const out: ForkActivation[] = [];
  for (const { fork } of CONSENSUS_FORKS) {
    const key = `${fork.toUpperCase()}_FORK_EPOCH`;
    const v = config.get(key);
    if (v === undefined) continue;
    if (!/^\d{1,20}$/.test(v) || BigInt(v) > FAR_FUTURE_EPOCH) { problems.push(`config.yaml ${key} is "${clip(v)}", expected an epoch`); continue; }
    const epoch = BigInt(v);
    if (epoch === FAR_FUTURE_EPOCH) continue;
    if (epoch > BigInt(Number.MAX_SAFE_INTEGER)) { problems.push(`config.yaml ${key} is ${v}, beyond any reachable epoch but not FAR_FUTURE_EPOCH`); continue; }
    out.push({ fork, epoch: Number(epoch) });
  }
  return out;
}

function genesisForkVersion(config: Map<string, string>, forks: ForkActivation[]): string | undefined {
  const atGenesis = forks.filter((f) => f.epoch === 0).pop();
  return (atGenesis ? config.get(`${atGenesis.fork.toUpperCase()}_FORK_VERSION`) : config.get("GENESIS_FORK_VERSION"))?.toLowerCase();
}

/** Each fork the release activates that a pinned client version is not known to run. */
export function unsupportedForks(forks: ForkActivation[], clients: ClientForkSupport[]): UnsupportedFork[] {
  const out: UnsupportedFork[] = [];
  for (const f of forks) {
    if (!TRACKED_FORKS.includes(f.fork)) continue;
    for (const c of clients) {
      if (c.known && !c.forks.includes(f.fork)) out.push({ fork: f.fork, epoch: f.epoch, client: c.client, role: c.role, version: c.version });
    }
  }
  return out;
}

interface GenesisJson { chainId: number; timestamp: number; forkTimes: Map<string, number> }

/** genesis.json as JSON: `config.chainId` and `timestamp` (hex string or number), `config.<fork>Time`. */
export function parseGenesisJson(text: string): GenesisJson {
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (e) { throw new Error(`genesis.json is not JSON: ${(e as Error).message}`); }
  const cfg = isObject(doc) && isObject(doc.config) ? doc.config : undefined;
  if (!isObject(doc) || !cfg) throw new Error("genesis.json has no config object");
  const chainId = cfg.chainId;
  if (typeof chainId !== "number" || !Number.isSafeInteger(chainId) || chainId <= 0) throw new Error(`genesis.json config.chainId is ${clip(JSON.stringify(chainId) ?? "missing")}, expected a positive whole number`);
  const timestamp = quantity(doc.timestamp, "genesis.json timestamp");
  const forkTimes = new Map<string, number>();
  for (const f of CONSENSUS_FORKS) {
    if (f.el && cfg[`${f.el}Time`] !== undefined) forkTimes.set(f.el, quantity(cfg[`${f.el}Time`], `genesis.json config.${f.el}Time`));
  }
  return { chainId, timestamp, forkTimes };
}

function quantity(v: unknown, what: string): number {
  let n: number | undefined;
  if (typeof v === "number") n = v;
  else if (typeof v === "string" && /^0x[0-9a-fA-F]{1,13}$/.test(v)) n = parseInt(v.slice(2), 16);
  else if (typeof v === "string" && /^\d{1,15}$/.test(v)) n = Number(v);
  if (n === undefined || !Number.isSafeInteger(n) || n < 0) throw new Error(`${what} is ${clip(JSON.stringify(v) ?? "missing")}, expected unix seconds`);
  return n;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function must(v: string | undefined, file: string): string {
  if (v === undefined) throw new Error(`release lacks ${file}`);
  return v;
}

/** Values from a release are echoed in logs: printable ASCII only, bounded. */
function printable(v: string, max: number): string {
  const s = v.replace(/[^\x20-\x7e]/g, "?");
  return s.length > max ? `${s.slice(0, max)}...` : s;
}
const clip = (v: string) => printable(v, 80);

// --- reading a release directory (the host side) ---

/** Reads files directly in `dir`: never follows a link, never reads past a file's bound. */
export function directoryReader(dir: string): ReleaseReader {
  const open = (name: string): { fd: number; size: number } | undefined => {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`release file name "${clip(name)}" is not a plain file name`);
    const p = path.join(dir, name);
    let st: fs.Stats;
    try { st = fs.lstatSync(p); } catch { return undefined; }
    if (!st.isFile()) throw new Error(`release file ${name} is ${st.isSymbolicLink() ? "a link" : "not a regular file"}`);
    if (st.size === 0) throw new Error(`release file ${name} is empty`);
    const fd = fs.openSync(p, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
    return { fd, size: fs.fstatSync(fd).size };
  };
  return {
    exists: (name) => {
      const f = open(name);
      if (f) fs.closeSync(f.fd);
      return f !== undefined;
    },
    text: (name) => {
      const f = open(name);
      if (!f) return undefined;
      try {
        const limit = FILE_LIMITS[name] ?? DEFAULT_FILE_LIMIT;
        if (f.size > limit) throw new Error(`release file ${name} is ${f.size} bytes, above its ${limit}-byte limit`);
        const buf = Buffer.alloc(f.size);
        const n = fs.readSync(f.fd, buf, 0, f.size, 0);
        return buf.subarray(0, n).toString("utf8");
      } finally { fs.closeSync(f.fd); }
    },
    head: (name, bytes) => {
      const f = open(name);
      if (!f) return undefined;
      try {
        const buf = Buffer.alloc(Math.min(bytes, f.size));
        const n = fs.readSync(f.fd, buf, 0, buf.length, 0);
        return { head: buf.subarray(0, n), size: f.size };
      } finally { fs.closeSync(f.fd); }
    },
  };
}

/** The verdict as the reset program reads it: KEY=value lines, printable ASCII, one value per line. */
export function formatVerdict(v: ReleaseVerdict): string {
  const lines = [`verdict=${v.ok ? "ok" : "reject"}`];
  if (!v.ok) lines.push(`reason=${printable(v.problems.join("; "), 700)}`);
  if (v.ok && v.facts) {
    const f = v.facts;
    lines.push(`chain_id=${f.chainId}`, `el_genesis=${f.elGenesisTime}`, `cl_genesis=${f.clGenesisTime}`, `period=${f.periodSec}`, `layout=${f.layout}`,
      `forks=${f.forks.map((a) => `${a.fork}@${a.epoch}`).join(",")}`);
    lines.push(`schedule_mismatch=${printable(v.scheduleMismatch.join("; "), 700)}`);
    for (const u of v.unsupportedForks) {
      // Label values for the textfile metric: restricted to a safe charset here, so the shell needs no escaping.
      const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64);
      lines.push(`unsupported_fork=${safe(u.fork)} ${u.epoch} ${safe(u.role)} ${safe(u.client)} ${safe(u.version)}`);
    }
  }
  return lines.map((l) => l.replace(/[^\x20-\x7e]/g, "?")).join("\n") + "\n";
}

/**
 * `node release-check.js verify <dir> <iteration> <policy-json>`: prints the verdict; exit 0 = accepted,
 * 1 = rejected, 2 = bad invocation.
 */
export function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): number {
  const [cmd, dir, it, policyJson] = argv;
  if (cmd !== "verify" || !dir || !/^\d{1,9}$/.test(it ?? "") || !policyJson) {
    out("verdict=reject\nreason=usage: release-check verify <dir> <iteration> <policy-json>\n");
    return 2;
  }
  let policy: ReleasePolicy;
  try { policy = JSON.parse(policyJson) as ReleasePolicy; } catch { out("verdict=reject\nreason=the policy argument is not JSON\n"); return 2; }
  let v: ReleaseVerdict;
  try {
    v = verifyRelease(directoryReader(dir), Number(it), policy);
  } catch (e) {
    v = { ok: false, problems: [(e as Error).message], scheduleMismatch: [], unsupportedForks: [] };
  }
  out(formatVerdict(v));
  return v.ok ? 0 : 1;
}
