/**
 * How the program's cost grows with fleet size: evaluates index.ts under mocks for 1, 10 and 100 hosts and
 * prints wall time, resources registered and heap used. Run with `npm run bench`.
 */
import * as path from "path";
import { runProgram } from "../tests/support/mocks";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const CLIENTS = {
  execution: ["geth", "nethermind", "besu", "reth", "erigon"],
  consensus: ["lighthouse", "teku", "prysm", "nimbus", "lodestar"],
};

function fleet(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    name: `node-${i}`,
    address: `10.${Math.floor(i / 250)}.${i % 250}.10`,
    ssh: { useAgent: true },
    runtime: i % 2 === 0 ? "docker" : "compose",
    execution: { client: CLIENTS.execution[i % 5] },
    consensus: { client: CLIENTS.consensus[(i + 1) % 5] },
    ...(i % 3 === 0 ? { validator: { feeRecipient: FEE } } : {}),
  }));
}

/** Drops the program's own modules from the require cache so each run builds everything anew. */
function loadFresh(): Record<string, unknown> {
  const root = path.join(__dirname, "..");
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(root) && !key.includes("node_modules")) delete require.cache[key];
  }
  return require("../index");
}

async function main(): Promise<void> {
  const sizes = (process.argv[2] ?? "1,10,100").split(",").map(Number);
  process.env.EPHEMERY_SKIP_CHECKPOINT_PROBE = "1";
  console.log("hosts  resources  wall ms  ms/host  heap MiB");
  for (const n of sizes) {
    const start = process.hrtime.bigint();
    const { resources } = await runProgram({ "ephemery:hosts": fleet(n) }, { load: loadFresh });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const heap = process.memoryUsage().heapUsed / 2 ** 20;
    console.log(`${String(n).padStart(5)}  ${String(resources.length).padStart(9)}  ${ms.toFixed(0).padStart(7)}  ${(ms / n).toFixed(1).padStart(7)}  ${heap.toFixed(0).padStart(8)}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
