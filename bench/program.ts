/**
 * How the program's cost grows with fleet size: evaluates index.ts under mocks for 1, 10, 100 and 300 hosts
 * and prints, per size, the time to build the fleet (module loading excluded and shown apart; of it, the time the
 * mock harness spent recording), ms per host, the CPU time used (steadier than wall time on a shared machine),
 * resources registered, the heap a finished run holds (after a GC), the peak heap seen and the peak RSS.
 * A third argument caps the heap (`-- 100 1 400`: --max-old-space-size=400), showing whether a size fits at all.
 * Each size runs in a fresh process, so one size's garbage never counts against the next.
 * Run with `npm run bench` (sizes: `npm run bench -- 1,10,50`; repetitions: `-- 1,10,100 3`, the median is printed).
 * The mock harness keeps only the count of resources, so the heap is the program's and the SDK's; BENCH_RECORD=1
 * makes it record every input and option as the component tests do (the harness's own cost, for comparison).
 * The sizes run on Node 22 (the runtime the pinned @pulumi/pulumi declares; scripts/node22.sh fetches it once
 * from the npm registry), or on the Node running this file when that fails or BENCH_NODE=current (BENCH_NODE=<path>:
 * that binary). BENCH_KEYS=1 gives the validators key sets (see `fleet`). Each row names its Node and the 1-minute load average when it finished: the machine is shared.
 */
import { execFileSync } from "child_process";
import * as os from "os";
import * as path from "path";
import { runProgram } from "../tests/support/mocks";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const CLIENTS = {
  execution: ["geth", "nethermind", "besu", "reth", "erigon"],
  consensus: ["lighthouse", "teku", "prysm", "nimbus", "lodestar"],
};

/**
 * A mixed fleet: every client, both runtimes, a validator on every third host. With `keys`, each validator
 * also has `validator.keys` without a path (an empty key set): the key release, the move barrier and the
 * install, without key files to decrypt.
 */
export function fleet(n: number, keys = false) {
  return Array.from({ length: n }, (_, i) => ({
    name: `node-${i}`,
    address: `10.${Math.floor(i / 250)}.${i % 250}.10`,
    ssh: { useAgent: true },
    runtime: i % 2 === 0 ? "docker" : "compose",
    execution: { client: CLIENTS.execution[i % 5] },
    consensus: { client: CLIENTS.consensus[(i + 1) % 5] },
    ...(i % 3 === 0 ? { validator: { feeRecipient: FEE, ...(keys ? { keys: {} } : {}) } } : {}),
  }));
}

interface Measured { node: string; hosts: number; resources: number; loadMs: number; buildMs: number; harnessMs: number; cpuMs: number; heapMiB: number; peakHeapMiB: number; rssMiB: number }

function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** One size, in this process: load the program once, then build the fleet under mocks. */
async function measureHere(n: number): Promise<Measured> {
  const gc = (globalThis as { gc?: () => void }).gc;
  let start = process.hrtime.bigint();
  const program = require("../index") as Record<string, unknown>;
  const loadMs = elapsedMs(start);
  let peakHeap = 0;
  const sample = () => { peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed); };
  // Samples between the program's synchronous stretches; the figure is a lower bound of the true peak.
  const sampler = setInterval(sample, 5);
  start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  // The harness records nothing but the count here (BENCH_RECORD=1: every input and option, as tests do).
  const { resources, harnessMs } = await runProgram({ "ephemery:hosts": fleet(n, process.env.BENCH_KEYS === "1") }, { load: () => program, record: process.env.BENCH_RECORD === "1" });
  clearInterval(sampler);
  sample();
  const buildMs = elapsedMs(start);
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  gc?.();
  // `resources` is still referenced here, so the figure is what a finished run holds, not garbage.
  const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
  return { node: process.version, hosts: n, resources: resources.length, loadMs, buildMs, harnessMs, cpuMs, heapMiB, peakHeapMiB: peakHeap / 2 ** 20, rssMiB: process.resourceUsage().maxRSS / 1024 };
}

/** One size in a child process (fresh heap, fresh module cache). */
function measureInChild(node: string, n: number, maxHeapMiB?: number): Measured {
  const heapCap = maxHeapMiB ? [`--max-old-space-size=${maxHeapMiB}`] : [];
  const out = execFileSync(node, [...heapCap, "--expose-gc", "-r", "ts-node/register/transpile-only", __filename, "--one", String(n)], {
    cwd: path.join(__dirname, ".."),
    encoding: "utf8",
    env: { ...process.env, EPHEMERY_SKIP_CHECKPOINT_PROBE: "1" },
    maxBuffer: 16 << 20,
  });
  const line = out.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as Measured;
}

/** The Node binary the sizes run on: BENCH_NODE, else Node 22 from scripts/node22.sh, else this one. */
export function benchNode(env: NodeJS.ProcessEnv = process.env, node22 = () => execFileSync("bash", [path.join(__dirname, "..", "scripts", "node22.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim()): string {
  if (env.BENCH_NODE === "current") return process.execPath;
  if (env.BENCH_NODE) return env.BENCH_NODE;
  try {
    return node22();
  } catch {
    console.log(`Node 22 is not available (see the message above); running on ${process.version}`);
    return process.execPath;
  }
}

const load1 = () => os.loadavg()[0].toFixed(2);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  if (process.argv[2] === "--one") {
    process.env.EPHEMERY_SKIP_CHECKPOINT_PROBE = "1";
    const m = await measureHere(Number(process.argv[3]));
    console.log(JSON.stringify(m));
    process.exit(0);
  }
  const sizes = (process.argv[2] ?? "1,10,100,300").split(",").map(Number);
  const runs = Number(process.argv[3] ?? 1);
  const maxHeapMiB = process.argv[4] ? Number(process.argv[4]) : undefined;
  console.log(`load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} (${os.cpus().length} cores); median of ${runs} run(s)${process.env.BENCH_KEYS === "1" ? ", validators with key sets" : ""}${maxHeapMiB ? `, heap capped at ${maxHeapMiB} MiB` : ""}`);
  const node = benchNode();
  console.log("  node  hosts  resources  load ms  build ms  harness ms  ms/host  cpu ms  cpu ms/host  heap MiB  peak heap MiB  peak RSS MiB  load avg");
  for (const n of sizes) {
    const all = Array.from({ length: runs }, () => measureInChild(node, n, maxHeapMiB));
    const m: Measured = {
      node: all[0].node,
      hosts: n,
      resources: all[0].resources,
      loadMs: median(all.map((x) => x.loadMs)),
      buildMs: median(all.map((x) => x.buildMs)),
      harnessMs: median(all.map((x) => x.harnessMs)),
      cpuMs: median(all.map((x) => x.cpuMs)),
      peakHeapMiB: median(all.map((x) => x.peakHeapMiB)),
      heapMiB: median(all.map((x) => x.heapMiB)),
      rssMiB: median(all.map((x) => x.rssMiB)),
    };
    console.log([
      m.node.replace(/\..*/, "").padStart(6), String(n).padStart(5), String(m.resources).padStart(9), m.loadMs.toFixed(0).padStart(7), m.buildMs.toFixed(0).padStart(8), m.harnessMs.toFixed(0).padStart(10),
      (m.buildMs / n).toFixed(1).padStart(7), m.cpuMs.toFixed(0).padStart(6), (m.cpuMs / n).toFixed(1).padStart(11), m.heapMiB.toFixed(0).padStart(8), m.peakHeapMiB.toFixed(0).padStart(13), m.rssMiB.toFixed(0).padStart(12), load1().padStart(8),
    ].join("  "));
  }
  console.log(`load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
