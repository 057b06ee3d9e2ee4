/**
 * The host-side re-deposit program, bundled as hosts get it and run by a bare `node` outside the project (no
 * node_modules), against real geth (--dev) and the real deposit contract. The beacon node's validator lookup is
 * a loopback stand-in: it answers 200 for the keys "in the new genesis" and 404 for the rest, as beacon nodes do.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { clientLayout, SET_CLIENT_FILE, SET_PUBKEYS_FILE } from "../../lib/keys/layout";
import { executionCredentials, makeDeposit } from "../../lib/keys/deposit";
import { depositCalldata } from "../../lib/keys/depositTx";
import { addressOf, signEip1559 } from "../../lib/execution/transaction";
import { METRICS_FILE, RedepositRecord, RedepositSettings, recordPath } from "../../lib/keys/redeposit";
import { redepositProgramSource } from "../../lib/keys/redepositValues";
import { DevChain, startDevChain, waitFor } from "../support/devChain";
import { makeKeys, tempDir, TestKey } from "../keys/fixtures";

const FORK = "0x1000101b";

let chain: DevChain;
let work: string;
let program: string;
let beacon: http.Server;
let beaconUrl: string;
let keys: TestKey[];
/** Pubkeys the stand-in beacon node knows (the "genesis validators"). */
const known = new Set<string>();
let settings: Omit<RedepositSettings, "iteration">;

interface Run { code: number | null; stderr: string; cmdline: string }

/** Runs the bundled program; `killOn` SIGKILLs it as soon as its log matches (a crash at that point). */
function runProgram(iteration: number, over: Partial<RedepositSettings> = {}, killOn?: RegExp): Promise<Run> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(process.execPath, [program, "run", String(iteration), JSON.stringify({ ...settings, ...over })], { cwd: path.dirname(program), stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let cmdline = "";
    try { cmdline = fs.readFileSync(`/proc/${child.pid}/cmdline`, "utf8"); } catch { /* already gone */ }
    child.stderr!.on("data", (c) => {
      stderr += c;
      if (killOn?.test(stderr)) child.kill("SIGKILL");
    });
    child.on("close", (code) => resolve({ code, stderr, cmdline }));
  });
}

const readRecord = (iteration: number): RedepositRecord => JSON.parse(fs.readFileSync(recordPath(settings.recordDir, iteration), "utf8"));

beforeAll(async () => {
  work = tempDir("ephemery-redeposit-");
  chain = await startDevChain(work);
  // The program as a host gets it, in a directory without node_modules.
  program = path.join(work, "bin", "ephemery-redeposit.js");
  fs.mkdirSync(path.dirname(program));
  fs.writeFileSync(program, redepositProgramSource());
  keys = await makeKeys(3, { kdf: "pbkdf2" });
  const keysDir = path.join(work, "validator-keys", "current");
  for (const f of clientLayout("lighthouse", keys.map((k) => ({ pubkey: k.pubkey, keystore: k.json, password: k.password })))) {
    fs.mkdirSync(path.dirname(path.join(keysDir, f.path)), { recursive: true });
    fs.writeFileSync(path.join(keysDir, f.path), f.content, { mode: 0o600 });
  }
  fs.writeFileSync(path.join(keysDir, SET_PUBKEYS_FILE), keys.map((k) => k.pubkey).join("\n") + "\n");
  fs.writeFileSync(path.join(keysDir, SET_CLIENT_FILE), "lighthouse\n");
  const releaseDir = path.join(work, "testnet", "current");
  fs.mkdirSync(releaseDir, { recursive: true });
  fs.writeFileSync(path.join(releaseDir, "config.yaml"), `CONFIG_NAME: ephemery\nGENESIS_FORK_VERSION: ${FORK}\nDEPOSIT_CHAIN_ID: ${chain.chainId}\nDEPOSIT_NETWORK_ID: ${chain.chainId}\nDEPOSIT_CONTRACT_ADDRESS: ${chain.contract}\n`);
  const fundingKeyFile = path.join(work, "secrets", "deposit-funding.key");
  fs.mkdirSync(path.dirname(fundingKeyFile), { mode: 0o700 });
  fs.writeFileSync(fundingKeyFile, `0x${chain.funder.toString("hex")}\n`, { mode: 0o600 });
  known.add(keys[0].pubkey);
  beacon = http.createServer((req, res) => {
    const m = /^\/eth\/v1\/beacon\/states\/head\/validators\/0x([0-9a-f]{96})$/.exec(req.url ?? "");
    if (m && known.has(m[1])) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ data: { index: "0", status: "active_ongoing", validator: { pubkey: `0x${m[1]}`, exit_epoch: "18446744073709551615" } } }));
    } else {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: 404, message: "Validator not found" }));
    }
  });
  await new Promise<void>((r) => beacon.listen(0, "127.0.0.1", () => r()));
  beaconUrl = `http://127.0.0.1:${(beacon.address() as { port: number }).port}`;
  settings = {
    node: "n1", releaseDir, keysDir, fundingKeyFile, recordDir: path.join(work, "state", "redeposit"), textfileDir: path.join(work, "node-exporter"),
    rpcUrl: chain.rpcUrl, beaconUrl, withdrawalCredentials: `0x${executionCredentials("0x01", `0x${"42".repeat(20)}`).toString("hex")}`,
    amountGwei: "32000000000", dryRun: false, maxDeposits: 16, receiptTimeoutSec: 60,
  };
}, 240_000);

