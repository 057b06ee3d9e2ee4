/**
 * `npm run bench:engine`: wall time of `preview`, first `up`, no-op `up`, an `up` that changes one host's
 * execution image, and `destroy` through the real engine (the toolchain's CLI, a file:// backend) for 1, 5 and 10
 * SSH test hosts (loopback sshd, one shared Docker engine), printed as a table with the machine's load, plus how
 * each grows per host against the goals of issue #14. Needs what the engine tier needs: `bash scripts/toolchain.sh`,
 * Docker, sshd. Options: --hosts 1,5,10 (host counts, 1..16), --runs 1 (repetitions; the median is printed);
 * BENCH_STEPS=1 also prints where each first `up` spent its time, by resource type.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { cleanHost, EngineStack, networkConfig, startFleet } from "../tests/e2e/harness";
import { standinImage } from "../tests/e2e/standins";
import { registerUser, startDockerd, stopDockerdIfStarted } from "../tests/support/dockerd";

const OPS = ["preview", "up (first)", "up (no-op)", "up (1 image)", "destroy"] as const;
type Op = (typeof OPS)[number];

/** The machine's CPU jiffies, busy and all (/proc/stat), to tell a CPU-bound operation from one that waits. */
function cpuJiffies(): { busy: number; total: number } {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - (f[4] ?? 0), total };
}

/** How busy the whole machine was (0..1 of all cores) during each operation of the last measure(). */
const busyShare = {} as Record<string, number>;

/** CPU seconds (user + system) of a process and of its children it has reaped, from /proc/<pid>/stat; 0 once gone. */
function procCpu(pid: number | "self", only: "all" | "children" = "all"): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): utime stime cutime cstime are fields 14-17.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((only === "all" ? Number(f[11]) + Number(f[12]) : 0) + Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return 0;
  }
}

/** Pids of the Docker engine's daemons (dockerd, containerd, its shims): the containers' own processes are not counted. */
function dockerDaemonPids(): number[] {
  return fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      return /^(dockerd|containerd|containerd-shim.*|docker-proxy)$/.test(fs.readFileSync(`/proc/${d}/comm`, "utf8").trim());
    } catch {
      return false;
    }
  }).map(Number);
}

/**
 * Where the CPU time of an operation went, in seconds, which the machine's load does not change much (wall time it
 * does): `engine` is everything this process started and reaped (the CLI with its language host, program, policy
 * pack and providers: the CLI waits for its plugins), `hosts` the test hosts' sshd with every session and remote
 * command under them (the docker and compose CLIs included), `dockerd` the shared Docker engine's daemons.
 */
interface CpuSplit { engine: number; hosts: number; dockerd: number }
const cpuSplit = {} as Record<string, CpuSplit>;
let sshdPids: number[] = [];
const marksFile = process.env.BENCH_MARKS;

function cpuNow(): CpuSplit {
  return {
    engine: procCpu("self", "children"),
    hosts: sshdPids.reduce((a, p) => a + procCpu(p), 0),
    dockerd: dockerDaemonPids().reduce((a, p) => a + procCpu(p), 0),
  };
}

async function timed(fn: () => Promise<unknown>, op?: string, hostCount?: number): Promise<number> {
  const c = cpuJiffies();
  const cpu = cpuNow();
  const startMs = Date.now();
  const t = process.hrtime.bigint();
  await fn();
  const sec = Number(process.hrtime.bigint() - t) / 1e9;
  const c2 = cpuJiffies();
  const cpu2 = cpuNow();
  if (op) {
    busyShare[op] = (c2.busy - c.busy) / Math.max(1, c2.total - c.total);
    cpuSplit[op] = { engine: cpu2.engine - cpu.engine, hosts: cpu2.hosts - cpu.hosts, dockerd: cpu2.dockerd - cpu.dockerd };
    // BENCH_MARKS=<file>: each operation's window, to match against process accounting (acct) records.
    if (marksFile) fs.appendFileSync(marksFile, `${hostCount}h:${op.replace(/ /g, "")} ${startMs} ${Date.now()}\n`);
  }
  return sec;
}

/** Where a no-op `up` spends its time: before the first resource event (CLI, plugins, program), across the resource events, after the last. */
interface NoopSplit { beforeResources: number; resources: number; afterResources: number }

