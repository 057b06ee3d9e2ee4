/**
 * EIP-2335 keystores: structural checks and decryption with Node's native crypto (scrypt, pbkdf2,
 * aes-128-ctr, sha256). Pure: no files, no network. BLS public key derivation lives in ./bls (see why there).
 */
import * as crypto from "crypto";

export const SUPPORTED_KDFS = ["scrypt", "pbkdf2"] as const;
export type Kdf = (typeof SUPPORTED_KDFS)[number];

export interface Keystore {
  version: 4;
  pubkey: string;
  path: string;
  uuid: string;
  description?: string;
  crypto: {
    kdf: { function: Kdf; params: ScryptParams | Pbkdf2Params; message: string };
    checksum: { function: "sha256"; params: Record<string, never>; message: string };
    cipher: { function: "aes-128-ctr"; params: { iv: string }; message: string };
  };
}
export interface ScryptParams { dklen: number; n: number; r: number; p: number; salt: string }
export interface Pbkdf2Params { dklen: number; c: number; prf: "hmac-sha256"; salt: string }

/** A keystore that passed the structural checks, with its pubkey normalised (lower-case hex, no 0x). */
export interface ParsedKeystore {
  keystore: Keystore;
  pubkey: string;
  kdf: Kdf;
}

export class KeystoreError extends Error {}

const HEX = /^[0-9a-fA-F]*$/;

/**
 * What a keystore may ask of the machine that decrypts it. Real tools write scrypt n=2^18 r=8 p=1 and pbkdf2
 * c=2^18, dklen 32, a 32-byte salt, a 16-byte iv (ethstaker-deposit-cli, eth2-val-tools, Teku, Nimbus); the
 * limits leave 4x headroom over that and keep one decryption to about 1 GiB and a few seconds, so a hostile
 * keystore cannot exhaust memory or hold a check for hours. Lighthouse refuses dklen != 32 the same way.
 */
export const KDF_LIMITS = {
  scryptMaxN: 2 ** 20,
  scryptMaxR: 32,
  scryptMaxP: 16,
  /** 128 * n * r bytes of scrypt working memory. */
  scryptMaxMemoryBytes: 2 ** 30,
  /** n * r * p: the deposit CLI's keystores cost 2^21. */
  scryptMaxWork: 2 ** 23,
  pbkdf2MaxC: 2 ** 20,
  dklen: 32,
  saltMinBytes: 16,
  saltMaxBytes: 64,
  ivBytes: 16,
} as const;

/** Lower-case hex without 0x; undefined unless it is a 48-byte public key. */
export function normalizePubkey(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const hex = value.startsWith("0x") || value.startsWith("0X") ? value.slice(2) : value;
  return hex.length === 96 && HEX.test(hex) ? hex.toLowerCase() : undefined;
}

/** Checks everything EIP-2335 version 4 requires that can be checked without the password. */
export function parseKeystore(text: string): ParsedKeystore {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new KeystoreError(`is not valid JSON (${(e as Error).message}); a keystore is the JSON file written by the deposit CLI`);
  }
  const ks = raw as Record<string, any>;
  if (typeof ks !== "object" || ks === null || Array.isArray(ks)) throw new KeystoreError("is not a JSON object");
  if (ks.version !== 4) throw new KeystoreError(`has version ${JSON.stringify(ks.version)}; only EIP-2335 version 4 keystores are supported (regenerate it with the staking deposit CLI)`);
  const c = ks.crypto;
  if (!c || typeof c !== "object") throw new KeystoreError('has no "crypto" object');
  const kdf = c.kdf;
  if (!kdf || !(SUPPORTED_KDFS as readonly string[]).includes(kdf.function)) {
    throw new KeystoreError(`uses kdf ${JSON.stringify(kdf?.function)}; supported: ${SUPPORTED_KDFS.join(", ")}`);
  }
  const p = kdf.params;
  if (!p || typeof p !== "object" || Array.isArray(p)) throw new KeystoreError('has no "crypto.kdf.params" object');
  kdfParamProblems(kdf.function as Kdf, p);
  if (c.checksum?.function !== "sha256") throw new KeystoreError(`checksum function must be "sha256", got ${JSON.stringify(c.checksum?.function)}`);
  hexField(c.checksum.message, "crypto.checksum.message", { exact: 32 });
  if (c.cipher?.function !== "aes-128-ctr") throw new KeystoreError(`cipher function must be "aes-128-ctr", got ${JSON.stringify(c.cipher?.function)}`);
  onlyKeys(c.cipher.params, ["iv"], "crypto.cipher.params");
  hexField(c.cipher.params?.iv, "crypto.cipher.params.iv", { exact: KDF_LIMITS.ivBytes });
  hexField(c.cipher.message, "crypto.cipher.message", { exact: 32 });
  const pubkey = normalizePubkey(ks.pubkey);
  if (!pubkey) throw new KeystoreError(`has pubkey ${JSON.stringify(ks.pubkey)}; it must be 48 bytes of hex (96 characters)`);
  if (typeof ks.path !== "string") throw new KeystoreError('has no "path" string');
  if (typeof ks.uuid !== "string" || ks.uuid === "") throw new KeystoreError('has no "uuid" string');
  return { keystore: ks as Keystore, pubkey, kdf: kdf.function };
}

