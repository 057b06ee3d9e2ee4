/**
 * The two-node live chain deployed by `pulumi up`: the engine tier's bench (tests/e2e/harness.ts: Automation API,
 * the toolchain's CLI, SSH test hosts on loopback sharing this machine's Docker engine, the loopback release
 * server) with real geth + prysm beacon + prysm validator on each host, half the genesis validators each through
 * `ValidatorKeys`, and releases from tests/support/chainRelease.ts on the configurable `ephemery:network.schedule`.
 *
 * How the nodes find each other: the release's boot files name them, as upstream's name Ephemery's bootnodes. The
 * boot records are made before the first start (tests/support/nodeIdentity.ts) and each client's key is written
 * onto its data volume before `pulumi up`, where the client reads it at start (the volumes outlive `destroy`, as
 * the identity volumes of any node do). The address in them is the Docker bridge's gateway: a container reaches
 * another node's published p2p port there (the hosts share one engine; 127.0.0.1 inside a container is itself).
 *
 * Stand-ins that remain, and what they stand for:
 *  - `CronStandin` runs each host's /etc/cron.d/ephemery-<node> entry (`* * * * *`) at every minute boundary over
 *    SSH, as crond would: no cron daemon runs on this machine.
 * Shared by tests/chain/twoNodes.test.ts and bench/chain.ts.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { volumeName } from "../../lib/clients/common";
import { docker } from "../support/dockerd";
import { NodeIdentity } from "../support/nodeIdentity";
import { E2eHost } from "../e2e/harness";

/** The Docker bridge's gateway: an address of this machine every container can reach published ports on. */
export function bridgeGateway(): string {
  const ip = docker(["network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", "bridge"]).trim();
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) throw new Error(`the Docker bridge network has no IPv4 gateway (${JSON.stringify(ip)})`);
  return ip;
}

/**
 * Writes the clients' p2p keys onto their data volumes before the first start: geth's `geth/nodekey`, prysm's
 * `network-keys` (see tests/support/nodeIdentity.ts for the files' formats and where the clients read them).
 */
export function seedIdentities(node: string, image: string, el: NodeIdentity, cl: NodeIdentity): void {
  for (const role of ["execution", "consensus"] as const) {
    const vol = volumeName(node, role);
    try { docker(["volume", "rm", "-f", vol]); } catch { /* absent */ }
    docker(["volume", "create", "--label", `ephemery.role=${role}`, vol]);
  }
  const script = 'set -eu; mkdir -p /el/geth; printf %s "$1" > /el/geth/nodekey; printf %s "$2" > /cl/network-keys; chmod 600 /el/geth/nodekey /cl/network-keys';
  docker(["run", "--rm", "--network", "none", "--user", "0:0", "-v", `${volumeName(node, "execution")}:/el`, "-v", `${volumeName(node, "consensus")}:/cl`,
    "--entrypoint", "/bin/sh", image, "-c", script, "seed", el.key, cl.key]);
}