/** BENCH_STEPS=1: where a first `up` spends its time, summed by resource type (a step's start to its outputs). */
function printSlowSteps(hostCount: number, steps: Map<string, { type: string; start: number; end: number }>): void {
  const byType = new Map<string, { n: number; sum: number; max: number }>();
  for (const s of steps.values()) {
    if (s.end === 0) continue;
    const d = (s.end - s.start) / 1e3;
    const t = byType.get(s.type) ?? { n: 0, sum: 0, max: 0 };
    byType.set(s.type, { n: t.n + 1, sum: t.sum + d, max: Math.max(t.max, d) });
  }
  console.log(`first up, ${hostCount} host(s): step seconds by resource type (count, sum, longest)`);
  for (const [type, t] of [...byType].sort((a, b) => b[1].sum - a[1].sum).slice(0, 8)) {
    console.log(`  ${type.padEnd(48)} ${String(t.n).padStart(4)} ${t.sum.toFixed(1).padStart(7)} ${t.max.toFixed(1).padStart(6)}`);
  }
}

type Sample = Record<Op, number> & { split: NoopSplit; busy: Record<Op, number>; cpu: Record<Op, CpuSplit> };

async function measure(hostCount: number, image: string, nextImage: string): Promise<Sample> {
  const fleet = await startFleet(hostCount, image);
  sshdPids = fleet.hosts.map((h) => Number(fs.readFileSync(path.join(h.ssh.dir, "sshd.pid"), "utf8").trim()));
  const stack = await EngineStack.create(`bench-${fleet.runId}`, { stateDir: path.join(fleet.root, "state"), workDir: path.join(fleet.root, "work") });
  try {
    await stack.setSecret("ephemery:sshPrivateKey", fleet.privateKey);
    stack.writeConfig({ "ephemery:network": networkConfig(fleet.server), "ephemery:hosts": fleet.hosts.map((h) => h.config) });
    const out = {} as Sample;
    out.preview = await timed(() => stack.preview(), "preview", hostCount);
    out["up (first)"] = await timed(() => stack.up(), "up (first)", hostCount);
    if (process.env.BENCH_STEPS === "1") {
      printSlowSteps(hostCount, stack.stepTimes);
      // The CLI writes the whole state at each step of an update: its size multiplies every step's cost.
      console.log(`  state after the first up: ${(stack.stateFile().length / 1024).toFixed(0)} KiB, ${await stack.resourceCount()} resources`);
    }
    out["up (no-op)"] = await timed(() => stack.up(), "up (no-op)", hostCount);
    if (stack.changes().length > 0) throw new Error(`the no-op up changed: ${stack.changes().join(", ")}`);
    const t = stack.timeline;
    out.split = { beforeResources: (t.firstResource - t.start) / 1e3, resources: (t.lastResource - t.firstResource) / 1e3, afterResources: (Date.now() - t.lastResource) / 1e3 };
    fleet.hosts[0].config.execution.image = nextImage;
    stack.writeConfig({ "ephemery:hosts": fleet.hosts.map((h) => h.config) });
    out["up (1 image)"] = await timed(() => stack.up(), "up (1 image)", hostCount);
    const touched = stack.changes().filter((c) => !c.includes(fleet.hosts[0].name));
    if (touched.length > 0) throw new Error(`changing one host's image touched other hosts: ${touched.join(", ")}`);
    out.destroy = await timed(() => stack.destroy(), "destroy", hostCount);
    out.busy = { ...busyShare } as Record<Op, number>;
    out.cpu = { ...cpuSplit } as Record<Op, CpuSplit>;
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
  const { values } = parseArgs({ options: { hosts: { type: "string", default: "1,5,10" }, runs: { type: "string", default: "1" } } });
  const counts = values.hosts!.split(",").map(Number);
  const runs = Number(values.runs);
  if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 16) || !Number.isInteger(runs) || runs < 1) {
    throw new Error(`--hosts takes host counts 1..16 separated by commas (got "${values.hosts}"), --runs a positive integer (got "${values.runs}")`);
  }
  console.log(`load average (1/5/15 min) at the start: ${os.loadavg().map((l) => l.toFixed(2)).join(" / ")} on ${os.cpus().length} cores`);
  // A user of the engine, so a test run ending meanwhile (its globalTeardown) does not stop the dockerd under the bench.
  registerUser();
  const startedDockerd = await startDockerd();
  try {
    const image = standinImage("1.0.0");
    const nextImage = standinImage("1.1.0");
    const results = new Map<number, Record<Op, number>>();
    const splits = new Map<number, NoopSplit>();
    const busy = new Map<number, Record<Op, number>>();
    const cpu = new Map<number, Record<Op, CpuSplit>>();
    for (const n of counts) {
      const samples: Sample[] = [];
      for (let r = 0; r < runs; r++) samples.push(await measure(n, image, nextImage));
      results.set(n, Object.fromEntries(OPS.map((op) => [op, median(samples.map((s) => s[op]))])) as Record<Op, number>);
      const keys = ["beforeResources", "resources", "afterResources"] as const;
      splits.set(n, Object.fromEntries(keys.map((k) => [k, median(samples.map((s) => s.split[k]))])) as unknown as NoopSplit);
      busy.set(n, Object.fromEntries(OPS.map((op) => [op, median(samples.map((s) => s.busy[op]))])) as Record<Op, number>);
      const cpuKeys = ["engine", "hosts", "dockerd"] as const;
      cpu.set(n, Object.fromEntries(OPS.map((op) => [op, Object.fromEntries(cpuKeys.map((k) => [k, median(samples.map((s) => s.cpu[op][k]))]))])) as unknown as Record<Op, CpuSplit>);
    }
    const header = ["hosts", ...OPS];
    const rows = counts.map((n) => [String(n), ...OPS.map((op) => `${results.get(n)![op].toFixed(1)} s`)]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
    console.log(line(header));
    console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
    for (const r of rows) console.log(line(r));
    console.log("");
    console.log(`machine CPU busy during each operation (share of all ${os.cpus().length} cores; near 100%: the test hosts, which share this machine, are the limit, not the engine)`);
    for (const n of counts) console.log(`  ${String(n).padStart(2)} hosts: ${OPS.map((op) => `${op} ${(busy.get(n)![op] * 100).toFixed(0)}%`).join(", ")}`);
    console.log("");
    console.log("CPU seconds per operation: engine (CLI, language host, program, policy pack, providers) + test hosts (sshd, remote commands, docker/compose CLIs) + Docker daemons");
    for (const n of counts) {
      const c = cpu.get(n)!;
      console.log(`  ${String(n).padStart(2)} hosts: ${OPS.map((op) => `${op} ${c[op].engine.toFixed(1)}+${c[op].hosts.toFixed(1)}+${c[op].dockerd.toFixed(1)}`).join(", ")}`);
    }
    if (counts.length > 1) {
      const [lo, hi] = [Math.min(...counts), Math.max(...counts)];
      const per = (op: Op, k: keyof CpuSplit) => ((cpu.get(hi)![op][k] - cpu.get(lo)![op][k]) / (hi - lo)).toFixed(2);
      console.log(`  per extra host: ${(["up (first)", "up (no-op)"] as Op[]).map((op) => `${op} ${per(op, "engine")}+${per(op, "hosts")}+${per(op, "dockerd")} s`).join(", ")}`);
    }
    console.log("");
    console.log("no-op up, split by engine events: before the first resource event (CLI, plugins, program) | resource events | after the last");
    for (const n of counts) {
      const sp = splits.get(n)!;
      console.log(`  ${String(n).padStart(2)} hosts: ${sp.beforeResources.toFixed(1)} s | ${sp.resources.toFixed(1)} s | ${sp.afterResources.toFixed(1)} s`);
    }
    if (counts.length > 1) {
      const [lo, hi] = [Math.min(...counts), Math.max(...counts)];
      const at = (n: number, op: Op) => results.get(n)![op];
      const perHost = (at(hi, "up (no-op)") - at(lo, "up (no-op)")) / (hi - lo);
      console.log(`no-op up grows by ${perHost.toFixed(2)} s per extra host (${lo} -> ${hi} hosts; median of ${runs} run(s)).`);
      console.log(`no-op up: ${at(hi, "up (no-op)").toFixed(1)} s at ${hi} hosts (goal < 30 s), ${(at(hi, "up (no-op)") / at(lo, "up (no-op)")).toFixed(2)}x of ${lo} host(s) (goal <= 1.5x)`);
      console.log(`first up: ${(at(hi, "up (first)") / at(lo, "up (first)")).toFixed(2)}x of ${lo} host(s) at ${hi} hosts (goal < 3x)`);
    }
    console.log(`load average (1/5/15 min) at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(" / ")} on ${os.cpus().length} cores`);
  } finally {
    if (startedDockerd !== undefined) await stopDockerdIfStarted();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
