/**
 * `ephemery keys deposit` against real geth (--dev, loopback only) and the real deposit contract, deployed from
 * the creation bytecode in the prysm module that scripts/client-binaries.sh builds from: the contract recomputes
 * deposit_data_root from the calldata and reverts on a mismatch, so an included deposit proves the SSZ roots.
 */
import { execFileSync, spawn, ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { makeDeposit, executionCredentials } from "../../lib/keys/deposit";
import { secretAtPath, mnemonicToSeed } from "../../lib/keys/derive";
import { addressOf } from "../../lib/execution/transaction";
import { jsonRpc } from "../../lib/execution/jsonRpc";
import { DEFAULT_IMAGES } from "../../lib/config/images";
import { runCli } from "../support/cli";
import { freePort } from "../support/sshd";
import { tempDir } from "../keys/fixtures";

const ROOT = path.join(__dirname, "../..");
const ABANDON = `${"abandon ".repeat(11)}about`;
const FORK = "0x1000101b";

let geth: ChildProcess;
let rpcUrl: string;
let work: string;
let contract: string;
let rpc: ReturnType<typeof jsonRpc>;

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { const v = await f(); if (v !== undefined) return v; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  const gethDir = execFileSync("bash", [path.join(ROOT, "scripts/client-binaries.sh"), "geth"], { encoding: "utf8" }).trim().split("\n").pop()!;
  // The prysm module at the pinned version, as the Go module proxy serves it (scripts/client-binaries.sh builds from it).
  const prysmVersion = DEFAULT_IMAGES.prysmBeacon.split(":").pop();
  const prysmSrc = JSON.parse(execFileSync("go", ["mod", "download", "-json", `github.com/OffchainLabs/prysm/v7@${prysmVersion}`], { encoding: "utf8", cwd: os.tmpdir(), env: { ...process.env, GOFLAGS: "-mod=mod" } })).Dir;
  work = tempDir("ephemery-deposit-");
  const port = await freePort();
  rpcUrl = `http://127.0.0.1:${port}`;
  geth = spawn(path.join(gethDir, "geth"), ["--dev", "--dev.period", "1", "--datadir", path.join(work, "geth"), "--http", "--http.addr", "127.0.0.1",
    "--http.port", String(port), "--http.api", "eth,net,web3", "--port", "0", "--nodiscover", "--maxpeers", "0", "--authrpc.port", String(await freePort()), "--ipcdisable"],
    { stdio: ["ignore", "ignore", fs.openSync(path.join(work, "geth.log"), "a")] });
  rpc = jsonRpc(rpcUrl);
  const [dev] = await waitFor("geth's dev account", async () => ((await rpc<string[]>("eth_accounts")) ?? [])[0] ? rpc<string[]>("eth_accounts") : undefined);
  const bytecode = fs.readFileSync(path.join(prysmSrc, "contracts/deposit/bytecode.bin"), "utf8").trim();
  const deployHash = await rpc<string>("eth_sendTransaction", [{ from: dev, data: bytecode, gas: "0x300000" }]);
  const receipt = await waitFor("the deposit contract", () => rpc<{ contractAddress: string; status: string } | null>("eth_getTransactionReceipt", [deployHash]).then((r) => r ?? undefined));
  expect(receipt.status).toBe("0x1");
  contract = receipt.contractAddress;
  // Fund the key the deposits are paid from.
  const funder = Buffer.alloc(32, 7);
  const fund = await rpc<string>("eth_sendTransaction", [{ from: dev, to: addressOf(funder), value: `0x${(1000n * 10n ** 18n).toString(16)}` }]);
  await waitFor("the funding transfer", () => rpc("eth_getTransactionReceipt", [fund]).then((r) => r ?? undefined));
  fs.writeFileSync(path.join(work, "funding.key"), `0x${funder.toString("hex")}\n`, { mode: 0o600 });
}, 240_000);

afterAll(async () => {
  if (geth && geth.exitCode === null) {
    const exited = new Promise((r) => geth.once("exit", r));
    geth.kill("SIGTERM");
    await exited;
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test("deposits from keys generate are included and logged by the real deposit contract", async () => {
  const chainId = BigInt(await rpc<string>("eth_chainId"));
  const seed = mnemonicToSeed(ABANDON);
  const deposits = [0, 1].map((i) => makeDeposit(secretAtPath(seed, `m/12381/3600/${i}/0/0`), executionCredentials("0x01", `0x${"42".repeat(20)}`), 32_000_000_000n, FORK, "ephemery"));
  fs.writeFileSync(path.join(work, "deposit_data-1.json"), JSON.stringify(deposits));
  const r = await runCli(["keys", "deposit", "--deposit-data", path.join(work, "deposit_data-1.json"), "--rpc-url", rpcUrl, "--deposit-contract", contract,
    "--chain-id", String(chainId), "--fork-version", FORK, "--funding-key-file", path.join(work, "funding.key"), "--yes", "--json"]);
  expect(r.stderr).not.toMatch(/error|refused/i);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.deposits.map((d: { pubkey: string }) => d.pubkey)).toEqual(deposits.map((d) => d.pubkey));
  // The contract counts deposits: get_deposit_count() returns a little-endian uint64 in ABI bytes.
  const count = await rpc<string>("eth_call", [{ to: contract, data: "0x621fd130" }, "latest"]);
  expect(Buffer.from(count.slice(2), "hex").subarray(64, 72).readBigUInt64LE()).toBe(2n);
}, 240_000);

test("a deposit whose deposit_data_root was altered is refused by the contract, and nothing after it is sent", async () => {
  const chainId = BigInt(await rpc<string>("eth_chainId"));
  const d = makeDeposit(secretAtPath(mnemonicToSeed(ABANDON), "m/12381/3600/2/0/0"), executionCredentials("0x01", `0x${"42".repeat(20)}`), 32_000_000_000n, FORK, "ephemery");
  fs.writeFileSync(path.join(work, "deposit_data-2.json"), JSON.stringify([{ ...d, deposit_data_root: "11".repeat(32) }]));
  const r = await runCli(["keys", "deposit", "--deposit-data", path.join(work, "deposit_data-2.json"), "--rpc-url", rpcUrl, "--deposit-contract", contract,
    "--chain-id", String(chainId), "--fork-version", FORK, "--funding-key-file", path.join(work, "funding.key"), "--yes", "--skip-checks"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/deposit_data_root|reverted|execution reverted/);
}, 120_000);

test("a node on another chain is refused before anything is signed", async () => {
  fs.writeFileSync(path.join(work, "deposit_data-3.json"), JSON.stringify([makeDeposit(secretAtPath(mnemonicToSeed(ABANDON), "m/12381/3600/3/0/0"), executionCredentials("0x01", `0x${"42".repeat(20)}`), 32_000_000_000n, FORK, "ephemery")]));
  const r = await runCli(["keys", "deposit", "--deposit-data", path.join(work, "deposit_data-3.json"), "--rpc-url", rpcUrl, "--deposit-contract", contract,
    "--chain-id", "39438999", "--fork-version", FORK, "--funding-key-file", path.join(work, "funding.key"), "--yes"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/is on chain \d+, the deposits are for chain 39438999: nothing was sent/);
});
