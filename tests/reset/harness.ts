/**
 * Test bench for the host-side reset program: a release server on loopback that the tests publish to, tiny
 * busybox images standing in for the clients, and nodes whose rendered `ephemery-reset` runs on this machine
 * against the real Docker engine. Shared by tests/reset and bench/reset.ts.
 */
import { execFile, execFileSync, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { buildNodeSpecs, ContainerSpec, hostPaths, NodeSpecs } from "../../lib/clients";
import { renderCompose } from "../../lib/compose";
import { HostConfig, hostSchema, NetworkConfig, networkSchema } from "../../lib/config/schema";
import { chainIdOf, clGenesisTime, elGenesisTime, releaseTag } from "../../lib/ephemery";
import { renderHostScript } from "../../lib/hostScripts";
import { RESET_SCRIPT, resetScriptValues } from "../../lib/reset/values";
import { busyboxImage, docker } from "../support/dockerd";
import { buildArchive, ReleaseServer, releaseFiles } from "../support/releases";
import { freePort } from "../support/sshd";

export { buildArchive, ReleaseServer, releaseFiles } from "../support/releases";
export type { ServerMode } from "../support/releases";
export { freePort } from "../support/sshd";

export const TEST_LABEL = "ephemery-reset-test";

// --- stand-in clients ---

/**
 * One image for every role. Like the real clients it creates a node identity once, initialises chain data from the
 * mounted release only when that data is missing (as geth/erigon do), and answers eth_chainId / beacon genesis
 * from its chain data, so a node that was not wiped keeps answering for the old chain.
 */
const STANDIN = `#!/bin/sh
set -eu
T=/ephemery/testnet/current
. "$T/nodevars_env.txt"
D=/data
if [ -n "\${IDENTITY:-}" ] && [ ! -f "$D/$IDENTITY" ]; then
  mkdir -p "$(dirname "$D/$IDENTITY")"
  head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n' > "$D/$IDENTITY"
fi
mkdir -p /www/cgi-bin /www/eth/v1/beacon
case "$ROLE" in
  execution)
    [ -d "$D/$CHAIN" ] || { mkdir -p "$D/$CHAIN"; echo "$CHAIN_ID" > "$D/$CHAIN/chainid"; }
    echo "$D/$CHAIN/chainid" > /tmp/chainfile ;;
  consensus)
    [ -d "$D/$CHAIN" ] || { mkdir -p "$D/$CHAIN"; echo "$GENESIS_TIME" > "$D/$CHAIN/genesis_time"; tr -d ' \n' < "$T/genesis_validators_root.txt" > "$D/$CHAIN/genesis_validators_root"; }
    printf '{"data":{"genesis_time":"%s","genesis_validators_root":"%s","genesis_fork_version":"0x1000101b"}}' "$(cat "$D/$CHAIN/genesis_time")" "$(cat "$D/$CHAIN/genesis_validators_root")" > /www/eth/v1/beacon/genesis ;;
  validator)
    mkdir -p "$(dirname "$D/$SLASHING")"
    [ -f "$D/$SLASHING" ] || echo "slashing protection for genesis $GENESIS_TIME" > "$D/$SLASHING"
    echo "signed at $(date +%s)" >> "$D/$SLASHING" ;;
esac
if [ -n "\${PORT:-}" ]; then httpd -f -p "$PORT" -h /www & else sleep 1000000 & fi
pid=$!
trap 'kill $pid; exit 0' TERM INT
wait
`;

const EL_CGI = `#!/bin/sh
printf 'Content-Type: application/json\\r\\n\\r\\n'
printf '{"jsonrpc":"2.0","id":1,"result":"0x%x"}' "$(cat "$(cat /tmp/chainfile)")"
`;

export function standinImage(): string {
  return busyboxImage("ephemery-reset-standin", {
    "standin.sh": { content: STANDIN, mode: 0o755 },
    "www/cgi-bin/index.cgi": { content: EL_CGI, mode: 0o755 },
  });
}

/** Where each client keeps its node identity and its chain data, and whether a reset keeps the identity (EPHEMERY.md). */
export const CLIENT_LAYOUTS: Record<string, { identity: string; chain: string; identityKept: boolean }> = {
  geth: { identity: "geth/nodekey", chain: "geth/chaindata", identityKept: true },
  erigon: { identity: "nodekey", chain: "chaindata", identityKept: true },
  reth: { identity: "discovery-secret", chain: "db", identityKept: true },
  besu: { identity: "key", chain: "database", identityKept: true },
  nethermind: { identity: "keystore/node.key.plain", chain: "nethermind_db", identityKept: true },
  lighthouse: { identity: "beacon/network/key", chain: "beacon/chain_db", identityKept: true },
  teku: { identity: "beacon/kvstore/generated-node-key.dat", chain: "beacon/db", identityKept: true },
  lodestar: { identity: "peer-id.json", chain: "chain-db", identityKept: true },
  nimbus: { identity: "network_key", chain: "db", identityKept: false },
  prysm: { identity: "network-keys", chain: "beaconchaindata", identityKept: true },
};

// --- nodes ---

export interface RunResult { code: number; stdout: string; stderr: string }

export interface NodeOptions {
  execution?: string;
  consensus?: string;
  validator?: boolean;
  runtime?: "docker" | "compose";
  /** The host's checkpoint providers (default none: tests never reach public providers). */
  checkpointSyncUrls?: string[];
  /** Rendered values to replace (small download limits for the bound tests). */
  values?: Record<string, string | number>;
}

let counter = 0;

export class TestNode {
  readonly name: string;
  readonly root: string;
  readonly config: HostConfig;
  readonly specs: NodeSpecs;
  readonly paths: ReturnType<typeof hostPaths>;
  readonly script: string;

  private constructor(readonly dataDir: string, config: HostConfig, network: NetworkConfig, values: Record<string, string | number> = {}) {
    this.config = config;
    this.name = config.name;
    this.root = dataDir;
    this.specs = buildNodeSpecs({ node: config.name, host: config, checkpointSyncUrls: [] });
    this.paths = hostPaths(config.dataDir, config.name);
    for (const d of ["bin", "state", "testnet", "node-exporter", "archive", "jwt", "compose"]) fs.mkdirSync(path.join(this.paths.root, d), { recursive: true });
    this.script = path.join(this.paths.scripts, "ephemery-reset");
    fs.writeFileSync(this.script, renderHostScript(RESET_SCRIPT, { ...resetScriptValues(config, network, this.specs), ...values }), { mode: 0o755 });
  }

  static async create(server: { network: NetworkConfig }, opts: NodeOptions = {}): Promise<TestNode> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-reset-node-"));
    const name = `rt${process.pid.toString(36)}${(counter++).toString(36)}${crypto.randomBytes(2).toString("hex")}`;
    const config = hostSchema.parse({
      name,
      kind: "local",
      dataDir,
      runtime: opts.runtime ?? "docker",
      execution: { client: opts.execution ?? "geth", rpcPort: await freePort() },
      consensus: { client: opts.consensus ?? "lighthouse", beaconApiPort: await freePort(), checkpointSyncUrls: opts.checkpointSyncUrls ?? [] },
      ...(opts.validator === false ? {} : { validator: { feeRecipient: `0x${"11".repeat(20)}` } }),
    });
    return new TestNode(dataDir, config, server.network, opts.values);
  }

  get allSpecs(): ContainerSpec[] {
    return [this.specs.execution, this.specs.consensus, ...(this.specs.validator ? [this.specs.validator] : [])];
  }

  /** Runs the rendered program with the clock at `now`; `env` adds variables (EPHEMERY_RESET_PAUSE_AT...). */
  run(mode: string, now: number, env: Record<string, string> = {}): Promise<RunResult> {
    return new Promise((resolve) => {
      execFile("bash", [this.script, mode], { env: { ...process.env, EPHEMERY_NOW: String(now), ...env }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      });
    });
  }

  /** Starts a run in its own process group and SIGKILLs the whole group once it logs `paused at <phase>`. */
  async runAndKill(now: number, phase: string): Promise<string> {
    const child = spawn("bash", [this.script, "run"], { env: { ...process.env, EPHEMERY_NOW: String(now), EPHEMERY_RESET_PAUSE_AT: phase }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`never paused at ${phase}:\n${stderr}`)), 60_000);
      child.stderr!.on("data", (d) => {
        stderr += d;
        if (stderr.includes(`paused at ${phase}`)) { clearTimeout(timer); resolve(); }
      });
      child.on("exit", () => { clearTimeout(timer); reject(new Error(`exited before pausing at ${phase}:\n${stderr}`)); });
    });
    child.removeAllListeners("exit");
    const exited = new Promise((r) => child.on("exit", r));
    process.kill(-child.pid!, "SIGKILL");
    await exited;
    return stderr;
  }

  /** Creates and starts the stand-in containers the way the node's runtime would. */
  startClients(): void {
    const image = standinImage();
    const services = this.allSpecs.map((s) => this.standinSpec(s, image));
    if (this.config.runtime === "compose") {
      fs.writeFileSync(this.composeFile, renderCompose(this.name, services));
      execFileSync("docker-compose", ["-p", this.name, "-f", this.composeFile, "up", "-d"], { stdio: "pipe" });
      return;
    }
    docker(["network", "create", "--label", TEST_LABEL, `${this.name}-net`]);
    for (const s of services) {
      const args = ["run", "-d", "--name", s.name, "--label", TEST_LABEL, "--network", `${this.name}-net`, "--restart", s.restart, "--stop-timeout", "10"];
      for (const [k, v] of Object.entries(s.env)) args.push("-e", `${k}=${v}`);
      for (const m of s.mounts) args.push("-v", `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`);
      for (const p of s.ports) if (p.hostPort !== undefined) args.push("-p", `${p.bindAddress}:${p.hostPort}:${p.containerPort}`);
      args.push("--entrypoint", s.entrypoint![0], image);
      docker(args);
    }
  }

  get composeFile(): string {
    return path.join(this.paths.compose, "docker-compose.yml");
  }

  /** The production spec with the stand-in image: same names, volumes, testnet mount and API port. */
  private standinSpec(spec: ContainerSpec, image: string): ContainerSpec {
    const layout = CLIENT_LAYOUTS[spec.client];
    const apiPort = spec.role === "execution" ? this.config.execution.rpcPort : spec.role === "consensus" ? this.config.consensus.beaconApiPort : undefined;
    const env: Record<string, string> = { ROLE: spec.role };
    if (apiPort) env.PORT = String(apiPort);
    if (spec.role === "validator") env.SLASHING = spec.slashingProtection![0];
    else { env.IDENTITY = layout.identity; env.CHAIN = layout.chain; }
    return {
      ...spec,
      image,
      entrypoint: ["/standin.sh"],
      command: [],
      env,
      memoryMiB: 64,
      stopGraceSec: 10,
      ports: apiPort ? [{ containerPort: apiPort, hostPort: apiPort, protocol: "tcp", purpose: "rpc", bindAddress: "127.0.0.1" }] : [],
      mounts: spec.mounts.filter((m) => m.kind === "volume" || m.target === "/ephemery/testnet"),
    };
  }

  private readonly volumeDirs = new Map<string, string>();

  volumeDir(role: "execution" | "consensus" | "validator"): string {
    let dir = this.volumeDirs.get(role);
    if (!dir) {
      dir = docker(["volume", "inspect", "-f", "{{.Mountpoint}}", `${this.name}-${role}-data`]).trim();
      this.volumeDirs.set(role, dir);
    }
    return dir;
  }

  readVolume(role: "execution" | "consensus" | "validator", rel: string): string | undefined {
    const p = path.join(this.volumeDir(role), rel);
    return fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined;
  }

  containerStarts(): Record<string, string> {
    const names = this.allSpecs.map((s) => s.name);
    const lines = docker(["inspect", "-f", "{{.State.Running}} {{.State.StartedAt}}", ...names]).trim().split("\n");
    return Object.fromEntries(names.map((n, i) => [n, lines[i]]));
  }

  /** Forgets the release query's back-off, for tests that move the clock backwards. */
  forgetBackoff(): void {
    fs.rmSync(path.join(this.paths.state, "query-backoff"), { force: true });
  }

  /** What the program chose for the consensus client's checkpoint sync ("" for genesis sync). */
  checkpointUrl(): string {
    return fs.readFileSync(path.join(this.paths.testnetRoot, "checkpoint-sync-url"), "utf8");
  }

  current(): string {
    return fs.readlinkSync(path.join(this.paths.testnetRoot, "current"));
  }

  metrics(): Record<string, number> {
    const text = fs.readFileSync(path.join(this.paths.textfile, "ephemery.prom"), "utf8");
    const out: Record<string, number> = {};
    for (const line of text.split("\n")) {
      const m = /^(\w+)\{[^}]*\} (\d+)$/.exec(line);
      if (m) out[m[1]] = Number(m[2]);
    }
    return out;
  }

  /** Every file under the node dir and the volumes with a hash of its content: "changes nothing" compares these. */
  snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (label: string, dir: string) => {
      if (!fs.existsSync(dir)) return;
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        const key = `${label}/${path.relative(dir, p)}`;
        if (e.isSymbolicLink()) out[key] = `-> ${fs.readlinkSync(p)}`;
        else if (e.isDirectory()) walk(key, p);
        else out[key] = crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex");
      }
    };
    walk("testnet", this.paths.testnetRoot);
    walk("archive", this.paths.archive);
    walk("state", this.paths.state);
    // When the release source was last asked is bookkeeping, not node state.
    delete out["state/last-check"];
    for (const s of this.allSpecs) {
      try { walk(s.role, this.volumeDir(s.role as "execution")); } catch { /* no volume */ }
    }
    return out;
  }

  /** Fills a volume before any container runs (layout tests). */
  seedVolume(role: "execution" | "consensus" | "validator", files: Record<string, string>): string {
    docker(["volume", "create", "--label", TEST_LABEL, `${this.name}-${role}-data`]);
    const dir = this.volumeDir(role);
    for (const [rel, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), content);
    }
    return dir;
  }

  /** Removes containers, volumes, the network and the node dir. */
  cleanup(): void {
    if (this.config.runtime === "compose" && fs.existsSync(this.composeFile)) {
      try { execFileSync("docker-compose", ["-p", this.name, "-f", this.composeFile, "down", "-v", "-t", "1"], { stdio: "pipe" }); } catch { /* fall through */ }
    }
    for (const s of this.allSpecs) {
      try { docker(["rm", "-f", "-v", s.name]); } catch { /* absent */ }
      try { docker(["volume", "rm", "-f", `${this.name}-${s.role}-data`]); } catch { /* absent */ }
    }
    try { docker(["network", "rm", `${this.name}-net`]); } catch { /* absent */ }
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** Polls until `fn` returns true or the deadline passes. */
export async function waitFor(fn: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function httpGet(url: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: body ? "POST" : "GET", headers: body ? { "content-type": "application/json" } : {}, timeout: 2000 }, (res) => {
      let data = "";
      res.on("data", (d) => (data += d));
      res.on("end", () => (res.statusCode === 200 ? resolve(data) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** What the node's EL and CL answer right now. */
export async function nodeAnswers(node: TestNode): Promise<{ chainId: number; genesisTime: number }> {
  const el = JSON.parse(await httpGet(`http://127.0.0.1:${node.config.execution.rpcPort}`, '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'));
  const cl = JSON.parse(await httpGet(`http://127.0.0.1:${node.config.consensus.beaconApiPort}/eth/v1/beacon/genesis`));
  return { chainId: Number.parseInt(el.result, 16), genesisTime: Number(cl.data.genesis_time) };
}

// --- hostile or odd HTTP servers on loopback ---

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A loopback HTTP server whose behaviour the test sets per request path; counts requests by path. */
export class ScriptedServer {
  handler: Handler = (_req, res) => { res.writeHead(404); res.end(); };
  readonly hits = new Map<string, number>();
  private server?: http.Server;
  port = 0;

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const p = (req.url ?? "").split("?")[0];
      this.hits.set(p, (this.hits.get(p) ?? 0) + 1);
      this.handler(req, res);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server!.address() as import("net").AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** This server as a node's release source (GitHub's paths). */
  get network(): NetworkConfig {
    return networkSchema.parse({ release: { latestUrl: `${this.url}/releases/latest`, archiveUrl: `${this.url}/download/{tag}/testnet-all.tar.gz` } });
  }

  count(p: string): number {
    return this.hits.get(p) ?? 0;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

/** A beacon API that answers genesis and finality as a checkpoint provider would. */
export function beaconProvider(server: ScriptedServer, answer: { genesisTime: number; root: string; finalizedEpoch: number; raw?: string }): void {
  server.handler = (req, res) => {
    const json = (body: string) => { res.writeHead(200, { "content-type": "application/json" }); res.end(body); };
    if (req.url === "/eth/v1/beacon/genesis") {
      json(answer.raw ?? JSON.stringify({ data: { genesis_time: String(answer.genesisTime), genesis_validators_root: answer.root, genesis_fork_version: "0x1000101b" } }));
    } else if (req.url === "/eth/v1/beacon/states/head/finality_checkpoints") {
      const cp = (epoch: number) => ({ epoch: String(epoch), root: `0x${"ab".repeat(32)}` });
      json(JSON.stringify({ execution_optimistic: false, finalized: false, data: { previous_justified: cp(answer.finalizedEpoch + 1), current_justified: cp(answer.finalizedEpoch + 1), finalized: cp(answer.finalizedEpoch) } }));
    } else {
      res.writeHead(404); res.end();
    }
  };
}

/** The genesis_validators_root of a release as the test releases carry it. */
export function releaseRoot(iteration: number): string {
  return releaseFiles(iteration)["genesis_validators_root.txt"].trim();
}
