/**
 * `npm run bench:engine`: wall time of `preview`, first `up`, no-op `up` and `destroy` through the real engine
 * (the toolchain's CLI, a file:// backend) for 1 and 3 SSH test hosts, printed as a table, plus how the no-op
 * `up` grows per host. Needs what the engine tier needs: `bash scripts/toolchain.sh`, Docker, sshd.
 * Options: --hosts 1,3 (host counts), --runs 1 (repetitions; the median is printed).
 */
import * as path from "path";
import { parseArgs } from "util";
import { cleanHost, EngineStack, networkConfig, startFleet } from "../tests/e2e/harness";
import { standinImage } from "../tests/e2e/standins";
import { startDockerd, stopDockerdIfStarted } from "../tests/support/dockerd";

const OPS = ["preview", "up (first)", "up (no-op)", "destroy"] as const;
type Op = (typeof OPS)[number];

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

async function measure(hostCount: number, image: string): Promise<Record<Op, number>> {
  const fleet = await startFleet(hostCount, image);
  const stack = await EngineStack.create(`bench-${fleet.runId}`, { stateDir: path.join(fleet.root, "state"), workDir: path.join(fleet.root, "work") });
  try {
    await stack.setSecret("ephemery:sshPrivateKey", fleet.privateKey);
    stack.writeConfig({ "ephemery:network": networkConfig(fleet.server), "ephemery:hosts": fleet.hosts.map((h) => h.config) });
    const out = {} as Record<Op, number>;
    out.preview = await timed(() => stack.preview());
    out["up (first)"] = await timed(() => stack.up());
    out["up (no-op)"] = await timed(() => stack.up());
    if (stack.changes().length > 0) throw new Error(`the no-op up changed: ${stack.changes().join(", ")}`);
    out.destroy = await timed(() => stack.destroy());
    return out;
  } finally {
    await stack.remove().catch(() => undefined);
    for (const h of fleet.hosts) cleanHost(h);
    await fleet.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { hosts: { type: "string", default: "1,3" }, runs: { type: "string", default: "1" } } });
  const counts = values.hosts!.split(",").map(Number);
  const runs = Number(values.runs);
  if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 8) || !Number.isInteger(runs) || runs < 1) {
    throw new Error(`--hosts takes host counts 1..8 separated by commas (got "${values.hosts}"), --runs a positive integer (got "${values.runs}")`);
  }
  const startedDockerd = await startDockerd();
  try {
    const image = standinImage("1.0.0");
    const results = new Map<number, Record<Op, number>>();
    for (const n of counts) {
      const samples: Record<Op, number>[] = [];
      for (let r = 0; r < runs; r++) samples.push(await measure(n, image));
      results.set(n, Object.fromEntries(OPS.map((op) => [op, median(samples.map((s) => s[op]))])) as Record<Op, number>);
    }
    const header = ["hosts", ...OPS];
    const rows = counts.map((n) => [String(n), ...OPS.map((op) => `${results.get(n)![op].toFixed(1)} s`)]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
    console.log(line(header));
    console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
    for (const r of rows) console.log(line(r));
    if (counts.length > 1) {
      const [lo, hi] = [Math.min(...counts), Math.max(...counts)];
      const perHost = (results.get(hi)!["up (no-op)"] - results.get(lo)!["up (no-op)"]) / (hi - lo);
      console.log(`no-op up grows by ${perHost.toFixed(1)} s per extra host (${lo} -> ${hi} hosts; median of ${runs} run(s)).`);
    }
  } finally {
    if (startedDockerd !== undefined) await stopDockerdIfStarted();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
