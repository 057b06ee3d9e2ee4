/**
 * The host-side re-deposit step: after a reset, the validators of this host that the new chain does not know are
 * deposited again, signed for the new iteration's GENESIS_FORK_VERSION and paid from the host's funding key.
 * Shipped to hosts as one bundled file (lib/bundle.ts) and run by ephemery-reset once the switch is verified.
 *
 * Never twice per iteration: before a transaction is sent, its hash, nonce and raw bytes are written atomically
 * to the iteration's record. A later run looks the recorded transaction up on the chain, re-broadcasts the same
 * bytes when the node does not know it (the same hash: it can be included once at most), and signs a new one
 * only for keys with nothing recorded. Everything read from the network, the release or the volume is data.
 */
import * as fs from "fs";
import * as path from "path";
import { addressOf } from "../execution/transaction";
import { hexQuantity, jsonRpc } from "../execution/jsonRpc";
import { genesisForkVersionOf, makeDeposit, networkConfigValue, parseCredentials, verifyDeposit } from "./deposit";
import { checkDepositReceipt, receiptOf, sendDeposits, waitForReceipt } from "./depositTx";
import { validatorState } from "./exit";
import { decryptKeystore, normalizePubkey, parseKeystore } from "./keystore";
import { KEY_FILES, SET_CLIENT_FILE, SET_PUBKEYS_FILE } from "./setFiles";

/** What the program is run with (a JSON argument rendered by the Pulumi program; it holds no secret). */
export interface RedepositSettings {
  node: string;
  iteration: number;
  /** The verified release of the iteration (config.yaml: fork version, deposit contract, chain id). */
  releaseDir: string;
  /** The installed key set (validator-keys/current). */
  keysDir: string;
  /** The funding key: one 32-byte hex private key, 0600. */
  fundingKeyFile: string;
  /** Where the per-iteration records live. */
  recordDir: string;
  textfileDir: string;
  rpcUrl: string;
  beaconUrl: string;
  withdrawalCredentials: string;
  amountGwei: string;
  dryRun: boolean;
  /** At most this many deposits per iteration (a bound on what a wrong setting can spend). */
  maxDeposits: number;
  receiptTimeoutSec: number;
}

export type RecordEntry =
  | { state: "intent"; txHash: string; nonce: string; from: string; raw: string; at: number }
  | { state: "included"; txHash: string; block: number; at: number };

export interface RedepositRecord {
  version: 1;
  iteration: number;
  complete: boolean;
  /** How many of the host's keys the new chain knew without a deposit, at the last run that looked. */
  inChain?: number;
  deposits: Record<string, RecordEntry>;
}

/** Files read from the volume or the release are bounded before they are parsed. */
const MAX_FILE_BYTES = { config: 1024 * 1024, keystore: 64 * 1024, password: 4096, pubkeys: 1024 * 1024, record: 16 * 1024 * 1024, fundingKey: 200 };

export const recordPath = (recordDir: string, iteration: number) => path.join(recordDir, `iteration-${iteration}.json`);
export const METRICS_FILE = "ephemery-redeposit.prom";

export function emptyRecord(iteration: number): RedepositRecord {
  return { version: 1, iteration, complete: false, deposits: {} };
}

/** A record read back; anything malformed is an error (a run must never guess that nothing was sent). */
export function parseRecord(text: string, iteration: number): RedepositRecord {
  const r = JSON.parse(text) as RedepositRecord;
  const ok = r && r.version === 1 && r.iteration === iteration && typeof r.complete === "boolean" && r.deposits && typeof r.deposits === "object"
    && (r.inChain === undefined || (Number.isSafeInteger(r.inChain) && r.inChain >= 0))
    && Object.entries(r.deposits).every(([pk, e]) => /^[0-9a-f]{96}$/.test(pk) && /^0x[0-9a-f]{64}$/.test(e?.txHash)
      && (e.state === "included" || (e.state === "intent" && /^\d{1,20}$/.test(e.nonce) && /^0x[0-9a-f]+$/.test(e.raw) && /^0x[0-9a-f]{40}$/.test(e.from))));
  if (!ok) throw new Error(`the re-deposit record of iteration ${iteration} is not one this program wrote; move it away only after checking the chain for its transactions`);
  return r;
}

