/**
 * Validation of a key source on the workstation, before anything leaves it: the module behind both
 * `ephemery keys validate` and the Pulumi program's ValidatorKeys component.
 */
import * as fs from "fs";
import * as path from "path";
import { ArchiveError, readKeySource, SourceFile } from "./archive";
import { Interchange, interchangeProblems, isInterchangeLike } from "./interchange";
import { Kdf, KeystoreError, parseKeystore, ParsedKeystore } from "./keystore";
import { checkPasswords } from "./passwords";

export interface KeyReport {
  file: string;
  /** Lower-case hex without 0x. */
  pubkey: string;
  kdf: Kdf;
  /** True or false when a password was given for the key, null when none was. */
  passwordOk: boolean | null;
}

/** What `ephemery keys validate --json` prints. */
export interface ValidationReport {
  ok: boolean;
  count: number;
  keys: KeyReport[];
  errors: { file: string; message: string }[];
}

export interface LoadedKey extends ParsedKeystore {
  file: string;
  /** The keystore file's bytes as found in the source. */
  text: string;
}

/** A source after the checks that need no password. */
export interface ScannedSource {
  keys: LoadedKey[];
  interchanges: { file: string; interchange: Interchange }[];
  errors: { file: string; message: string }[];
}

/** Returns the password for one keystore, or undefined when none is known for it. */
export type PasswordLookup = (key: { file: string; pubkey: string }) => string | undefined;

export interface ValidateOptions {
  expectedCount?: number;
  /** Exact pubkeys expected; missing and extra ones are named. */
  expectedPubkeys?: string[];
  passwordFor?: PasswordLookup;
  /** Worker threads for password checks (default: one per core). */
  threads?: number;
}

/** deposit_data-*.json lists deposits, not keys; the deposit CLI writes it next to the keystores. */
const IGNORED = [/(^|\/)deposit_data-[^/]*\.json$/i, /(^|\/)\.[^/]*$/];

/** Parses every keystore of the source; never throws for bad content, it reports it. */
export function scanSource(files: SourceFile[], opts: Pick<ValidateOptions, "expectedCount" | "expectedPubkeys"> = {}): ScannedSource {
  const keys: LoadedKey[] = [];
  const interchanges: ScannedSource["interchanges"] = [];
  const errors: ScannedSource["errors"] = [];
  const byPubkey = new Map<string, string>();
  for (const f of files) {
    if (!f.name.toLowerCase().endsWith(".json") || IGNORED.some((re) => re.test(f.name))) continue;
    const text = f.data.toString("utf8");
    let json: unknown;
    try { json = JSON.parse(text); } catch { json = undefined; }
    if (isInterchangeLike(json)) {
      const problems = interchangeProblems(json);
      if (problems.length) errors.push(...problems.map((message) => ({ file: f.name, message })));
      else interchanges.push({ file: f.name, interchange: json as Interchange });
      continue;
    }
    try {
      const parsed = parseKeystore(text);
      const other = byPubkey.get(parsed.pubkey);
      if (other !== undefined) {
        errors.push({ file: f.name, message: `holds the same key (0x${parsed.pubkey}) as ${other}; remove one of the two files` });
        continue;
      }
      byPubkey.set(parsed.pubkey, f.name);
      keys.push({ ...parsed, file: f.name, text });
    } catch (e) {
      if (!(e instanceof KeystoreError)) throw e;
      errors.push({ file: f.name, message: `${e.message}` });
    }
  }
  if (keys.length === 0 && errors.length === 0) errors.push({ file: "(source)", message: "holds no keystore (*.json) files; point it at the validator_keys directory the deposit CLI wrote" });
  errors.push(...countProblems(keys.map((k) => k.pubkey), opts));
  for (const ic of interchanges) {
    for (const message of interchangeProblems(ic.interchange, { allowedPubkeys: keys.map((k) => k.pubkey) })) errors.push({ file: ic.file, message });
  }
  return { keys, interchanges, errors };
}

