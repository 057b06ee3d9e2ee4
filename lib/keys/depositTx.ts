/**
 * Deposits sent to the deposit contract: the calldata of deposit(bytes,bytes,bytes,bytes32), a signed EIP-1559
 * transaction per deposit through a node's JSON-RPC, and a check of the receipt's DepositEvent. The contract itself
 * recomputes deposit_data_root and reverts when it differs, so an included deposit proves the root.
 */
import { DepositDataJson, GWEI_PER_ETH } from "./deposit";
import { addressOf, keccak256, signEip1559 } from "../execution/transaction";
import { hexQuantity, jsonRpc, RpcError } from "../execution/jsonRpc";

export const DEPOSIT_SELECTOR = keccak256(Buffer.from("deposit(bytes,bytes,bytes,bytes32)")).subarray(0, 4);
const DEPOSIT_EVENT_TOPIC = `0x${keccak256(Buffer.from("DepositEvent(bytes,bytes,bytes,bytes,bytes)")).toString("hex")}`;

const word = (n: number) => { const b = Buffer.alloc(32); b.writeUInt32BE(n, 28); return b; };
const padded = (b: Buffer) => Buffer.concat([b, Buffer.alloc((32 - (b.length % 32)) % 32)]);

/** ABI encoding of deposit(pubkey, withdrawal_credentials, signature, deposit_data_root). */
export function depositCalldata(d: Pick<DepositDataJson, "pubkey" | "withdrawal_credentials" | "signature" | "deposit_data_root">): Buffer {
  const dyn = [d.pubkey, d.withdrawal_credentials, d.signature].map((h) => Buffer.from(h.replace(/^0x/, ""), "hex"));
  const blocks = dyn.map((b) => Buffer.concat([word(b.length), padded(b)]));
  let offset = 4 * 32;
  const head: Buffer[] = [];
  for (const b of blocks) { head.push(word(offset)); offset += b.length; }
  head.push(Buffer.from(d.deposit_data_root.replace(/^0x/, ""), "hex"));
  return Buffer.concat([DEPOSIT_SELECTOR, ...head, ...blocks]);
}

export interface DepositReceipt {
  pubkey: string;
  txHash: string;
  block: number;
  gasUsed: number;
}

export interface SendDepositsOptions {
  rpcUrl: string;
  depositContract: string;
  /** The chain the deposits are for (DEPOSIT_CHAIN_ID); a node on another chain is refused. */
  chainId: bigint;
  fundingKey: Buffer;
  deposits: DepositDataJson[];
  /** How long to wait for each inclusion. */
  receiptTimeoutMs?: number;
  pollMs?: number;
  onProgress?: (line: string) => void;
  /**
   * Called with each signed transaction before it is sent; a rejection stops before sending. Lets a caller
   * record its intent (hash, nonce, raw bytes) first, so a crash after the send cannot lead to a second deposit.
   */
  beforeSend?: (deposit: DepositDataJson, tx: SignedDeposit) => void | Promise<void>;
}

export interface SignedDeposit {
  hash: string;
  raw: string;
  nonce: bigint;
  from: string;
}

