/**
 * `ephemery keys deposit` against real geth (--dev, loopback only) and the real deposit contract, deployed from
 * the creation bytecode in the prysm module that scripts/client-binaries.sh builds from: the contract recomputes
 * deposit_data_root from the calldata and reverts on a mismatch, so an included deposit proves the SSZ roots.
 */
import * as fs from "fs";
import * as path from "path";
import { makeDeposit, executionCredentials } from "../../lib/keys/deposit";
import { secretAtPath, mnemonicToSeed } from "../../lib/keys/derive";
import { runCli } from "../support/cli";
import { DevChain, startDevChain } from "../support/devChain";
import { tempDir, testSecret } from "../keys/fixtures";
import { closedPort, sshStackFiles } from "../ops/fakeNode";
import { startSshHost } from "../support/sshd";

const ABANDON = `${"abandon ".repeat(11)}about`;
const FORK = "0x1000101b";

let chain: DevChain;
let rpcUrl: string;
let work: string;
let contract: string;
let rpc: DevChain["rpc"];

beforeAll(async () => {
  work = tempDir("ephemery-deposit-");
  chain = await startDevChain(work);
  ({ rpcUrl, contract, rpc } = chain);
  fs.writeFileSync(path.join(work, "funding.key"), `0x${chain.funder.toString("hex")}\n`, { mode: 0o600 });
}, 240_000);

afterAll(async () => {
  await chain?.stop();
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
  expect(await chain.depositCount()).toBe(2n);
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

test("keys deposit --host sends through an SSH tunnel to the host's JSON-RPC, the network named by the host's release", async () => {
  const sshHost = await startSshHost();
  try {
    const node = `dep${process.pid}`;
    const testnet = path.join(work, "data", node, "testnet", "current");
    fs.mkdirSync(testnet, { recursive: true });
    fs.writeFileSync(path.join(testnet, "config.yaml"), `GENESIS_FORK_VERSION: ${FORK}\nDEPOSIT_CHAIN_ID: ${chain.chainId}\nDEPOSIT_CONTRACT_ADDRESS: ${contract}\n`);
    // No beacon node here: the deposit still goes through; its beacon state is reported as unknown, with why.
    const { stackFile, knownHosts } = sshStackFiles(sshHost, work, node, { rpcPort: Number(new URL(rpcUrl).port), beaconApiPort: await closedPort(), keymanagerPort: await closedPort() });
    const d = makeDeposit(testSecret(4), executionCredentials("0x01", `0x${"42".repeat(20)}`), 32_000_000_000n, FORK, "ephemery");
    fs.writeFileSync(path.join(work, "deposit_data-4.json"), JSON.stringify([d]));
    const count0 = await chain.depositCount();
    const r = await runCli(["keys", "deposit", "--host", node, "--file", stackFile, "--identity", sshHost.privateKeyFile, "--known-hosts", knownHosts,
      "--deposit-data", path.join(work, "deposit_data-4.json"), "--funding-key-file", path.join(work, "funding.key"), "--yes", "--json"]);
    expect(r.stderr).not.toMatch(/reverted|nothing was sent/i);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).deposits).toEqual([expect.objectContaining({ pubkey: d.pubkey, beaconStatus: expect.stringMatching(/^unknown \(beacon API: /) })]);
    expect(await chain.depositCount()).toBe(count0 + 1n);
  } finally {
    await sshHost.stop();
  }
}, 240_000);
