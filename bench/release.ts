/**
 * How long the host-side release check takes on a release of realistic size: the checker's transpile at render
 * time, and `node release-check.js verify` on a release with a large genesis.json and genesis.ssz.
 * Run: npx ts-node --transpile-only bench/release.ts   (BENCH_ALLOC=20000 accounts, BENCH_SSZ_MIB=16, BENCH_RUNS=5)
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildNodeSpecs } from "../lib/clients";
import { hostSchema, networkSchema } from "../lib/config/schema";
import { releaseCheckerSource, releasePolicy } from "../lib/reset/releaseRunner";
import { requiredReleaseFiles } from "../lib/reset/values";
import { releaseFiles } from "../tests/support/releases";

const ALLOC = Number(process.env.BENCH_ALLOC ?? 20000);
const SSZ_MIB = Number(process.env.BENCH_SSZ_MIB ?? 16);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-bench-release-"));
try {
  const release = path.join(dir, "release");
  const files = releaseFiles(160, { sszBytes: SSZ_MIB << 20 });
  const genesis = JSON.parse(files["genesis.json"]);
  genesis.alloc = Object.fromEntries(Array.from({ length: ALLOC }, (_, i) => [`0x${i.toString(16).padStart(40, "0")}`, { balance: "0x3635c9adc5dea00000" }]));
  files["genesis.json"] = JSON.stringify(genesis);
  for (const [n, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(release, n)), { recursive: true });
    fs.writeFileSync(path.join(release, n), c);
  }
  const t0 = process.hrtime.bigint();
  const js = releaseCheckerSource();
  const transpileMs = Number(process.hrtime.bigint() - t0) / 1e6;
  fs.writeFileSync(path.join(dir, "release-check.js"), js);
  const host = hostSchema.parse({ name: "bench", kind: "local" });
  const specs = buildNodeSpecs({ node: "bench", host, checkpointSyncUrls: [] });
  const policy = JSON.stringify(releasePolicy(networkSchema.parse({}), specs, requiredReleaseFiles(specs)));
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const a = process.hrtime.bigint();
    execFileSync("node", [path.join(dir, "release-check.js"), "verify", release, "160", policy]);
    runs.push(Number(process.hrtime.bigint() - a) / 1e6);
  }
  runs.sort((x, y) => x - y);
  console.log(`release check benchmark: genesis.json ${(fs.statSync(path.join(release, "genesis.json")).size / 1048576).toFixed(1)} MiB (${ALLOC} accounts), genesis.ssz ${SSZ_MIB} MiB`);
  console.log(`  checker: ${js.length} bytes of JavaScript, transpiled in ${transpileMs.toFixed(0)} ms`);
  console.log(`  node verify (process start included): median ${runs[Math.floor(runs.length / 2)].toFixed(0)} ms, min ${runs[0].toFixed(0)} ms, max ${runs[runs.length - 1].toFixed(0)} ms over ${RUNS} runs`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