export interface RedepositPlan {
  /** Recorded as sent but not yet seen included: looked up (and re-broadcast), never signed again. */
  resume: string[];
  /** Unknown to the beacon node and not recorded: to be deposited now. */
  send: string[];
  /** Unknown and not recorded, but over maxDeposits. */
  overLimit: string[];
}

/** Which keys to resume, send or hold back, given the record and the keys the new chain already knows. */
export function planRedeposit(pubkeys: string[], record: RedepositRecord, inChain: Set<string>, maxDeposits: number): RedepositPlan {
  const resume = pubkeys.filter((pk) => record.deposits[pk]?.state === "intent");
  const candidates = pubkeys.filter((pk) => !record.deposits[pk] && !inChain.has(pk));
  const room = Math.max(0, maxDeposits - Object.keys(record.deposits).length);
  return { resume, send: candidates.slice(0, room), overLimit: candidates.slice(room) };
}

/** The Prometheus textfile of one run. */
export function metricsText(s: { iteration: number; record: RedepositRecord; inChain: number; toSend: number; dryRun: boolean; ok: boolean; nowSec: number }): string {
  const entries = Object.values(s.record.deposits);
  const count = (state: RecordEntry["state"]) => entries.filter((e) => e.state === state).length;
  return [
    "# HELP ephemery_redeposit_iteration The iteration the last re-deposit run was for.",
    "# TYPE ephemery_redeposit_iteration gauge",
    `ephemery_redeposit_iteration ${s.iteration}`,
    "# HELP ephemery_redeposit_keys This host's validator keys by re-deposit state (in_chain: known to the new chain without one).",
    "# TYPE ephemery_redeposit_keys gauge",
    `ephemery_redeposit_keys{state="in_chain"} ${s.inChain}`,
    `ephemery_redeposit_keys{state="included"} ${count("included")}`,
    `ephemery_redeposit_keys{state="pending"} ${count("intent")}`,
    `ephemery_redeposit_keys{state="to_send"} ${s.toSend}`,
    "# HELP ephemery_redeposit_complete 1 when every key of this host is in the new chain or deposited for it.",
    "# TYPE ephemery_redeposit_complete gauge",
    `ephemery_redeposit_complete ${s.record.complete ? 1 : 0}`,
    "# HELP ephemery_redeposit_dry_run 1 when re-deposit is in dry-run mode (nothing is sent).",
    "# TYPE ephemery_redeposit_dry_run gauge",
    `ephemery_redeposit_dry_run ${s.dryRun ? 1 : 0}`,
    "# HELP ephemery_redeposit_last_run_success 1 when the last re-deposit run finished without an error.",
    "# TYPE ephemery_redeposit_last_run_success gauge",
    `ephemery_redeposit_last_run_success ${s.ok ? 1 : 0}`,
    "# HELP ephemery_redeposit_last_run_timestamp_seconds When the last re-deposit run ended.",
    "# TYPE ephemery_redeposit_last_run_timestamp_seconds gauge",
    `ephemery_redeposit_last_run_timestamp_seconds ${s.nowSec}`,
    "",
  ].join("\n");
}

function readBoundedFile(file: string, maxBytes: number, what: string): string {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st?.isFile()) throw new Error(`${what} ${file} is missing`);
  if (st.size > maxBytes) throw new Error(`${what} ${file} is ${st.size} bytes, more than the ${maxBytes} it may be`);
  return fs.readFileSync(file, "utf8");
}

/** Written to a temporary file, flushed, then renamed over: a crash leaves the old record or the new one. */
export function writeAtomic(file: string, content: string, mode = 0o600): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, "w", mode);
  try {
    fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dir = fs.openSync(path.dirname(file), "r");
  try { fs.fsyncSync(dir); } finally { fs.closeSync(dir); }
}

