/**
 * The engine tier's bench: the real Pulumi CLI (from scripts/toolchain.sh) driven through the Automation API,
 * state in a file:// backend, test hosts that are real sshd processes on loopback reaching this machine's real
 * Docker engine, stand-in client images, and a release server on loopback. Shared by tests/e2e and bench/engine.ts.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { EngineEvent, LocalWorkspace, OpType, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { iterationAt } from "../../lib/ephemery";
import { docker } from "../support/dockerd";
import { claimPidFile } from "../support/processes";
import { freePort, startSshHost, TestSshHost } from "../support/sshd";
import { ReleaseServer } from "../support/releases";

export const REPO = path.resolve(__dirname, "..", "..");
export const POLICY_PACK = path.join(REPO, "policies");
/** The passphrase of test and local stacks (docs/readme/engine.md); it guards nothing of value. */
export const TEST_PASSPHRASE = "ephemery-local";

/**
 * The toolchain's environment (PATH, PULUMI_HOME, no update checks, no plugin downloads), read from the
 * .toolchain/env.sh that scripts/toolchain.sh writes, so the tests use exactly what operators source.
 */
export function toolchainEnv(): Record<string, string> {
  const envFile = path.join(REPO, ".toolchain", "env.sh");
  if (!fs.existsSync(envFile)) {
    throw new Error(`${envFile} is missing: build or reuse the Pulumi toolchain first with: bash scripts/toolchain.sh`);
  }
  const dump = execFileSync("bash", ["-c", `. "$1" && env -0`, "env", envFile], { encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
  const env: Record<string, string> = {};
  for (const entry of dump.split("\0")) {
    const i = entry.indexOf("=");
    if (i > 0 && /^(PATH|PULUMI_[A-Z_]+)$/.test(entry.slice(0, i))) env[entry.slice(0, i)] = entry.slice(i + 1);
  }
  return env;
}

/** The `pulumi` the toolchain put first on PATH. */
export function pulumiBinary(env: Record<string, string>): string {
  return execFileSync("bash", ["-c", "command -v pulumi"], { encoding: "utf8", env }).trim();
}

/** Ports one test host's clients listen on; each host gets its own, since they share this machine. */
export interface HostPorts {
  elP2p: number; rpc: number; ws: number; elMetrics: number;
  clP2p: number; quic: number; beacon: number; clMetrics: number;
  keymanager: number; vcMetrics: number;
  prometheus: number; alertmanager: number; grafana: number; nodeExporter: number; validatorExporter: number;
}

export interface E2eHost {
  name: string;
  ssh: TestSshHost;
  dataDir: string;
  ports: HostPorts;
  /** The host's node directory (`<dataDir>/<name>`). */
  nodeDir: string;
  /** The host's entry of `ephemery:hosts`; tests change it between operations. */
  config: Record<string, any>;
}

export interface Fleet {
  runId: string;
  root: string;
  hosts: E2eHost[];
  server: ReleaseServer;
  iteration: number;
  /** The private key every test host accepts (ephemery:sshPrivateKey). */
  privateKey: string;
  stop(): Promise<void>;
}

async function hostPorts(): Promise<HostPorts> {
  const names: (keyof HostPorts)[] = ["elP2p", "rpc", "ws", "elMetrics", "clP2p", "quic", "beacon", "clMetrics", "keymanager", "vcMetrics", "prometheus", "alertmanager", "grafana", "nodeExporter", "validatorExporter"];
  const out = {} as HostPorts;
  for (const n of names) {
    let p = await freeClientPort();
    while (!reservePort(p)) p = await freeClientPort();
    out[n] = p;
  }
  return out;
}

/**
 * Ports handed to test hosts: nothing binds them before `compose up`, so none may go to two hosts, in this
 * process or in another test run on the machine. A file per port under PORTS_DIR (created exclusively, holding
 * the owner's pid) reserves it until this process exits; a file whose owner is gone is taken over.
 */
const PORTS_DIR = path.join(os.tmpdir(), "ephemery-test-ports");
const reservedPorts = new Set<number>();

export function reservePort(port: number): boolean {
  if (reservedPorts.has(port)) return false;
  fs.mkdirSync(PORTS_DIR, { recursive: true });
  const file = path.join(PORTS_DIR, String(port));
  if (claimPidFile(file) !== undefined) return false;
  if (reservedPorts.size === 0) process.once("exit", releasePorts);
  reservedPorts.add(port);
  return true;
}

function releasePorts(): void {
  for (const p of reservedPorts) fs.rmSync(path.join(PORTS_DIR, String(p)), { force: true });
  reservedPorts.clear();
}

/**
 * A free port below the kernel's ephemeral range (32768-60999): a client's port is bound only later, by
 * `compose up`, and a port from the ephemeral range can be taken meanwhile by any outgoing connection or
 * another test's freePort() on this shared machine ("bind: address already in use").
 */
async function freeClientPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const p = 20000 + Math.floor(Math.random() * 12000);
    if (await portIsFree(p)) return p;
  }
  return freePort();
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/**
 * Starts `count` test hosts (sshd on 127.0.0.1, root key, each with its own data dir) and a release server that
 * publishes the current iteration. Every host accepts the first host's client key, so one ephemery:sshPrivateKey
 * serves the stack.
 */
export async function startFleet(count: number, image: string): Promise<Fleet> {
  const runId = `${process.pid.toString(36)}${crypto.randomBytes(2).toString("hex")}`;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-e2e-"));
  const server = new ReleaseServer();
  await server.start();
  const iteration = iterationAt(Math.floor(Date.now() / 1000));
  server.publish(iteration);
  const hosts: E2eHost[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const ssh = await startSshHost();
      if (i > 0) fs.appendFileSync(path.join(ssh.dir, "authorized_keys"), fs.readFileSync(`${hosts[0].ssh.privateKeyFile}.pub`));
      const name = `e2e${runId}${String.fromCharCode(97 + i)}`;
      const dataDir = path.join(root, `host-${i}`);
      const ports = await hostPorts();
      hosts.push({ name, ssh, dataDir, ports, nodeDir: path.join(dataDir, name), config: hostConfig(name, ssh, dataDir, ports, image) });
    }
  } catch (e) {
    for (const h of hosts) await h.ssh.stop();
    await server.stop();
    throw e;
  }
  const fleet: Fleet = {
    runId, root, hosts, server, iteration,
    privateKey: hosts[0].ssh.privateKey,
    async stop() {
      for (const h of hosts) cleanHost(h);
      for (const h of hosts) await h.ssh.stop();
      await server.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  return fleet;
}

/** A compose-runtime full node reached over SSH, with this host's own ports and the stand-in image. */
function hostConfig(name: string, ssh: TestSshHost, dataDir: string, p: HostPorts, image: string): Record<string, any> {
  return {
    name,
    kind: "ssh",
    address: ssh.host,
    ssh: { user: "root", port: ssh.port },
    runtime: "compose",
    dataDir,
    execution: { client: "geth", image, p2pPort: p.elP2p, rpcPort: p.rpc, wsPort: p.ws, metricsPort: p.elMetrics, memoryMiB: 256 },
    consensus: { client: "lighthouse", image, p2pPort: p.clP2p, quicPort: p.quic, beaconApiPort: p.beacon, metricsPort: p.clMetrics, memoryMiB: 256 },
    monitoring: { enabled: false },
    reset: { enabled: true, schedule: "*/5 * * * *" },
  };
}

/**
 * Turns a host into a validator node: keys from `keysDir` (EIP-2335 keystores on this machine) and the monitoring
 * stack the policy pack requires beside a validator, on this host's own ports.
 */
export function withValidator(h: E2eHost, image: string, keysDir: string, expectedCount: number): Record<string, any> {
  const p = h.ports;
  return {
    ...h.config,
    validator: { image, feeRecipient: `0x${"11".repeat(20)}`, graffiti: h.name, keymanagerPort: p.keymanager, metricsPort: p.vcMetrics, memoryMiB: 256, keys: { path: keysDir, expectedCount } },
    monitoring: {
      enabled: true, prometheusPort: p.prometheus, alertmanagerPort: p.alertmanager, grafanaPort: p.grafana,
      nodeExporterPort: p.nodeExporter, validatorExporterPort: p.validatorExporter,
    },
  };
}

/** The stack's `ephemery:network`: the loopback release server, genesis sync (no public provider is reachable). */
export function networkConfig(server: ReleaseServer): Record<string, unknown> {
  return {
    release: {
      latestUrl: `http://127.0.0.1:${server.port}/releases/latest`,
      archiveUrl: `http://127.0.0.1:${server.port}/download/{tag}/testnet-all.tar.gz`,
    },
    checkpointSyncUrls: [],
    genesisSyncFallback: true,
  };
}

export interface StepRecord { op: OpType; urn: string; type: string }

/** One stack of the tier: a work dir of its own whose Pulumi.yaml points `main` at the repository's program. */
export class EngineStack {
  readonly steps: StepRecord[] = [];
  readonly policyEvents: { policyName: string; message: string; enforcementLevel: string; resourceUrn?: string }[] = [];
  /** Diagnostics of the last operation: `pulumi.log` lines and the command provider's logged output (ephemeral). */
  readonly diagnostics: { severity: string; message: string; urn?: string; ephemeral: boolean }[] = [];
  /** When (ms since the epoch) the last operation started, saw its first and last resource event, and ended. */
  timeline = { start: 0, firstResource: 0, lastResource: 0, end: 0 };
  /** Per resource of the last operation: its type and when its step started and ended (ms since the epoch). */
  readonly stepTimes = new Map<string, { type: string; start: number; end: number }>();
  log = "";

  private constructor(readonly stack: Stack, readonly workDir: string, readonly stateDir: string, readonly policyPack: string) {}

  /**
   * A stack of the repository's program, or of another one (`program`: a project name and its main directory,
   * JavaScript); `policyPack` (default: the repository's) is what `preview`/`up` enforce.
   */
  static async create(
    stackName: string,
    opts: { stateDir: string; workDir: string; program?: { name: string; main: string }; policyPack?: string },
  ): Promise<EngineStack> {
    const env = toolchainEnv();
    fs.mkdirSync(opts.stateDir, { recursive: true });
    fs.mkdirSync(opts.workDir, { recursive: true });
    fs.writeFileSync(
      path.join(opts.workDir, "Pulumi.yaml"),
      yaml.dump(opts.program
        ? { name: opts.program.name, runtime: { name: "nodejs", options: { typescript: false } }, main: opts.program.main }
        : { name: "ephemery", runtime: { name: "nodejs", options: { typescript: true } }, main: REPO }),
    );
    const pulumiCommand = await PulumiCommand.get({ root: path.dirname(path.dirname(pulumiBinary(env))), skipVersionCheck: true });
    const stack = await LocalWorkspace.createStack(
      { stackName, workDir: opts.workDir },
      {
        pulumiCommand,
        envVars: {
          ...env,
          PULUMI_BACKEND_URL: `file://${opts.stateDir}`,
          PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE,
          // Type checking is `npx tsc --noEmit`'s job; the engine tier measures the engine, not tsc.
          TS_NODE_TRANSPILE_ONLY: "true",
        },
      },
    );
    return new EngineStack(stack, opts.workDir, opts.stateDir, opts.policyPack ?? POLICY_PACK);
  }

  get configFile(): string {
    return path.join(this.workDir, `Pulumi.${this.stack.name}.yaml`);
  }

  /** Writes structured `ephemery:*` values into the stack file, as an operator edits it. */
  writeConfig(values: Record<string, unknown>): void {
    const doc = (fs.existsSync(this.configFile) ? yaml.load(fs.readFileSync(this.configFile, "utf8")) : {}) as { config?: Record<string, unknown> } ?? {};
    doc.config = { ...(doc.config ?? {}), ...values };
    fs.writeFileSync(this.configFile, yaml.dump(doc, { lineWidth: -1 }));
  }

  async setSecret(key: string, value: string): Promise<void> {
    await this.stack.setConfig(key, { value, secret: true });
  }

  /** Options every operation shares: record each step and policy event, keep the output for failure messages. */
  private observe(policy: boolean) {
    this.steps.length = 0;
    this.policyEvents.length = 0;
    this.diagnostics.length = 0;
    this.log = "";
    this.timeline = { start: Date.now(), firstResource: 0, lastResource: 0, end: 0 };
    this.stepTimes.clear();
    return {
      ...(policy ? { policyPacks: [this.policyPack] } : {}),
      onOutput: (s: string) => { this.log += s; },
      onEvent: (e: EngineEvent) => {
        const now = Date.now();
        if (e.resourcePreEvent || e.resOutputsEvent) {
          if (this.timeline.firstResource === 0) this.timeline.firstResource = now;
          this.timeline.lastResource = now;
          const pre = e.resourcePreEvent?.metadata;
          if (pre && pre.type !== "pulumi:pulumi:Stack") this.stepTimes.set(pre.urn, { type: pre.type, start: now, end: 0 });
          const done = e.resOutputsEvent?.metadata;
          const t = done && this.stepTimes.get(done.urn);
          if (t) t.end = now;
        }
        if (e.summaryEvent || e.cancelEvent) this.timeline.end = now;
        if (e.diagnosticEvent) {
          const d = e.diagnosticEvent;
          this.diagnostics.push({ severity: d.severity, message: d.message, urn: d.urn, ephemeral: d.ephemeral ?? false });
        }
        const m = e.resOutputsEvent?.metadata ?? (e.resourcePreEvent?.planning ? e.resourcePreEvent.metadata : undefined);
        if (m && !this.steps.some((s) => s.urn === m.urn && s.op === m.op)) this.steps.push({ op: m.op, urn: m.urn, type: m.type });
        if (e.policyEvent) {
          const p = e.policyEvent;
          this.policyEvents.push({ policyName: p.policyName, message: p.message, enforcementLevel: p.enforcementLevel, resourceUrn: p.resourceUrn });
        }
      },
    };
  }

  async preview(opts: { policy?: boolean } = {}) {
    return this.stack.preview({ ...this.observe(opts.policy ?? true), diff: true });
  }

  async up(opts: { policy?: boolean } = {}) {
    return this.stack.up({ ...this.observe(opts.policy ?? true) });
  }

  async refresh() {
    return this.stack.refresh({ ...this.observe(false) });
  }

  async destroy() {
    return this.stack.destroy({ ...this.observe(false) });
  }

  /** Steps other than `same` (and `refresh` reads), as `op name` pairs: what an operation changed. Providers are left out. */
  changes(): string[] {
    return this.steps
      .filter((s) => s.op !== "same" && s.op !== "read" && s.op !== "refresh" && !s.type.startsWith("pulumi:providers:"))
      .map((s) => `${s.op} ${s.urn.split("::").pop()}`)
      .sort();
  }

  /** Resources the backend holds for this stack. */
  async resourceCount(): Promise<number> {
    const state = await this.stack.exportStack();
    return (state.deployment?.resources ?? []).filter((r: { type: string }) => r.type !== "pulumi:pulumi:Stack").length;
  }

  /**
   * URNs of the custom resources (things that exist somewhere) the backend holds for this stack. Provider
   * instances are left out: the engine may record the default provider before a policy stops the update, and it
   * exists nowhere but in the state.
   */
  async customResources(): Promise<string[]> {
    const state = await this.stack.exportStack();
    return (state.deployment?.resources ?? [])
      .filter((r: { custom?: boolean; type: string }) => r.custom && !r.type.startsWith("pulumi:providers:"))
      .map((r: { urn: string }) => r.urn);
  }

  /** The stack's state file as the file:// backend stores it (secrets encrypted), not `stack export --show-secrets`. */
  stateFile(): string {
    return fs.readFileSync(path.join(this.stateDir, ".pulumi", "stacks", "ephemery", `${this.stack.name}.json`), "utf8");
  }

  async remove(): Promise<void> {
    await this.stack.workspace.removeStack(this.stack.name, { force: true });
  }
}

// --- what a host holds ---

export function containersOf(node: string): string[] {
  return docker(["ps", "-a", "--filter", `label=ephemery.node=${node}`, "--format", "{{.Names}}"]).split("\n").filter(Boolean).sort();
}

export function inspect(container: string): any {
  return JSON.parse(docker(["inspect", container]))[0];
}

export function volumesOf(node: string): string[] {
  return docker(["volume", "ls", "-q"]).split("\n").filter((v) => v.startsWith(`${node}-`)).sort();
}

export function cronFile(node: string): string {
  return `/etc/cron.d/ephemery-${node}`;
}

/** Every file under a dir (relative paths), for "nothing of ours is left" checks. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && !e.isSymbolicLink()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Removes whatever a failed run may have left of a host: containers, volumes, network, cron files. */
export function cleanHost(h: E2eHost): void {
  for (const c of containersOf(h.name)) {
    try { docker(["rm", "-f", "-v", c]); } catch { /* gone */ }
  }
  for (const v of volumesOf(h.name)) {
    try { docker(["volume", "rm", "-f", v]); } catch { /* gone */ }
  }
  try { docker(["network", "rm", `${h.name}-net`]); } catch { /* absent */ }
  for (const f of fs.readdirSync("/etc/cron.d")) {
    if (f.startsWith(`ephemery-${h.name}`)) fs.rmSync(path.join("/etc/cron.d", f), { force: true });
  }
}

/** Polls until `fn` returns true or the deadline passes. */
export async function waitFor(fn: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await fn()) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
