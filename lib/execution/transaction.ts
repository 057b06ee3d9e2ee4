/**
 * Execution-layer transactions signed on the workstation: RLP, EIP-1559 (type 2) signing with secp256k1 and
 * keccak-256 from @noble (ESM-only, loaded with Node's own require). Pure.
 */
import { nativeRequire } from "../nativeRequire";

type Noble = {
  secp256k1: {
    sign(hash: Uint8Array, secret: Uint8Array, opts: { prehash: boolean; format: "recovered" }): Uint8Array;
    getPublicKey(secret: Uint8Array, compressed: boolean): Uint8Array;
  };
  keccak256: (data: Uint8Array) => Uint8Array;
};
let noble: Noble | undefined;
function lib(): Noble {
  if (!noble) {
    const req = nativeRequire(__filename);
    noble = {
      secp256k1: (req("@noble/curves/secp256k1.js") as { secp256k1: Noble["secp256k1"] }).secp256k1,
      keccak256: (req("@noble/hashes/sha3.js") as { keccak_256: Noble["keccak256"] }).keccak_256,
    };
  }
  return noble;
}

export function keccak256(data: Uint8Array): Buffer {
  return Buffer.from(lib().keccak256(data));
}

type RlpItem = Buffer | RlpItem[];

function lengthPrefix(len: number, offset: number): Buffer {
  if (len < 56) return Buffer.from([offset + len]);
  const hex = len.toString(16);
  const lenBytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex");
  return Buffer.concat([Buffer.from([offset + 55 + lenBytes.length]), lenBytes]);
}

export function rlpEncode(item: RlpItem): Buffer {
  if (Buffer.isBuffer(item)) {
    if (item.length === 1 && item[0] < 0x80) return item;
    return Buffer.concat([lengthPrefix(item.length, 0x80), item]);
  }
  const body = Buffer.concat(item.map(rlpEncode));
  return Buffer.concat([lengthPrefix(body.length, 0xc0), body]);
}

/** A non-negative integer as RLP wants it: big-endian without leading zeros (zero is the empty string). */
export function quantity(value: bigint): Buffer {
  if (value < 0n) throw new Error(`a transaction field cannot be negative (${value})`);
  if (value === 0n) return Buffer.alloc(0);
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex");
}

export function addressOf(secret: Uint8Array): string {
  const pub = lib().secp256k1.getPublicKey(secret, false);
  return `0x${keccak256(pub.subarray(1)).subarray(12).toString("hex")}`;
}

export interface Eip1559Tx {
  chainId: bigint;
  nonce: bigint;
  maxPriorityFeePerGas: bigint;
  maxFeePerGas: bigint;
  gasLimit: bigint;
  to: string;
  valueWei: bigint;
  data: Buffer;
}

/** The signed raw transaction (0x02 || rlp(...)) and its hash. */
export function signEip1559(tx: Eip1559Tx, secret: Uint8Array): { raw: string; hash: string } {
  if (!/^0x[0-9a-fA-F]{40}$/.test(tx.to)) throw new Error(`transaction recipient must be a 20-byte address, got "${tx.to}"`);
  const fields: RlpItem[] = [
    quantity(tx.chainId), quantity(tx.nonce), quantity(tx.maxPriorityFeePerGas), quantity(tx.maxFeePerGas),
    quantity(tx.gasLimit), Buffer.from(tx.to.slice(2), "hex"), quantity(tx.valueWei), tx.data, [],
  ];
  const digest = keccak256(Buffer.concat([Buffer.from([2]), rlpEncode(fields)]));
  const sig = lib().secp256k1.sign(digest, secret, { prehash: false, format: "recovered" });
  const [v, r, s] = [BigInt(sig[0]), BigInt(`0x${Buffer.from(sig.subarray(1, 33)).toString("hex")}`), BigInt(`0x${Buffer.from(sig.subarray(33, 65)).toString("hex")}`)];
  const raw = Buffer.concat([Buffer.from([2]), rlpEncode([...fields, quantity(v), quantity(r), quantity(s)])]);
  return { raw: `0x${raw.toString("hex")}`, hash: `0x${keccak256(raw).toString("hex")}` };
}