/** The funding key file: refused unless it is the owner's alone, so a loose copy is noticed, not used. */
export function readFundingKeyFile(file: string): Buffer {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st?.isFile()) throw new Error(`the funding key file ${file} is missing: set ephemery:depositFundingKeys.<host> (a secret) and run pulumi up`);
  if ((st.mode & 0o077) !== 0) throw new Error(`the funding key file ${file} has mode ${(st.mode & 0o777).toString(8)}; it must be 0600 (chmod 600 it, or run pulumi up to rewrite it)`);
  const hex = readBoundedFile(file, MAX_FILE_BYTES.fundingKey, "the funding key file").trim().replace(/^0x/, "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`the funding key file ${file} does not hold a 32-byte hex private key`);
  return Buffer.from(hex, "hex");
}

interface NetworkFacts { forkVersion: string; depositContract: string; chainId: bigint }

export function networkFacts(configYaml: string): NetworkFacts {
  const depositContract = networkConfigValue(configYaml, "DEPOSIT_CONTRACT_ADDRESS");
  const chainId = networkConfigValue(configYaml, "DEPOSIT_CHAIN_ID");
  if (!depositContract || !/^0x[0-9a-fA-F]{40}$/.test(depositContract)) throw new Error("the release's config.yaml has no DEPOSIT_CONTRACT_ADDRESS of 20 bytes");
  if (!chainId || !/^\d{1,19}$/.test(chainId)) throw new Error("the release's config.yaml has no whole-number DEPOSIT_CHAIN_ID");
  return { forkVersion: genesisForkVersionOf(configYaml), depositContract, chainId: BigInt(chainId) };
}

function readKeySet(keysDir: string): { client: keyof typeof KEY_FILES; pubkeys: string[] } {
  const client = readBoundedFile(path.join(keysDir, SET_CLIENT_FILE), 64, "the key set's client file").trim();
  if (!(client in KEY_FILES)) throw new Error(`${path.join(keysDir, SET_CLIENT_FILE)} names "${client.slice(0, 40)}", not a validator client`);
  const lines = readBoundedFile(path.join(keysDir, SET_PUBKEYS_FILE), MAX_FILE_BYTES.pubkeys, "the key set's pubkey list").split("\n").map((l) => l.trim()).filter(Boolean);
  const pubkeys = lines.map((l) => {
    const pk = normalizePubkey(l);
    if (!pk) throw new Error(`${path.join(keysDir, SET_PUBKEYS_FILE)} holds "${l.slice(0, 100)}", not a 48-byte pubkey`);
    return pk;
  });
  return { client: client as keyof typeof KEY_FILES, pubkeys };
}

function signingKeyOf(keysDir: string, client: keyof typeof KEY_FILES, pubkey: string): Buffer {
  const files = KEY_FILES[client](pubkey);
  const { keystore, pubkey: ksPubkey } = parseKeystore(readBoundedFile(path.join(keysDir, files.keystore), MAX_FILE_BYTES.keystore, "the keystore"));
  if (ksPubkey !== pubkey) throw new Error(`${files.keystore} holds the key 0x${ksPubkey}, not 0x${pubkey}`);
  const password = readBoundedFile(path.join(keysDir, files.password), MAX_FILE_BYTES.password, "the keystore password");
  const secret = decryptKeystore(keystore, password) ?? decryptKeystore(keystore, password.replace(/\r?\n$/, ""));
  if (!secret) throw new Error(`the password in ${files.password} does not decrypt ${files.keystore}`);
  return secret;
}

type Rpc = ReturnType<typeof jsonRpc>;

/**
 * A recorded transaction brought to an end: its receipt when the chain has it; else the same bytes again (they
 * have one hash and one nonce, so at most one inclusion) and a bounded wait. Throws while it may still land.
 */