/** Throws with the parameter and the limit named when a KDF parameter is outside KDF_LIMITS. */
function kdfParamProblems(fn: Kdf, p: Record<string, unknown>): void {
  const L = KDF_LIMITS;
  const regen = "regenerate the keystore with the staking deposit CLI's defaults";
  const intIn = (name: string, v: unknown, min: number, max: number): number => {
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      throw new KeystoreError(`crypto.kdf.params.${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}; ${regen}`);
    }
    return v as number;
  };
  onlyKeys(p, fn === "scrypt" ? ["dklen", "n", "r", "p", "salt"] : ["dklen", "c", "prf", "salt"], "crypto.kdf.params");
  if (p.dklen !== L.dklen) throw new KeystoreError(`crypto.kdf.params.dklen must be ${L.dklen}, got ${JSON.stringify(p.dklen)}`);
  hexField(p.salt, "crypto.kdf.params.salt", { min: L.saltMinBytes, max: L.saltMaxBytes });
  if (fn === "scrypt") {
    const n = intIn("n", p.n, 2, L.scryptMaxN);
    if (!isPow2(n)) throw new KeystoreError(`crypto.kdf.params.n must be a power of 2, got ${n}`);
    const r = intIn("r", p.r, 1, L.scryptMaxR);
    const par = intIn("p", p.p, 1, L.scryptMaxP);
    if (128 * n * r > L.scryptMaxMemoryBytes) {
      throw new KeystoreError(`scrypt n=${n} r=${r} needs ${128 * n * r} bytes of memory (128*n*r), over the limit of ${L.scryptMaxMemoryBytes}; ${regen}`);
    }
    if (n * r * par > L.scryptMaxWork) {
      throw new KeystoreError(`scrypt n=${n} r=${r} p=${par} costs n*r*p=${n * r * par}, over the limit of ${L.scryptMaxWork} (4x the deposit CLI's); ${regen}`);
    }
  } else {
    intIn("c", p.c, 1, L.pbkdf2MaxC);
    if (p.prf !== "hmac-sha256") throw new KeystoreError(`crypto.kdf.params.prf must be "hmac-sha256", got ${JSON.stringify(p.prf)}`);
  }
}

function onlyKeys(v: unknown, allowed: string[], name: string): void {
  if (!v || typeof v !== "object") return;
  const extra = Object.keys(v).filter((k) => !allowed.includes(k));
  if (extra.length) throw new KeystoreError(`${name} has unknown field(s) ${extra.map((k) => JSON.stringify(k)).join(", ")}; allowed: ${allowed.join(", ")}`);
}

function hexField(v: unknown, name: string, len: { exact?: number; min?: number; max?: number }): void {
  const bad = typeof v !== "string" || !HEX.test(v) || v.length % 2 !== 0
    || (len.exact !== undefined && v.length !== len.exact * 2) || (len.min !== undefined && v.length < len.min * 2)
    || (len.max !== undefined && v.length > len.max * 2);
  if (!bad) return;
  const want = len.exact !== undefined ? `${len.exact} bytes of hex` : `${len.min ?? 1} to ${len.max ?? "any"} bytes of hex`;
  const got = typeof v === "string" && v.length > 80 ? `${v.length} characters` : JSON.stringify(v);
  throw new KeystoreError(`${name} must be ${want}, got ${got}`);
}
const posInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const isPow2 = (v: unknown): v is number => posInt(v) && (v & (v - 1)) === 0;

/** EIP-2335 password processing: NFKD, then drop C0, C1 and DEL control characters, then UTF-8. */
export function passwordBytes(password: string): Buffer {
  // eslint-disable-next-line no-control-regex
  return Buffer.from(password.normalize("NFKD").replace(/[\u0000-\u001f\u007f-\u009f]/g, ""), "utf8");
}

function deriveKey(ks: Keystore, password: string): Buffer {
  const kdf = ks.crypto.kdf;
  const salt = Buffer.from(kdf.params.salt, "hex");
  const pw = passwordBytes(password);
  if (kdf.function === "scrypt") {
    const { n, r, p, dklen } = kdf.params as ScryptParams;
    // scrypt needs 128*n*r bytes (bounded by KDF_LIMITS); the default maxmem (32 MiB) rejects the deposit CLI's n=2^18, r=8.
    return crypto.scryptSync(pw, salt, dklen, { N: n, r, p, maxmem: 128 * n * r + 64 * 1024 * 1024 });
  }
  const { c, dklen } = kdf.params as Pbkdf2Params;
  return crypto.pbkdf2Sync(pw, salt, c, dklen, "sha256");
}

/** The 32-byte secret, or undefined when the password is wrong (the checksum does not match). */
export function decryptKeystore(ks: Keystore, password: string): Buffer | undefined {
  const key = deriveKey(ks, password);
  const cipherText = Buffer.from(ks.crypto.cipher.message, "hex");
  const checksum = crypto.createHash("sha256").update(key.subarray(16, 32)).update(cipherText).digest();
  if (!crypto.timingSafeEqual(checksum, Buffer.from(ks.crypto.checksum.message, "hex"))) return undefined;
  const decipher = crypto.createDecipheriv("aes-128-ctr", key.subarray(0, 16), Buffer.from(ks.crypto.cipher.params.iv, "hex"));
  return Buffer.concat([decipher.update(cipherText), decipher.final()]);
}