export function countProblems(found: string[], opts: Pick<ValidateOptions, "expectedCount" | "expectedPubkeys">): { file: string; message: string }[] {
  const out: { file: string; message: string }[] = [];
  if (opts.expectedPubkeys) {
    const want = new Set(opts.expectedPubkeys.map((p) => p.toLowerCase().replace(/^0x/, "")));
    const have = new Set(found);
    const missing = [...want].filter((p) => !have.has(p));
    const extra = found.filter((p) => !want.has(p));
    if (missing.length) out.push({ file: "(source)", message: `is missing ${missing.length} expected key(s): ${missing.map((p) => `0x${p}`).join(", ")}` });
    if (extra.length) out.push({ file: "(source)", message: `holds ${extra.length} key(s) that are not expected: ${extra.map((p) => `0x${p}`).join(", ")}` });
  }
  if (opts.expectedCount !== undefined && found.length !== opts.expectedCount) {
    out.push({
      file: "(source)",
      message: `holds ${found.length} key(s), expected ${opts.expectedCount}${found.length > opts.expectedCount ? "" : ""}; found: ${found.map((p) => `0x${p}`).join(", ") || "none"}. Fix the source or the expected count`,
    });
  }
  return out;
}

/** The full check: structure, uniqueness, count, and with passwords, decryption and pubkey derivation. */
export async function validateFiles(files: SourceFile[], opts: ValidateOptions = {}): Promise<{ report: ValidationReport; scanned: ScannedSource }> {
  const scanned = scanSource(files, opts);
  const errors = [...scanned.errors];
  const keys: KeyReport[] = scanned.keys.map((k) => ({ file: k.file, pubkey: k.pubkey, kdf: k.kdf, passwordOk: null }));
  if (opts.passwordFor) {
    const jobs: { id: number; keystore: LoadedKey["keystore"]; password: string }[] = [];
    scanned.keys.forEach((k, id) => {
      const password = opts.passwordFor!(k);
      if (password === undefined) errors.push({ file: k.file, message: `no password given for 0x${k.pubkey}; add it to the passwords (a file per key named like the keystore, with .txt)` });
      else jobs.push({ id, keystore: k.keystore, password });
    });
    for (const r of await checkPasswords(jobs, { threads: opts.threads })) {
      const k = scanned.keys[r.id];
      if (r.error) { keys[r.id].passwordOk = false; errors.push({ file: k.file, message: `cannot be decrypted: ${r.error}` }); continue; }
      keys[r.id].passwordOk = r.passwordOk;
      if (!r.passwordOk) errors.push({ file: k.file, message: "the password is wrong (checksum mismatch); check the password for this keystore" });
      else if (r.derivedPubkey !== k.pubkey) {
        keys[r.id].passwordOk = true;
        errors.push({ file: k.file, message: `decrypts to a secret whose public key is 0x${r.derivedPubkey}, not the keystore's pubkey 0x${k.pubkey}; the keystore is corrupt or forged, do not use it` });
      }
    }
  }
  return { report: { ok: errors.length === 0, count: keys.length, keys, errors }, scanned };
}

/** Reads the source (directory or archive) and validates it; unreadable or unsafe sources become errors too. */
export async function validateSource(source: string, opts: ValidateOptions = {}): Promise<{ report: ValidationReport; scanned: ScannedSource }> {
  let files: SourceFile[];
  try {
    files = readKeySource(source);
  } catch (e) {
    if (!(e instanceof ArchiveError)) throw e;
    const file = e.entry === source ? source : `${source}:${e.entry}`;
    const report = { ok: false, count: 0, keys: [], errors: [{ file, message: e.message }] };
    return { report, scanned: { keys: [], interchanges: [], errors: report.errors } };
  }
  return validateFiles(files, opts);
}

/** One password file per key in `dir`: `<keystore name>.txt`, `<pubkey>.txt` or `0x<pubkey>(.txt)`. */
export function passwordsDirLookup(dir: string): PasswordLookup {
  return ({ file, pubkey }) => {
    const base = path.basename(file).replace(/\.json$/i, "");
    for (const name of [`${base}.txt`, `${pubkey}.txt`, `0x${pubkey}.txt`, pubkey, `0x${pubkey}`]) {
      const p = path.join(dir, name);
      if (fs.existsSync(p)) return fs.readFileSync(p, "utf8");
    }
    return undefined;
  };
}

/** Cross-host check: a pubkey installed on two hosts would sign twice and be slashed. */
export function duplicateKeysAcrossHosts(hosts: { host: string; pubkeys: string[] }[]): { pubkey: string; hosts: string[] }[] {
  const where = new Map<string, string[]>();
  for (const h of hosts) for (const pk of new Set(h.pubkeys)) where.set(pk, [...(where.get(pk) ?? []), h.host]);
  return [...where].filter(([, hs]) => hs.length > 1).map(([pubkey, hs]) => ({ pubkey, hosts: hs }));
}
