/** Helpers for the monitoring tests: free ports, polling, processes we start and stop ourselves. */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hostSchema, HostConfig } from "../../lib/config/schema";

export { freePort } from "../support/sshd";

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

export interface Started { proc: ChildProcess; log: () => string; stop: () => Promise<void> }

/** Starts a long-running program; `stop` sends SIGTERM, then SIGKILL, and waits for it to exit. */
export function startProcess(cmd: string, args: string[], opts: { cwd?: string } = {}): Started {
  let out = "";
  const proc = spawn(cmd, args, { cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  return {
    proc,
    log: () => out,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once("exit", () => r()));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Prometheus text format -> `name{labels}` -> value (labels as written by the exporter). */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ephemery-${prefix}-`));
}

const FEE = `0x${"ab".repeat(20)}`;

/** A validated host config for a client mix, as the schema produces it. */
export function hostFor(el: string, cl: string, vc: string | null, monitoring: Record<string, unknown> = {}, name = "n1"): HostConfig {
  return hostSchema.parse({
    name,
    execution: { client: el },
    consensus: { client: cl },
    ...(vc ? { validator: { client: vc, feeRecipient: FEE } } : {}),
    monitoring,
  });
}

/** Client mixes the tool checks run over: every client of each role appears at least once. */
export const MIXES: [string, string, string | null][] = [
  ["geth", "lighthouse", "lighthouse"],
  ["nethermind", "teku", "teku"],
  ["besu", "prysm", "prysm"],
  ["reth", "nimbus", "nimbus"],
  ["erigon", "lodestar", "lodestar"],
  ["geth", "prysm", null],
];