afterAll(async () => {
  await new Promise((r) => beacon?.close(r));
  await chain?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const funderHex = () => chain.funder.toString("hex");

test("deposits the keys the new chain lacks, once; a second run in the same iteration sends nothing", async () => {
  const [count0, nonce0] = [await chain.depositCount(), await chain.funderNonce()];
  const first = await runProgram(200);
  expect(first.stderr).not.toMatch(/ERROR/);
  expect(first.code).toBe(0);
  expect(first.stderr).toMatch(/3 key\(s\); 1 known to the new chain, 0 deposited, 2 to deposit/);
  expect(await chain.depositCount()).toBe(count0 + 2n);
  expect(await chain.funderNonce()).toBe(nonce0 + 2n);
  const record = readRecord(200);
  expect(record.complete).toBe(true);
  expect(Object.keys(record.deposits).sort()).toEqual([keys[1].pubkey, keys[2].pubkey].sort());
  expect(Object.values(record.deposits).every((e) => e.state === "included")).toBe(true);
  expect(fs.statSync(recordPath(settings.recordDir, 200)).mode & 0o777).toBe(0o600);
  const prom = fs.readFileSync(path.join(settings.textfileDir, METRICS_FILE), "utf8");
  expect(prom).toMatch(/^ephemery_redeposit_keys\{state="included"\} 2$/m);
  expect(prom).toMatch(/^ephemery_redeposit_complete 1$/m);
  expect(prom).toMatch(/^ephemery_redeposit_keys\{state="in_chain"\} 1$/m);

  const second = await runProgram(200);
  expect(second.code).toBe(0);
  expect(second.stderr).toMatch(/already done/);
  // The run that found nothing to do reports what the finished one found, not zero keys in the chain.
  const again = fs.readFileSync(path.join(settings.textfileDir, METRICS_FILE), "utf8");
  expect(again).toMatch(/^ephemery_redeposit_keys\{state="in_chain"\} 1$/m);
  expect(again).toMatch(/^ephemery_redeposit_keys\{state="included"\} 2$/m);
  expect(await chain.depositCount()).toBe(count0 + 2n);
  expect(await chain.funderNonce()).toBe(nonce0 + 2n);
  // The funding key is in no argv and no log line, record or metric.
  for (const text of [first.cmdline, first.stderr, second.stderr, JSON.stringify(record), prom]) expect(text).not.toContain(funderHex());
  expect(first.cmdline).toContain("ephemery-redeposit.js");
}, 240_000);

test("dry run logs what it would send and sends nothing, writing no record", async () => {
  const [count0, nonce0] = [await chain.depositCount(), await chain.funderNonce()];
  const r = await runProgram(201, { dryRun: true });
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(new RegExp(`dry run: would deposit 32000000000 gwei for 0x${keys[1].pubkey}`));
  expect(r.stderr).toMatch(new RegExp(`dry run: would deposit 32000000000 gwei for 0x${keys[2].pubkey}`));
  expect(fs.existsSync(recordPath(settings.recordDir, 201))).toBe(false);
  expect(fs.readFileSync(path.join(settings.textfileDir, METRICS_FILE), "utf8")).toMatch(/^ephemery_redeposit_dry_run 1$/m);
  await new Promise((res) => setTimeout(res, 2500)); // two blocks: anything sent would be in by now
  expect(await chain.depositCount()).toBe(count0);
  expect(await chain.funderNonce()).toBe(nonce0);
}, 120_000);

test("killed right after sending, the next run finds the sent transaction on the chain and does not send again", async () => {
  const [count0, nonce0] = [await chain.depositCount(), await chain.funderNonce()];
  const crashed = await runProgram(202, {}, /sent 0x[0-9a-f]{64}, waiting for inclusion/);
  expect(crashed.code).toBeNull(); // killed
  const intent = readRecord(202);
  expect(Object.values(intent.deposits).map((e) => e.state)).toEqual(["intent"]);
  const rerun = await runProgram(202);
  expect(rerun.stderr).not.toMatch(/ERROR/);
  expect(rerun.code).toBe(0);
  const record = readRecord(202);
  expect(record.complete).toBe(true);
  expect(Object.values(record.deposits).map((e) => e.state)).toEqual(["included", "included"]);
  // Two keys, two deposits, two transactions of the funder: the killed one was not sent twice.
  await waitFor("the deposits", async () => ((await chain.depositCount()) === count0 + 2n ? true : undefined), 10_000);
  expect(await chain.funderNonce()).toBe(nonce0 + 2n);
}, 240_000);

test("killed after recording its intent but before sending, the next run sends those same bytes: one deposit", async () => {
  const [count0, nonce0] = [await chain.depositCount(), await chain.funderNonce()];
  // What the program records just before eth_sendRawTransaction, for a transaction the node never saw.
  const d = makeDeposit(keys[1].secret, Buffer.from(settings.withdrawalCredentials.slice(2), "hex"), 32_000_000_000n, FORK, "ephemery-204");
  const block = await chain.rpc<{ baseFeePerGas: string }>("eth_getBlockByNumber", ["latest", false]);
  const tx = signEip1559({ chainId: chain.chainId, nonce: nonce0, maxPriorityFeePerGas: 10n ** 9n, maxFeePerGas: BigInt(block.baseFeePerGas) * 2n + 10n ** 9n,
    gasLimit: 300_000n, to: chain.contract, valueWei: 32n * 10n ** 18n, data: depositCalldata(d) }, chain.funder);
  fs.mkdirSync(settings.recordDir, { recursive: true });
  fs.writeFileSync(recordPath(settings.recordDir, 204), JSON.stringify({ version: 1, iteration: 204, complete: false, deposits: {
    [keys[1].pubkey]: { state: "intent", txHash: tx.hash, nonce: nonce0.toString(), from: addressOf(chain.funder), raw: tx.raw, at: 1 },
  } }));
  expect(await chain.rpc("eth_getTransactionByHash", [tx.hash])).toBeNull();
  // A dry run does not even re-broadcast recorded bytes.
  const dry = await runProgram(204, { dryRun: true });
  expect(dry.stderr).toMatch(new RegExp(`dry run: would look up \\(and re-broadcast if unknown\\) the recorded deposit ${tx.hash}`));
  expect(await chain.rpc("eth_getTransactionByHash", [tx.hash])).toBeNull();
  const r = await runProgram(204);
  expect(r.stderr).not.toMatch(/ERROR/);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/re-broadcast the same signed bytes/);
  const record = readRecord(204);
  expect(record.deposits[keys[1].pubkey]).toMatchObject({ state: "included", txHash: tx.hash });
  expect(record.deposits[keys[2].pubkey]).toMatchObject({ state: "included" });
  expect(await chain.depositCount()).toBe(count0 + 2n);
  expect(await chain.funderNonce()).toBe(nonce0 + 2n);
}, 240_000);

test("a funding key file readable by others is refused before anything is signed", async () => {
  const nonce0 = await chain.funderNonce();
  fs.chmodSync(settings.fundingKeyFile, 0o644);
  try {
    const r = await runProgram(203);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has mode 644; it must be 0600/);
    expect(r.stderr).not.toContain(funderHex());
    expect(await chain.funderNonce()).toBe(nonce0);
    expect(fs.readFileSync(path.join(settings.textfileDir, METRICS_FILE), "utf8")).toMatch(/^ephemery_redeposit_last_run_success 0$/m);
  } finally {
    fs.chmodSync(settings.fundingKeyFile, 0o600);
  }
}, 120_000);
