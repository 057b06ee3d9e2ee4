/**
 * A real execution chain for deposit tests: geth --dev (loopback only, a block a second) from
 * scripts/client-binaries.sh, with the real deposit contract deployed from the creation bytecode in the prysm
 * module at the pinned version, and a funded key to pay deposits from.
 */
import { execFileSync, spawn, ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { addressOf } from "../../lib/execution/transaction";
import { jsonRpc } from "../../lib/execution/jsonRpc";
import { DEFAULT_IMAGES } from "../../lib/config/images";
import { freePort } from "./sshd";

const ROOT = path.join(__dirname, "../..");

export interface DevChain {
  rpcUrl: string;
  rpc: ReturnType<typeof jsonRpc>;
  contract: string;
  chainId: bigint;
  /** A key funded with 1000 ETH. */
  funder: Buffer;
  /** The contract's get_deposit_count(). */
  depositCount(): Promise<bigint>;
  /** The funder's nonce on the latest block: how many transactions it has had included. */
  funderNonce(): Promise<bigint>;
  stop(): Promise<void>;
}

export async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { const v = await f(); if (v !== undefined) return v; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function startDevChain(work: string, funder = Buffer.alloc(32, 7)): Promise<DevChain> {
  const gethDir = execFileSync("bash", [path.join(ROOT, "scripts/client-binaries.sh"), "geth"], { encoding: "utf8" }).trim().split("\n").pop()!;
  const prysmVersion = DEFAULT_IMAGES.prysmBeacon.split(":").pop();
  const prysmSrc = JSON.parse(execFileSync("go", ["mod", "download", "-json", `github.com/OffchainLabs/prysm/v7@${prysmVersion}`], { encoding: "utf8", cwd: os.tmpdir(), env: { ...process.env, GOFLAGS: "-mod=mod" } })).Dir;
  const port = await freePort();
  const rpcUrl = `http://127.0.0.1:${port}`;
  const geth: ChildProcess = spawn(path.join(gethDir, "geth"), ["--dev", "--dev.period", "1", "--datadir", path.join(work, "geth"), "--http", "--http.addr", "127.0.0.1",
    "--http.port", String(port), "--http.api", "eth,net,web3", "--port", "0", "--nodiscover", "--maxpeers", "0", "--authrpc.port", String(await freePort()), "--ipcdisable"],
  { stdio: ["ignore", "ignore", fs.openSync(path.join(work, "geth.log"), "a")] });
  const stop = async () => {
    if (geth.exitCode !== null) return;
    const exited = new Promise((r) => geth.once("exit", r));
    geth.kill("SIGTERM");
    await exited;
  };
  try {
    const rpc = jsonRpc(rpcUrl);
    const [dev] = await waitFor("geth's dev account", async () => ((await rpc<string[]>("eth_accounts")) ?? [])[0] ? rpc<string[]>("eth_accounts") : undefined);
    const bytecode = fs.readFileSync(path.join(prysmSrc, "contracts/deposit/bytecode.bin"), "utf8").trim();
    const deployHash = await rpc<string>("eth_sendTransaction", [{ from: dev, data: bytecode, gas: "0x300000" }]);
    const receipt = await waitFor("the deposit contract", () => rpc<{ contractAddress: string; status: string } | null>("eth_getTransactionReceipt", [deployHash]).then((r) => r ?? undefined));
    if (receipt.status !== "0x1") throw new Error("the deposit contract's deployment reverted");
    const fund = await rpc<string>("eth_sendTransaction", [{ from: dev, to: addressOf(funder), value: `0x${(1000n * 10n ** 18n).toString(16)}` }]);
    await waitFor("the funding transfer", () => rpc("eth_getTransactionReceipt", [fund]).then((r) => r ?? undefined));
    const contract = receipt.contractAddress;
    return {
      rpcUrl, rpc, contract, funder, stop,
      chainId: BigInt(await rpc<string>("eth_chainId")),
      // get_deposit_count() returns a little-endian uint64 in ABI bytes.
      depositCount: async () => Buffer.from((await rpc<string>("eth_call", [{ to: contract, data: "0x621fd130" }, "latest"])).slice(2), "hex").subarray(64, 72).readBigUInt64LE(),
      funderNonce: async () => BigInt(await rpc<string>("eth_getTransactionCount", [addressOf(funder), "latest"])),
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
