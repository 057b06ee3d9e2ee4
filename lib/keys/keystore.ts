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
/** Upper bounds that keep a hostile keystore from exhausting memory or CPU (the deposit CLI uses n=2^18, c=2^18). */
const MAX_SCRYPT_N = 2 ** 20;
const MAX_PBKDF2_C = 2 ** 24;

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
  const p = kdf.params ?? {};
  if (p.dklen !== 32) throw new KeystoreError(`kdf dklen must be 32, got ${JSON.stringify(p.dklen)}`);
  hexField(p.salt, "crypto.kdf.params.salt", { min: 1 });
  if (kdf.function === "scrypt") {
    if (!isPow2(p.n) || p.n < 2 || p.n > MAX_SCRYPT_N) throw new KeystoreError(`scrypt n must be a power of 2 up to ${MAX_SCRYPT_N}, got ${JSON.stringify(p.n)}`);
    if (!posInt(p.r) || !posInt(p.p) || p.r * p.p >= 2 ** 30) throw new KeystoreError(`scrypt r and p must be positive integers, got r=${JSON.stringify(p.r)} p=${JSON.stringify(p.p)}`);
  } else {
    if (!posInt(p.c) || p.c > MAX_PBKDF2_C) throw new KeystoreError(`pbkdf2 c must be a positive integer up to ${MAX_PBKDF2_C}, got ${JSON.stringify(p.c)}`);
    if (p.prf !== "hmac-sha256") throw new KeystoreError(`pbkdf2 prf must be "hmac-sha256", got ${JSON.stringify(p.prf)}`);
  }
  if (c.checksum?.function !== "sha256") throw new KeystoreError(`checksum function must be "sha256", got ${JSON.stringify(c.checksum?.function)}`);
  hexField(c.checksum.message, "crypto.checksum.message", { exact: 32 });
  if (c.cipher?.function !== "aes-128-ctr") throw new KeystoreError(`cipher function must be "aes-128-ctr", got ${JSON.stringify(c.cipher?.function)}`);
  hexField(c.cipher.params?.iv, "crypto.cipher.params.iv", { exact: 16 });
  hexField(c.cipher.message, "crypto.cipher.message", { exact: 32 });
  const pubkey = normalizePubkey(ks.pubkey);
  if (!pubkey) throw new KeystoreError(`has pubkey ${JSON.stringify(ks.pubkey)}; it must be 48 bytes of hex (96 characters)`);
  if (typeof ks.path !== "string") throw new KeystoreError('has no "path" string');
  if (typeof ks.uuid !== "string" || ks.uuid === "") throw new KeystoreError('has no "uuid" string');
  return { keystore: ks as Keystore, pubkey, kdf: kdf.function };
}

function hexField(v: unknown, name: string, len: { exact?: number; min?: number }): void {
  const bad = typeof v !== "string" || !HEX.test(v) || v.length % 2 !== 0
    || (len.exact !== undefined && v.length !== len.exact * 2) || (len.min !== undefined && v.length < len.min * 2);
  if (bad) throw new KeystoreError(`${name} must be ${len.exact !== undefined ? `${len.exact} bytes of` : ""} hex, got ${JSON.stringify(v)}`);
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
    // scrypt needs 128*n*r bytes; the default maxmem (32 MiB) rejects the deposit CLI's n=2^18, r=8 (256 MiB).
    return crypto.scryptSync(pw, salt, dklen, { N: n, r, p, maxmem: 128 * n * r * p + 64 * 1024 * 1024 });
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
