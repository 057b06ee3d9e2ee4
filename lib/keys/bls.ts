/**
 * BLS12-381 public keys (Ethereum's min-pubkey-size variant: 48-byte G1 public keys) with @noble/curves.
 * @noble/curves is ESM-only: load it with Node's own require (Node >= 20.19 loads ESM synchronously), which
 * also works under jest, whose module system cannot load ESM packages.
 */
import { createRequire } from "module";

type NobleBls = { longSignatures: { getPublicKey(secret: Uint8Array): { toBytes(compressed?: boolean): Uint8Array } } };

let cached: NobleBls | undefined;
function bls(): NobleBls {
  if (!cached) {
    const nodeRequire = createRequire(__filename);
    cached = (nodeRequire("@noble/curves/bls12-381.js") as { bls12_381: NobleBls }).bls12_381;
  }
  return cached;
}

/** The compressed 48-byte public key of a 32-byte secret key, as lower-case hex without 0x. */
export function publicKeyHex(secret: Uint8Array): string {
  if (secret.length !== 32) throw new Error(`a BLS secret key has 32 bytes, got ${secret.length}`);
  return Buffer.from(bls().longSignatures.getPublicKey(secret).toBytes(true)).toString("hex");
}
