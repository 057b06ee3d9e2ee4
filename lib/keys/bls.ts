/**
 * BLS12-381 as Ethereum uses it (min-pubkey-size: 48-byte G1 public keys, 96-byte G2 signatures, the
 * proof-of-possession ciphersuite) with @noble/curves, an ESM-only package loaded with Node's own require.
 */
import { nativeRequire } from "../nativeRequire";

/** Ethereum's proof-of-possession ciphersuite for signatures in G2. */
const SIGNATURE_DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

type NobleG2 = { toBytes(compressed?: boolean): Uint8Array };
type NobleBls = {
  longSignatures: {
    getPublicKey(secret: Uint8Array): { toBytes(compressed?: boolean): Uint8Array };
    hash(msg: Uint8Array, dst: string): NobleG2;
    sign(hashed: NobleG2, secret: Uint8Array): NobleG2;
    verify(signature: Uint8Array, hashed: NobleG2, pubkey: Uint8Array): boolean;
  };
};

let cached: NobleBls | undefined;
function bls(): NobleBls {
  if (!cached) {
    cached = (nativeRequire(__filename)("@noble/curves/bls12-381.js") as { bls12_381: NobleBls }).bls12_381;
  }
  return cached;
}

function checkSecret(secret: Uint8Array): void {
  if (secret.length !== 32) throw new Error(`a BLS secret key has 32 bytes, got ${secret.length}`);
}

/** The compressed 48-byte public key of a 32-byte secret key. */
export function blsPublicKey(secret: Uint8Array): Buffer {
  checkSecret(secret);
  return Buffer.from(bls().longSignatures.getPublicKey(secret).toBytes(true));
}

/** The compressed 48-byte public key of a 32-byte secret key, as lower-case hex without 0x. */
export function publicKeyHex(secret: Uint8Array): string {
  return blsPublicKey(secret).toString("hex");
}

export function blsSign(secret: Uint8Array, message: Uint8Array): Buffer {
  checkSecret(secret);
  const b = bls().longSignatures;
  return Buffer.from(b.sign(b.hash(message, SIGNATURE_DST), secret).toBytes(true));
}

/** False for a wrong signature and for bytes that are not points on the curve. */
export function blsVerify(pubkey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const b = bls().longSignatures;
  try {
    return b.verify(signature, b.hash(message, SIGNATURE_DST), pubkey);
  } catch {
    return false;
  }
}