/** GET (or POST with a JSON body) with a deadline: a server that accepts and never answers must not hold the test. */
async function httpGet(url: string, body?: string): Promise<string> {
  const res = await fetch(url, { method: body ? "POST" : "GET", headers: body ? { "content-type": "application/json" } : {}, body, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return text;
}

/** One host's APIs on loopback. */
export class NodeApi {
  constructor(readonly host: E2eHost) {}

  get name(): string { return this.host.name; }

  async rpc<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const body = JSON.parse(await httpGet(`http://127.0.0.1:${this.host.ports.rpc}`, JSON.stringify({ jsonrpc: "2.0", id: 1, method, params })));
    if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
    return body.result as T;
  }

  async beacon<T = any>(p: string): Promise<T> {
    return JSON.parse(await httpGet(`http://127.0.0.1:${this.host.ports.beacon}${p}`)) as T;
  }

  async beaconPost<T = any>(p: string, body: unknown): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.host.ports.beacon}${p}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`POST ${p}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  async prometheus<T = any>(p: string): Promise<T> {
    return JSON.parse(await httpGet(`http://127.0.0.1:${this.host.ports.prometheus}${p}`)) as T;
  }

  async query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const r = await this.prometheus(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    if (r.status !== "success") throw new Error(`query ${expr}: ${JSON.stringify(r)}`);
    return r.data.result;
  }

  async blockNumber(): Promise<number> { return Number.parseInt(await this.rpc<string>("eth_blockNumber"), 16); }
  async chainId(): Promise<number> { return Number.parseInt(await this.rpc<string>("eth_chainId"), 16); }
  async headSlot(): Promise<number> { return Number((await this.beacon("/eth/v1/beacon/headers/head")).data.header.message.slot); }
  async identity(): Promise<{ peer_id: string; enr: string; p2p_addresses: string[] }> { return (await this.beacon("/eth/v1/node/identity")).data; }

  async finality(): Promise<{ current_justified: { epoch: string; root: string }; finalized: { epoch: string; root: string } }> {
    return (await this.beacon("/eth/v1/beacon/states/head/finality_checkpoints")).data;
  }

  async connectedPeerIds(): Promise<string[]> {
    return ((await this.beacon("/eth/v1/node/peers?state=connected")).data as { peer_id: string }[]).map((p) => p.peer_id);
  }

  /** geth's own view through its IPC console (the HTTP API serves eth, net, web3 only). */
  gethConsole(expr: string): string {
    return docker(["exec", `${this.name}-execution`, "geth", "attach", "--exec", expr, "/data/geth.ipc"]).trim();
  }

  enode(): string { return this.gethConsole("admin.nodeInfo.enode").replace(/^"|"$/g, ""); }

  /** Enode URLs of geth's connected peers. */
  elPeers(): string[] {
    return JSON.parse(JSON.parse(this.gethConsole("JSON.stringify(admin.peers.map(function (p) { return p.enode; }))"))) as string[];
  }

  async balances(indices: number[], state = "head"): Promise<bigint[]> {
    const data = (await this.beacon(`/eth/v1/beacon/states/${state}/validator_balances?id=${indices.join(",")}`)).data as { index: string; balance: string }[];
    return indices.map((i) => BigInt(data.find((d) => Number(d.index) === i)!.balance));
  }

  logs(role: string, tail = 40): string {
    try { return docker(["logs", "--tail", String(tail), `${this.name}-${role}`]); } catch (e) { return String((e as { stderr?: string }).stderr ?? e); }
  }
}

/** Stands in for crond: runs each host's cron.d entry over SSH at every minute boundary. */
export class CronStandin {
  private timer?: NodeJS.Timeout;
  private running = new Set<string>();
  readonly runs: { host: string; at: number; code: number | null; stderr: string }[] = [];
  stopped = false;

  constructor(private readonly hosts: E2eHost[]) {}

  /** The command of the host's entry (`m h dom mon dow user command`), as crond would run it with SHELL=/bin/bash. */
  static entryCommand(h: E2eHost): string {
    const text = fs.readFileSync(`/etc/cron.d/ephemery-${h.name}`, "utf8");
    const line = text.split("\n").find((l) => /^\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+root\s+/.test(l));
    if (!line) throw new Error(`/etc/cron.d/ephemery-${h.name} has no entry: ${text}`);
    return line.replace(/^(\S+\s+){6}/, "");
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      for (const h of this.hosts) {
        try { void this.runOnce(h); } catch (e) { process.stderr.write(`cron stand-in: ${h.name}: ${(e as Error).message}\n`); }
      }
      this.timer = setTimeout(tick, 60_000 - (Date.now() % 60_000));
    };
    this.timer = setTimeout(tick, 60_000 - (Date.now() % 60_000));
  }

  /** One run of the entry, unless the previous one is still going (the program's own lock would refuse it too). */
  runOnce(h: E2eHost): Promise<number | null> {
    if (this.running.has(h.name)) return Promise.resolve(null);
    this.running.add(h.name);
    const cmd = CronStandin.entryCommand(h);
    const args = ["-i", h.ssh.privateKeyFile, "-p", String(h.ssh.port), "-o", "StrictHostKeyChecking=no", "-o", `UserKnownHostsFile=${path.join(h.ssh.dir, "known_hosts")}`, "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
      `root@${h.ssh.host}`, `SHELL=/bin/bash PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c ${shq(cmd)}`];
    return new Promise((resolve) => {
      const child = spawn("ssh", args, { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr!.on("data", (d) => { stderr += d; });
      child.on("error", (e) => { stderr += String(e); });
      child.on("close", (code) => {
        this.running.delete(h.name);
        this.runs.push({ host: h.name, at: Date.now(), code, stderr });
        process.stderr.write(`cron stand-in: ${h.name} ran its reset entry, exit ${code}${stderr ? `: ${stderr.trim().slice(0, 300)}` : ""}\n`);
        resolve(code);
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running.size > 0) await new Promise((r) => setTimeout(r, 500));
  }
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
