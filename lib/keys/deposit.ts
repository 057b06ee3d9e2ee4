/**
 * Deposits as the consensus specs define them (phase0 DepositMessage / DepositData, compute_domain,
 * compute_signing_root) and the deposit_data-*.json entries the reference deposit tools write. Pure.
 * The SSZ here is only what these fixed-size containers need: chunks of 32 bytes merkleized with SHA-256.
 */
import * as crypto from "crypto";
import { blsPublicKey, blsSign, blsVerify } from "./bls";

const DOMAIN_DEPOSIT = Buffer.from("03000000", "hex");
export const GWEI_PER_ETH = 1_000_000_000n;
/** Electra: 0x02 credentials may hold up to 2048 ETH; the deposit contract takes at least 1 ETH. */
export const MIN_DEPOSIT_GWEI = 1n * GWEI_PER_ETH;
export const MAX_EFFECTIVE_BALANCE_GWEI = 32n * GWEI_PER_ETH;
export const MAX_EFFECTIVE_BALANCE_ELECTRA_GWEI = 2048n * GWEI_PER_ETH;

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = crypto.createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};

/** Merkle root of 32-byte chunks, padded with zero chunks to the next power of two. */
function merkleize(chunks: Buffer[]): Buffer {
  let layer = [...chunks];
  let width = 1;
  while (width < layer.length) width *= 2;
  while (layer.length < width) layer.push(Buffer.alloc(32));
  while (layer.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < layer.length; i += 2) next.push(sha256(layer[i], layer[i + 1]));
    layer = next;
  }
  return layer[0];
}

/** hash_tree_root of a fixed-size byte vector (Bytes4, Bytes32, Bytes48, Bytes96). */
function bytesRoot(bytes: Uint8Array): Buffer {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 32) {
    const c = Buffer.alloc(32);
    Buffer.from(bytes.subarray(i, i + 32)).copy(c);
    chunks.push(c);
  }
  return merkleize(chunks);
}

function uint64Root(value: bigint): Buffer {
  const c = Buffer.alloc(32);
  c.writeBigUInt64LE(value);
  return c;
}

function hexBytes(hex: string, length: number, what: string): Buffer {
  const h = hex.replace(/^0x/i, "");
  if (h.length !== length * 2 || !/^[0-9a-fA-F]*$/.test(h)) throw new Error(`${what} must be ${length} bytes of hex (${length * 2} characters), got "${hex}"`);
  return Buffer.from(h, "hex");
}

export interface DepositMessage {
  pubkey: Buffer;
  withdrawalCredentials: Buffer;
  amountGwei: bigint;
}

export function depositMessageRoot(m: DepositMessage): Buffer {
  return merkleize([bytesRoot(m.pubkey), m.withdrawalCredentials, uint64Root(m.amountGwei)]);
}

export function depositDataRoot(m: DepositMessage, signature: Buffer): Buffer {
  return merkleize([bytesRoot(m.pubkey), m.withdrawalCredentials, uint64Root(m.amountGwei), bytesRoot(signature)]);
}

/** compute_domain(DOMAIN_DEPOSIT, fork_version, ZERO_HASH): deposits are valid across forks of one network. */
export function depositDomain(forkVersion: Buffer): Buffer {
  const forkDataRoot = merkleize([bytesRoot(forkVersion), Buffer.alloc(32)]);
  return Buffer.concat([DOMAIN_DEPOSIT, forkDataRoot.subarray(0, 28)]);
}

export function signingRoot(objectRoot: Buffer, domain: Buffer): Buffer {
  return merkleize([objectRoot, domain]);
}

export type CredentialsKind = "0x01" | "0x02";

/** 0x01 (execution address) or 0x02 (compounding) credentials for a 20-byte execution address. */
export function executionCredentials(kind: CredentialsKind, address: string): Buffer {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new Error(`the withdrawal address must be 0x followed by 40 hex characters, got "${address}"`);
  return Buffer.concat([Buffer.from(kind.slice(2), "hex"), Buffer.alloc(11), Buffer.from(address.slice(2), "hex")]);
}

/** Checks given credentials: only 0x01 and 0x02 (execution-layer) credentials are made by this tool. */
export function parseCredentials(hex: string): { credentials: Buffer; kind: CredentialsKind } {
  const c = hexBytes(hex, 32, "withdrawal credentials");
  const prefix = c[0];
  if (prefix !== 1 && prefix !== 2) throw new Error(`withdrawal credentials must start with 0x01 or 0x02 (an execution address); 0x${prefix.toString(16).padStart(2, "0")} is not supported`);
  if (!c.subarray(1, 12).equals(Buffer.alloc(11))) throw new Error("withdrawal credentials 0x01/0x02 must have 11 zero bytes between the prefix and the address");
  return { credentials: c, kind: prefix === 1 ? "0x01" : "0x02" };
}

