/**
 * Writes EIP-2335 keystores with the parameters the reference deposit tools use (scrypt n=2^18 r=8 p=1, or
 * pbkdf2 c=2^18; aes-128-ctr; sha256 checksum). Reading and checking stays in ./keystore. Pure.
 */
import * as crypto from "crypto";
import { blsPublicKey } from "./bls";
import { Keystore, passwordBytes } from "./keystore";

export type WriterKdf = "scrypt" | "pbkdf2";
export const REFERENCE_KDF_PARAMS = {
  scrypt: { dklen: 32, n: 2 ** 18, r: 8, p: 1 },
  pbkdf2: { dklen: 32, c: 2 ** 18, prf: "hmac-sha256" as const },
};

/** `pbkdf2Rounds` below the reference value is for test networks only (their keystores are written by the thousand). */
export function encryptKeystore(secret: Uint8Array, password: string, path: string, kdf: WriterKdf = "scrypt", opts: { pbkdf2Rounds?: number; description?: string } = {}): Keystore {
  if (secret.length !== 32) throw new Error(`a BLS secret key has 32 bytes, got ${secret.length}`);
  if (passwordBytes(password).length === 0) throw new Error("the keystore password is empty after EIP-2335 processing (control characters are dropped): choose a real password");
  const salt = crypto.randomBytes(32);
  const iv = crypto.randomBytes(16);
  const pw = passwordBytes(password);
  let key: Buffer;
  let kdfModule: Keystore["crypto"]["kdf"];
  if (kdf === "scrypt") {
    const p = REFERENCE_KDF_PARAMS.scrypt;
    key = crypto.scryptSync(pw, salt, p.dklen, { N: p.n, r: p.r, p: p.p, maxmem: 128 * p.n * p.r * p.p + 64 * 1024 * 1024 });
    kdfModule = { function: "scrypt", params: { ...p, salt: salt.toString("hex") }, message: "" };
  } else {
    const p = { ...REFERENCE_KDF_PARAMS.pbkdf2, c: opts.pbkdf2Rounds ?? REFERENCE_KDF_PARAMS.pbkdf2.c };
    key = crypto.pbkdf2Sync(pw, salt, p.c, p.dklen, "sha256");
    kdfModule = { function: "pbkdf2", params: { ...p, salt: salt.toString("hex") }, message: "" };
  }
  const cipher = crypto.createCipheriv("aes-128-ctr", key.subarray(0, 16), iv);
  const cipherText = Buffer.concat([cipher.update(secret), cipher.final()]);
  const checksum = crypto.createHash("sha256").update(key.subarray(16, 32)).update(cipherText).digest();
  return {
    crypto: {
      kdf: kdfModule,
      checksum: { function: "sha256", params: {}, message: checksum.toString("hex") },
      cipher: { function: "aes-128-ctr", params: { iv: iv.toString("hex") }, message: cipherText.toString("hex") },
    },
    description: opts.description ?? "",
    pubkey: blsPublicKey(secret).toString("hex"),
    path,
    uuid: crypto.randomUUID(),
    version: 4,
  };
}