async function resumeIntent(rpc: Rpc, contract: string, pubkey: string, e: Extract<RecordEntry, { state: "intent" }>, timeoutMs: number, log: (l: string) => void): Promise<RecordEntry> {
  let receipt = await receiptOf(rpc, e.txHash);
  if (!receipt) {
    try {
      await rpc("eth_sendRawTransaction", [e.raw]);
      log(`0x${pubkey.slice(0, 12)}…: recorded transaction ${e.txHash} was not on the chain; re-broadcast the same signed bytes`);
    } catch (err) {
      log(`0x${pubkey.slice(0, 12)}…: re-broadcast of ${e.txHash}: ${(err as Error).message.slice(0, 200)}`);
    }
    try {
      receipt = await waitForReceipt(rpc, e.txHash, timeoutMs, 1000);
    } catch (err) {
      const used = hexQuantity(await rpc("eth_getTransactionCount", [e.from, "latest"]), "eth_getTransactionCount") > BigInt(e.nonce);
      if (used && !(await receiptOf(rpc, e.txHash))) {
        throw new Error(`nonce ${e.nonce} of ${e.from} was taken by another transaction, so the recorded deposit ${e.txHash} for 0x${pubkey} can never be included; after checking, remove its entry from the iteration's record to deposit it again`);
      }
      throw err;
    }
  }
  const r = checkDepositReceipt(receipt, contract, pubkey, e.txHash);
  log(`0x${pubkey.slice(0, 12)}…: deposit ${e.txHash} included in block ${r.block}`);
  return { state: "included", txHash: e.txHash, block: r.block, at: Math.floor(Date.now() / 1000) };
}

export async function runRedeposit(s: RedepositSettings, log: (line: string) => void): Promise<RedepositRecord> {
  const file = recordPath(s.recordDir, s.iteration);
  const record = fs.existsSync(file) ? parseRecord(readBoundedFile(file, MAX_FILE_BYTES.record, "the re-deposit record"), s.iteration) : emptyRecord(s.iteration);
  let inChainCount = 0;
  let toSend = 0;
  let ok = false;
  const save = () => { if (!s.dryRun) writeAtomic(file, `${JSON.stringify(record, null, 1)}\n`); };
  try {
    if (record.complete) {
      // The gauges keep saying what the run that finished found.
      inChainCount = record.inChain ?? 0;
      log(`iteration ${s.iteration}: re-deposit already done (${file}); nothing to send`);
      ok = true;
      return record;
    }
    const net = networkFacts(readBoundedFile(path.join(s.releaseDir, "config.yaml"), MAX_FILE_BYTES.config, "the release's config.yaml"));
    const { credentials, kind } = parseCredentials(s.withdrawalCredentials);
    const { client, pubkeys } = readKeySet(s.keysDir);
    const rpc = jsonRpc(s.rpcUrl);
    const timeoutMs = s.receiptTimeoutSec * 1000;
    for (const pk of pubkeys) {
      const e = record.deposits[pk];
      if (e?.state !== "intent") continue;
      if (s.dryRun) { log(`dry run: would look up (and re-broadcast if unknown) the recorded deposit ${e.txHash} for 0x${pk}`); continue; }
      record.deposits[pk] = await resumeIntent(rpc, net.depositContract, pk, e, timeoutMs, log);
      save();
    }
    const inChain = new Set<string>();
    for (const pk of pubkeys) {
      if (record.deposits[pk]) continue;
      const state = await validatorState(s.beaconUrl, pk);
      if (state) inChain.add(pk);
    }
    inChainCount = inChain.size;
    record.inChain = inChain.size;
    const plan = planRedeposit(pubkeys, record, inChain, s.maxDeposits);
    toSend = plan.send.length;
    log(`iteration ${s.iteration}: ${pubkeys.length} key(s); ${inChain.size} known to the new chain, ${Object.keys(record.deposits).length} deposited, ${plan.send.length} to deposit${plan.overLimit.length ? `, ${plan.overLimit.length} over maxDeposits ${s.maxDeposits} (not sent)` : ""}`);
    if (plan.send.length === 0 && plan.overLimit.length === 0) {
      record.complete = true;
      save();
      ok = true;
      return record;
    }
    if (s.dryRun) {
      const from = fs.existsSync(s.fundingKeyFile) ? addressOf(readFundingKeyFile(s.fundingKeyFile)) : "(no funding key on the host yet)";
      for (const pk of plan.send) log(`dry run: would deposit ${s.amountGwei} gwei for 0x${pk} (${kind} credentials 0x${credentials.toString("hex")}) to ${net.depositContract} on chain ${net.chainId}, paid by ${from}`);
      ok = true;
      return record;
    }
    const fundingKey = readFundingKeyFile(s.fundingKeyFile);
    for (const pk of plan.send) {
      const deposit = makeDeposit(signingKeyOf(s.keysDir, client, pk), credentials, BigInt(s.amountGwei), net.forkVersion, `ephemery-${s.iteration}`);
      const problems = verifyDeposit(deposit, net.forkVersion);
      if (problems.length) throw new Error(`the deposit for 0x${pk} does not verify: ${problems.join("; ")}`);
      const [sent] = await sendDeposits({
        rpcUrl: s.rpcUrl, depositContract: net.depositContract, chainId: net.chainId, fundingKey, deposits: [deposit], receiptTimeoutMs: timeoutMs,
        beforeSend: (_d, tx) => {
          record.deposits[pk] = { state: "intent", txHash: tx.hash, nonce: tx.nonce.toString(), from: tx.from, raw: tx.raw, at: Math.floor(Date.now() / 1000) };
          save();
        },
        onProgress: log,
      });
      record.deposits[pk] = { state: "included", txHash: sent.txHash, block: sent.block, at: Math.floor(Date.now() / 1000) };
      save();
      log(`0x${pk.slice(0, 12)}…: deposit ${sent.txHash} included in block ${sent.block}`);
    }
    record.complete = plan.overLimit.length === 0;
    save();
    ok = true;
    return record;
  } finally {
    try {
      writeAtomic(path.join(s.textfileDir, METRICS_FILE), metricsText({ iteration: s.iteration, record, inChain: inChainCount, toSend, dryRun: s.dryRun, ok, nowSec: Math.floor(Date.now() / 1000) }), 0o644);
    } catch (e) {
      log(`could not write metrics to ${s.textfileDir}: ${(e as Error).message}`);
    }
  }
}