/** Sends each deposit in turn and waits for its inclusion; stops at the first failure (what was sent is returned). */
export async function sendDeposits(o: SendDepositsOptions): Promise<DepositReceipt[]> {
  if (!/^0x[0-9a-fA-F]{40}$/.test(o.depositContract)) throw new Error(`the deposit contract must be a 20-byte address, got "${o.depositContract}"`);
  const rpc = jsonRpc(o.rpcUrl);
  const chainId = hexQuantity(await rpc("eth_chainId"), "eth_chainId");
  if (chainId !== o.chainId) throw new Error(`the node at ${o.rpcUrl} is on chain ${chainId}, the deposits are for chain ${o.chainId}: nothing was sent`);
  const code = await rpc<string>("eth_getCode", [o.depositContract, "latest"]);
  if (typeof code !== "string" || code.length <= 2) throw new Error(`no contract at ${o.depositContract} on chain ${chainId}: check the deposit contract address of the release`);
  const from = addressOf(o.fundingKey);
  let nonce = hexQuantity(await rpc("eth_getTransactionCount", [from, "pending"]), "eth_getTransactionCount");
  const done: DepositReceipt[] = [];
  for (const d of o.deposits) {
    const data = depositCalldata(d);
    const valueWei = BigInt(d.amount) * GWEI_PER_ETH;
    const gas = hexQuantity(await rpc("eth_estimateGas", [{ from, to: o.depositContract, value: `0x${valueWei.toString(16)}`, data: `0x${data.toString("hex")}` }]), "eth_estimateGas");
    const block = await rpc<{ baseFeePerGas?: string }>("eth_getBlockByNumber", ["latest", false]);
    const baseFee = hexQuantity(block?.baseFeePerGas ?? "0x0", "baseFeePerGas");
    const tip = hexQuantity(await rpc("eth_maxPriorityFeePerGas"), "eth_maxPriorityFeePerGas");
    const tx = signEip1559({
      chainId, nonce, maxPriorityFeePerGas: tip, maxFeePerGas: baseFee * 2n + tip, gasLimit: (gas * 12n) / 10n,
      to: o.depositContract, valueWei, data,
    }, o.fundingKey);
    await o.beforeSend?.(d, { hash: tx.hash, raw: tx.raw, nonce, from });
    const sent = await rpc<string>("eth_sendRawTransaction", [tx.raw]);
    if (sent?.toLowerCase() !== tx.hash) throw new RpcError(`the node named transaction ${String(sent).slice(0, 80)}, expected ${tx.hash}`);
    o.onProgress?.(`0x${d.pubkey.slice(0, 12)}…: sent ${tx.hash}, waiting for inclusion`);
    const receipt = await waitForReceipt(rpc, tx.hash, o.receiptTimeoutMs ?? 180_000, o.pollMs ?? 1000);
    done.push(checkDepositReceipt(receipt, o.depositContract, d.pubkey, tx.hash));
    nonce += 1n;
  }
  return done;
}

export interface Receipt { status: string; blockNumber: string; gasUsed: string; logs?: { address?: string; topics?: string[]; data?: string }[] }

/** A receipt that proves the deposit: status 1 and the contract's DepositEvent naming the pubkey. */
export function checkDepositReceipt(receipt: Receipt, depositContract: string, pubkey: string, txHash: string): DepositReceipt {
  if (hexQuantity(receipt.status, "receipt status") !== 1n) throw new Error(`deposit for 0x${pubkey} reverted in ${txHash}: the contract refused it (wrong deposit_data_root or amount?)`);
  const event = (receipt.logs ?? []).find((l) => l.address?.toLowerCase() === depositContract.toLowerCase() && l.topics?.[0] === DEPOSIT_EVENT_TOPIC);
  if (!event || !String(event.data).toLowerCase().includes(pubkey.toLowerCase())) throw new Error(`transaction ${txHash} succeeded but logged no DepositEvent for 0x${pubkey}`);
  return { pubkey, txHash, block: Number(hexQuantity(receipt.blockNumber, "blockNumber")), gasUsed: Number(hexQuantity(receipt.gasUsed, "gasUsed")) };
}

/**
 * A transaction's receipt, or null while the node has none. geth answers an unknown hash with an error, not null,
 * until its transaction indexer has caught up (TxIndexingError, internal/ethapi/errors.go, go-ethereum v1.16.7):
 * on a chain minutes old, as after every reset, that is "not known yet".
 */
export async function receiptOf(rpc: ReturnType<typeof jsonRpc>, hash: string): Promise<Receipt | null> {
  try {
    return await rpc<Receipt | null>("eth_getTransactionReceipt", [hash]);
  } catch (e) {
    if (e instanceof RpcError && /transaction indexing is in progress/.test(e.message)) return null;
    throw e;
  }
}

/** Polls for a transaction's receipt until timeoutMs; the error says the transaction may still be included. */
export async function waitForReceipt(rpc: ReturnType<typeof jsonRpc>, hash: string, timeoutMs: number, pollMs: number): Promise<Receipt> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await receiptOf(rpc, hash);
    if (r) return r;
    if (Date.now() > deadline) throw new Error(`transaction ${hash} was not included within ${Math.round(timeoutMs / 1000)} s; it may still be: check it before sending again`);
    await new Promise((res) => setTimeout(res, pollMs));
  }
}