/** The amount rules of the deposit tools: 0x01 deposits exactly 32 ETH, 0x02 from 1 to 2048 ETH in whole gwei. */
export function checkAmount(kind: CredentialsKind, amountGwei: bigint): void {
  if (kind === "0x01" && amountGwei !== MAX_EFFECTIVE_BALANCE_GWEI) {
    throw new Error(`0x01 credentials take a deposit of exactly 32 ETH (32000000000 gwei); got ${amountGwei} gwei. Use 0x02 (compounding) credentials for other amounts`);
  }
  if (amountGwei < MIN_DEPOSIT_GWEI || amountGwei > MAX_EFFECTIVE_BALANCE_ELECTRA_GWEI) {
    throw new Error(`the deposit amount must be between 1 ETH and 2048 ETH (1000000000 to 2048000000000 gwei); got ${amountGwei} gwei`);
  }
}

/** One entry of deposit_data-<time>.json, field for field as the reference deposit CLI writes it. */
export interface DepositDataJson {
  pubkey: string;
  withdrawal_credentials: string;
  amount: number;
  signature: string;
  deposit_message_root: string;
  deposit_data_root: string;
  fork_version: string;
  network_name: string;
  deposit_cli_version: string;
}

/** The version string written into deposit_cli_version: which tool made the entry, not a deposit CLI release. */
export const DEPOSIT_TOOL_VERSION = "pulumi-ephemery-1";

export function makeDeposit(
  secret: Uint8Array,
  withdrawalCredentials: Buffer,
  amountGwei: bigint,
  forkVersionHex: string,
  networkName: string,
): DepositDataJson {
  const forkVersion = hexBytes(forkVersionHex, 4, "the fork version");
  const message: DepositMessage = { pubkey: blsPublicKey(secret), withdrawalCredentials, amountGwei };
  const messageRoot = depositMessageRoot(message);
  const signature = blsSign(secret, signingRoot(messageRoot, depositDomain(forkVersion)));
  return {
    pubkey: message.pubkey.toString("hex"),
    withdrawal_credentials: withdrawalCredentials.toString("hex"),
    amount: Number(amountGwei),
    signature: signature.toString("hex"),
    deposit_message_root: messageRoot.toString("hex"),
    deposit_data_root: depositDataRoot(message, signature).toString("hex"),
    fork_version: forkVersion.toString("hex"),
    network_name: networkName,
    deposit_cli_version: DEPOSIT_TOOL_VERSION,
  };
}

/** Re-derives both roots and checks the signature against the deposit domain of `forkVersionHex`. */
export function verifyDeposit(d: DepositDataJson, forkVersionHex: string): string[] {
  const problems: string[] = [];
  let message: DepositMessage;
  let signature: Buffer;
  try {
    message = {
      pubkey: hexBytes(d.pubkey, 48, "pubkey"),
      withdrawalCredentials: hexBytes(d.withdrawal_credentials, 32, "withdrawal_credentials"),
      amountGwei: BigInt(d.amount),
    };
    signature = hexBytes(d.signature, 96, "signature");
  } catch (e) {
    return [(e as Error).message];
  }
  const forkVersion = hexBytes(forkVersionHex, 4, "the fork version");
  const messageRoot = depositMessageRoot(message);
  if (messageRoot.toString("hex") !== d.deposit_message_root.replace(/^0x/, "")) problems.push("deposit_message_root does not match the SSZ hash tree root of the deposit message");
  if (depositDataRoot(message, signature).toString("hex") !== d.deposit_data_root.replace(/^0x/, "")) problems.push("deposit_data_root does not match the SSZ hash tree root of the deposit data");
  if (d.fork_version.replace(/^0x/, "") !== forkVersion.toString("hex")) problems.push(`fork_version is ${d.fork_version}, the network's is ${forkVersionHex}`);
  if (!blsVerify(message.pubkey, signingRoot(messageRoot, depositDomain(forkVersion)), signature)) problems.push("the signature does not verify against the network's deposit domain");
  return problems;
}

/** One line of ephemery-genesis validators/<name>.txt: `0x<pubkey>:0x<withdrawal credentials>:<amount in gwei>`. */
export function genesisValidatorLine(d: Pick<DepositDataJson, "pubkey" | "withdrawal_credentials" | "amount">): string {
  return `0x${d.pubkey}:0x${d.withdrawal_credentials}:${d.amount}`;
}

/** GENESIS_FORK_VERSION from a consensus config.yaml, read as data (a `KEY: value` line, hex quoted or not). */
export function genesisForkVersionOf(configYaml: string): string {
  const m = /^GENESIS_FORK_VERSION:[ \t]*["']?(0x[0-9a-fA-F]{8})["']?[ \t]*(#.*)?$/m.exec(configYaml);
  if (!m) throw new Error("the network config has no GENESIS_FORK_VERSION line of the form `GENESIS_FORK_VERSION: 0x<8 hex>`");
  return m[1].toLowerCase();
}

/** `KEY: value` of a consensus config.yaml (DEPOSIT_CONTRACT_ADDRESS, DEPOSIT_CHAIN_ID), read as data. */
export function networkConfigValue(configYaml: string, key: string): string | undefined {
  return new RegExp(`^${key}:[ \\t]*["']?([0-9A-Za-zx]+)["']?[ \\t]*(#.*)?$`, "m").exec(configYaml)?.[1];
}
