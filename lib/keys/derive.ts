/**
 * Validator key derivation: BIP-39 mnemonics (@scure/bip39), EIP-2333 tree KDF and EIP-2334 paths. Pure.
 * EIP-2333 is written out here because its building blocks are plain HKDF-SHA256 and SHA-256, which Node's own
 * crypto provides natively; the EIP's test vectors are in tests/keys/derive.test.ts.
 */
import * as crypto from "crypto";
import { nativeRequire } from "../nativeRequire";

/** The order of the BLS12-381 G1 subgroup: secret keys live in [1, r). */
export const BLS_CURVE_ORDER = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001n;

type Bip39 = {
  generateMnemonic(wordlist: string[], strength?: number): string;
  validateMnemonic(mnemonic: string, wordlist: string[]): boolean;
  mnemonicToSeedSync(mnemonic: string, passphrase?: string): Uint8Array;
};

let bip39: { lib: Bip39; wordlist: string[] } | undefined;
/** @scure/bip39 is ESM-only (see lib/nativeRequire.ts). */
function loadBip39() {
  if (!bip39) {
    const nodeRequire = nativeRequire(__filename);
    bip39 = {
      lib: nodeRequire("@scure/bip39") as Bip39,
      wordlist: (nodeRequire("@scure/bip39/wordlists/english.js") as { wordlist: string[] }).wordlist,
    };
  }
  return bip39;
}

/** A new 24-word English mnemonic (256 bits of entropy, as the deposit CLI makes). */
export function newMnemonic(): string {
  const { lib, wordlist } = loadBip39();
  return lib.generateMnemonic(wordlist, 256);
}

/** Whitespace-normalised mnemonic; throws with a clear message when the words or the checksum are wrong. */
export function checkMnemonic(text: string): string {
  const mnemonic = text.normalize("NFKD").trim().toLowerCase().split(/\s+/).join(" ");
  const words = mnemonic ? mnemonic.split(" ").length : 0;
  if (![12, 15, 18, 21, 24].includes(words)) {
    throw new Error(`a BIP-39 mnemonic has 12, 15, 18, 21 or 24 words; this one has ${words}`);
  }
  const { lib, wordlist } = loadBip39();
  if (!lib.validateMnemonic(mnemonic, wordlist)) {
    const unknown = mnemonic.split(" ").filter((w) => !wordlist.includes(w));
    throw new Error(unknown.length
      ? `the mnemonic has ${unknown.length} word(s) outside the BIP-39 English list (word ${mnemonic.split(" ").indexOf(unknown[0]) + 1} is not one)`
      : "the mnemonic's checksum does not match: a word is wrong or out of order");
  }
  return mnemonic;
}

/** The 64-byte BIP-39 seed (PBKDF2-HMAC-SHA512, 2048 rounds; the optional passphrase is the "25th word"). */
export function mnemonicToSeed(mnemonic: string, passphrase = ""): Buffer {
  return Buffer.from(loadBip39().lib.mnemonicToSeedSync(checkMnemonic(mnemonic), passphrase));
}

const i2osp = (value: bigint | number, length: number): Buffer => {
  const out = Buffer.alloc(length);
  let v = BigInt(value);
  for (let i = length - 1; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
};
const os2ip = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString("hex") || "0"}`);
const sha256 = (data: Uint8Array): Buffer => crypto.createHash("sha256").update(data).digest();
const hkdf = (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Buffer =>
  Buffer.from(crypto.hkdfSync("sha256", ikm, salt, info, length));

/** EIP-2333 HKDF_mod_r: a secret key in [1, r) from key material. */
function hkdfModR(ikm: Uint8Array, keyInfo: Uint8Array = Buffer.alloc(0)): bigint {
  const L = 48; // ceil((3 * ceil(log2(r))) / 16)
  let salt: Buffer = Buffer.from("BLS-SIG-KEYGEN-SALT-", "ascii");
  let sk = 0n;
  while (sk === 0n) {
    salt = sha256(salt);
    const okm = hkdf(Buffer.concat([ikm, i2osp(0, 1)]), salt, Buffer.concat([keyInfo, i2osp(L, 2)]), L);
    sk = os2ip(okm) % BLS_CURVE_ORDER;
  }
  return sk;
}

/** EIP-2333 parent_SK_to_lamport_PK: the compressed Lamport public key behind a hardened child. */
function parentToLamportPk(parent: bigint, index: number): Buffer {
  const salt = i2osp(index, 4);
  const ikm = i2osp(parent, 32);
  const notIkm = Buffer.from(ikm.map((b) => b ^ 0xff));
  const chunks = (material: Buffer) => {
    const okm = hkdf(material, salt, Buffer.alloc(0), 32 * 255);
    return Array.from({ length: 255 }, (_, i) => sha256(okm.subarray(i * 32, (i + 1) * 32)));
  };
  return sha256(Buffer.concat([...chunks(ikm), ...chunks(notIkm)]));
}

export function deriveMasterSecret(seed: Uint8Array): bigint {
  if (seed.length < 32) throw new Error(`EIP-2333 needs a seed of at least 32 bytes, got ${seed.length}`);
  return hkdfModR(seed);
}

export function deriveChildSecret(parent: bigint, index: number): bigint {
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new Error(`child index ${index} is not a 32-bit unsigned integer`);
  return hkdfModR(parentToLamportPk(parent, index));
}

/** EIP-2334 paths of validator `index`: the signing key and its withdrawal key. */
export function signingKeyPath(index: number): string {
  return `m/12381/3600/${index}/0/0`;
}
export function withdrawalKeyPath(index: number): string {
  return `m/12381/3600/${index}/0`;
}

/** The secret key at an EIP-2334 path such as m/12381/3600/0/0/0, as 32 big-endian bytes. */
export function secretAtPath(seed: Uint8Array, path: string): Buffer {
  const parts = path.split("/");
  if (parts[0] !== "m" || parts.length < 2) throw new Error(`"${path}" is not a key path of the form m/12381/3600/<i>/0/0`);
  let sk = deriveMasterSecret(seed);
  for (const p of parts.slice(1)) {
    if (!/^\d+$/.test(p)) throw new Error(`"${path}" has a path element "${p}" that is not a number`);
    sk = deriveChildSecret(sk, Number(p));
  }
  return i2osp(sk, 32);
}

/**
 * The consensus specs' interop (mock-start) key of validator `i`: sha256 of i as 32 little-endian bytes, read as a
 * little-endian integer, mod r. Test networks use them as their genesis validators.
 */
export function interopSecret(i: number): Buffer {
  const seed = Buffer.alloc(32);
  seed.writeUInt32LE(i, 0);
  const le = crypto.createHash("sha256").update(seed).digest();
  const n = BigInt(`0x${Buffer.from(le).reverse().toString("hex")}`) % BLS_CURVE_ORDER;
  return Buffer.from(n.toString(16).padStart(64, "0"), "hex");
}