/** The rendered settings (all but the iteration, which the reset program passes per run). */
export function parseSettings(json: string, iteration: number): RedepositSettings {
  const s = { ...(JSON.parse(json) as RedepositSettings), iteration };
  const strings = ["node", "releaseDir", "keysDir", "fundingKeyFile", "recordDir", "textfileDir", "rpcUrl", "beaconUrl", "withdrawalCredentials", "amountGwei"] as const;
  const bad = strings.filter((k) => typeof s?.[k] !== "string");
  if (bad.length || !Number.isSafeInteger(s.iteration) || !Number.isSafeInteger(s.maxDeposits) || !Number.isSafeInteger(s.receiptTimeoutSec) || typeof s.dryRun !== "boolean" || !/^\d{1,16}$/.test(s.amountGwei)) {
    throw new Error(`re-deposit settings are incomplete${bad.length ? ` (${bad.join(", ")})` : ""}: run pulumi up to render them again`);
  }
  return s;
}

/** `redeposit run <iteration> <settings-json>`: the exit code is 0 when nothing is left to do or send. */
export async function main(argv: string[]): Promise<number> {
  let node = "?";
  const log = (line: string) => process.stderr.write(`${new Date().toISOString().replace(/\.\d+Z$/, "Z")} ephemery-redeposit[${node}]: ${line}\n`);
  try {
    if (argv[0] !== "run" || !/^\d{1,9}$/.test(argv[1] ?? "") || !argv[2]) { log("usage: ephemery-redeposit run <iteration> <settings-json>"); return 2; }
    const s = parseSettings(argv[2], Number(argv[1]));
    node = s.node.replace(/[^A-Za-z0-9._-]/g, "?").slice(0, 63);
    const record = await runRedeposit(s, log);
    return record.complete || s.dryRun ? 0 : 1;
  } catch (e) {
    log(`ERROR: ${(e as Error).message}`);
    return 1;
  }
}
