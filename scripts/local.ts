/**
 * `npm run local` after scripts/local.sh has found a Docker engine and a Pulumi CLI: picks the world and the
 * runtime, writes the git-ignored stack file, runs `pulumi up` with the repository's own program, and prints a
 * summary. `--destroy` (npm run local:destroy) takes down what the local stacks made.
 *
 * Worlds:
 *   online  stack `workstation`, a git-ignored copy of the tracked template Pulumi.local.yaml (made once, then the
 *           user's own file), joining the real Ephemery;
 *   devnet  stack `devnet`, a generated Pulumi.devnet.yaml: geth + prysm + prysm validator from the locally built
 *           images, releases generated here and served from a detached loopback server, a one-hour reset period.
 * Both run the same program (index.ts), components and reset program.
 */
import { execFileSync, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { LOCAL_MONITORING_IMAGES } from "../lib/config/images";
import { iterationAt, releaseTag } from "../lib/ephemery";
import { clientBinaries } from "../tests/support/chainClients";
import { encryptKeystore } from "../lib/keys/keystoreWriter";
import { scheduleOf } from "../tests/support/chainRelease";
import { processAlive } from "../tests/support/processes";
import * as devnet from "./devnet";

const ROOT = path.resolve(__dirname, "..");
const STATE = path.join(ROOT, ".pulumi-state");
const DEVNET = path.join(STATE, "devnet");
const TEMPLATE = path.join(ROOT, "Pulumi.local.yaml");
const ONLINE_STACK = "workstation";
const DEVNET_STACK = "devnet";
const DEVNET_NODE = "devnet";
const DEVNET_DATA = path.join(os.homedir(), ".ephemery-devnet");
const PERIOD_SEC = 3600;
// prysmctl stamps genesis.json with the CL genesis time, so EL and CL genesis coincide: GENESIS_DELAY 0 keeps every
// file of the release consistent for the reset program's release check.
const GENESIS_DELAY_SEC = 0;

const say = (m: string) => console.log(`local: ${m}`);
const step = (m: string) => console.log(`\n==> ${m}`);

class Fail extends Error {}

function pulumi(args: string[], opts: { input?: string; quiet?: boolean } = {}): string {
  const r = spawnSync("pulumi", args, {
    cwd: ROOT,
    input: opts.input,
    encoding: "utf8",
    stdio: [opts.input === undefined ? "inherit" : "pipe", opts.quiet ? "pipe" : "inherit", opts.quiet ? "pipe" : "inherit"],
  });
  if (r.status !== 0) throw new Fail(`pulumi ${args[0]} ${args[1] ?? ""} failed (exit ${r.status})${opts.quiet ? `:\n${(r.stderr ?? "").trim()}` : ""}`);
  return r.stdout ?? "";
}

function stacks(): string[] {
  try {
    return (JSON.parse(pulumi(["stack", "ls", "--json"], { quiet: true })) as { name: string }[]).map((s) => s.name.split("/").pop()!);
  } catch {
    return [];
  }
}

function tracked(file: string): boolean {
  return spawnSync("git", ["ls-files", "--error-unmatch", file], { cwd: ROOT, stdio: "ignore" }).status === 0;
}

/** docker when the Docker provider plugin is installed, compose otherwise. */
function detectRuntime(): "docker" | "compose" {
  let plugins: { name: string; kind: string }[] = [];
  try {
    plugins = JSON.parse(pulumi(["plugin", "ls", "--json"], { quiet: true }));
  } catch { /* no plugins */ }
  return plugins.some((p) => p.kind === "resource" && p.name === "docker") ? "docker" : "compose";
}

async function reachable(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(8000), headers: { accept: "application/json" } });
    if (!res.ok) return `HTTP ${res.status}`;
    const body = (await res.json()) as { tag_name?: string };
    return body.tag_name ? undefined : "no tag_name in the answer";
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    return err.cause?.code ?? err.cause?.message ?? err.message;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

async function pickPort(preferred: number, taken: Set<number>): Promise<number> {
  let p = preferred;
  while (taken.has(p) || !(await portFree(p))) p++;
  taken.add(p);
  return p;
}

async function rpcBlock(port: number): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
      signal: AbortSignal.timeout(3000),
    });
    const body = (await res.json()) as { result?: string };
    return body.result ? Number.parseInt(body.result, 16) : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const clock = (t: number) => new Date(t * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");

// ---------------------------------------------------------------------------------------------------- online

async function online(runtime: string, upArgs: string[]): Promise<void> {
  say("world: ONLINE, the real Ephemery (stack workstation, release source from Pulumi.local.yaml)");
  const file = path.join(ROOT, `Pulumi.${ONLINE_STACK}.yaml`);
  if (!fs.existsSync(file)) {
    const text = fs.readFileSync(TEMPLATE, "utf8").replace(/^(\s*runtime:\s*)docker\s*$/m, `$1${runtime}`);
    fs.writeFileSync(file, `# Made by npm run local from the template Pulumi.local.yaml; yours to edit (git-ignored).\n${text}`);
    say(`wrote ${path.basename(file)} from the template (runtime: ${runtime}); edit it, not the template`);
  }
  execFileSync("node", [path.join(ROOT, "bin", "ephemery.js"), "config", "check", "--stack", ONLINE_STACK], { cwd: ROOT, stdio: "inherit" });
  if (!stacks().includes(ONLINE_STACK)) pulumi(["stack", "init", ONLINE_STACK], { quiet: true });
  pulumi(["up", "--stack", ONLINE_STACK, "--yes", ...upArgs]);
  console.log(["", "==== summary ====", "world:     online (the real Ephemery)",
    `stack:     ${ONLINE_STACK} (file Pulumi.${ONLINE_STACK}.yaml)`,
    `status:    npx ephemery status --stack ${ONLINE_STACK}`,
    `dashboard: npx ephemery dashboard --stack ${ONLINE_STACK}`,
    "tear down: npm run local:destroy", ""].join("\n"));
}

// ---------------------------------------------------------------------------------------------------- devnet

function clientImages(): void {
  step("images: geth and prysm from scripts/client-binaries.sh (about 11 min the first time on 2 cores, then cached), monitoring from Debian's packages");
  const t0 = Date.now();
  const r = spawnSync("bash", [path.join(ROOT, "scripts", "client-images.sh"), "geth", "prysm", "monitoring"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Fail("the client images could not be made (see above); scripts/client-binaries.sh builds the binaries they need");
  say(`client images ready in ${Math.round((Date.now() - t0) / 1000)}s`);
}

async function startServer(): Promise<void> {
  if (devnet.serverPid(DEVNET) !== undefined) {
    say(`release server already running (pid ${devnet.serverPid(DEVNET)})`);
    return;
  }
  const log = fs.openSync(path.join(DEVNET, "release-server.log"), "a");
  const child = spawn(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(__dirname, "devnet.ts"), "serve", DEVNET], {
    cwd: ROOT, detached: true, stdio: ["ignore", log, log],
  });
  child.unref();
  const s = devnet.readState(DEVNET)!;
  for (let i = 0; i < 60; i++) {
    if ((await reachable(`http://127.0.0.1:${s.port}/releases/latest`)) === undefined && devnet.serverPid(DEVNET)) {
      say(`release server on http://127.0.0.1:${s.port} (pid ${devnet.serverPid(DEVNET)}, log ${path.relative(ROOT, path.join(DEVNET, "release-server.log"))})`);
      return;
    }
    if (child.exitCode !== null) break;
    await sleep(500);
  }
  throw new Fail(`the release server did not start; see ${path.join(DEVNET, "release-server.log")}`);
}

async function createDevnet(runtime: string): Promise<void> {
  const bins = clientBinaries();
  step("genesis: generating release N with prysmctl and geth (a few seconds)");
  const now = Math.floor(Date.now() / 1000);
  const n = iterationAt(now);
  // Volumes that local:destroy kept hold the chain of an earlier devnet whose releases are gone with it; the reset
  // program rightly refuses to guess what they are, so a new devnet starts its clients from empty volumes.
  const kept = spawnSync("docker", ["volume", "ls", "-q", "--filter", `name=^${DEVNET_NODE}-`], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
  if (kept.length > 0) {
    say(`removing the volumes of an earlier devnet (${kept.join(", ")}): its chain is gone with its releases`);
    const r = spawnSync("docker", ["volume", "rm", ...kept], { encoding: "utf8" });
    if (r.status !== 0) throw new Fail(`could not remove ${kept.join(", ")}: ${r.stderr.trim()}; run npm run local:destroy first`);
  }
  fs.rmSync(path.join(DEVNET_DATA, DEVNET_NODE, "state"), { recursive: true, force: true });
  // N's EL genesis soon enough for blocks within minutes, late enough for pulumi up to start the clients.
  const elN = now + 90;
  const schedule = { baseTime: elN - n * PERIOD_SEC, periodSec: PERIOD_SEC, genesisDelaySec: GENESIS_DELAY_SEC, chainIdBase: 39438000 };
  const taken = new Set<number>();
  const state: devnet.DevnetState = {
    schedule, port: await pickPort(18550, taken), firstIteration: n, geth: bins.geth, prysmctl: bins.prysmctl,
    secondsPerSlot: devnet.SECONDS_PER_SLOT, validators: devnet.VALIDATORS,
  };
  fs.rmSync(DEVNET, { recursive: true, force: true });
  fs.mkdirSync(DEVNET, { recursive: true, mode: 0o700 });
  fs.writeFileSync(devnet.statePath(DEVNET), JSON.stringify(state, null, 2));
  const t0 = Date.now();
  const release = await devnet.publishIteration(DEVNET, state, n);
  say(`${releaseTag(n)} generated in ${Math.round((Date.now() - t0) / 1000)}s: chain id ${scheduleOf(schedule).chainId(n)}, EL genesis ${clock(elN)}, ${devnet.VALIDATORS} genesis validators`);

  // The genesis validators' keystores, under a password that only ever reaches Pulumi as a secret (stdin).
  const password = crypto.randomBytes(18).toString("base64url");
  const keysDir = path.join(DEVNET, "keys");
  fs.mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  // The release's genesis keys (keys generate from the test mnemonic), re-encrypted under that password.
  for (const k of release.keys) {
    const keystore = encryptKeystore(k.secret, password, `m/12381/3600/${k.index}/0/0`, "pbkdf2", { pbkdf2Rounds: 16384, description: `devnet genesis validator ${k.index}` });
    fs.writeFileSync(path.join(keysDir, `keystore-${k.index}.json`), JSON.stringify(keystore), { mode: 0o600 });
  }

  const p = (x: number) => pickPort(x, taken);
  const stackConfig = {
    config: {
      "ephemery:network": {
        release: {
          latestUrl: `http://127.0.0.1:${state.port}/releases/latest`,
          archiveUrl: `http://127.0.0.1:${state.port}/download/{tag}/testnet-all.tar.gz`,
        },
        schedule,
        checkpointSyncUrls: [],
        genesisSyncFallback: true,
      },
      "ephemery:hosts": [{
        name: DEVNET_NODE,
        kind: "local",
        runtime,
        dataDir: DEVNET_DATA,
        execution: { client: "geth", p2pPort: await p(30303), rpcPort: await p(8545), wsPort: await p(8546), metricsPort: await p(6060) },
        // A lone node: publish blocks without peers, and resume from its own head after a restart.
        consensus: { client: "prysm", extraArgs: ["--min-sync-peers=0", "--sync-from=head"], p2pPort: await p(9000), quicPort: await p(9001), beaconApiPort: await p(5052), metricsPort: await p(8080) },
        // Fresh genesis keys that sign nowhere else: no doppelganger wait.
        validator: { client: "prysm", feeRecipient: `0x${"ee".repeat(20)}`, doppelganger: false, keymanagerPort: await p(5062), metricsPort: await p(8081), keys: { path: keysDir, expectedCount: devnet.VALIDATORS } },
        // Images built here from Debian's packages (nothing can be pulled offline); Grafana has no Debian package.
        monitoring: {
          enabled: true, grafana: false, images: { ...LOCAL_MONITORING_IMAGES },
          prometheusPort: await p(9090), alertmanagerPort: await p(9093), grafanaPort: await p(3000), nodeExporterPort: await p(9100), validatorExporterPort: await p(9106),
        },
        reset: { enabled: true, schedule: "* * * * *" },
      }],
    },
  };
  const file = path.join(ROOT, `Pulumi.${DEVNET_STACK}.yaml`);
  fs.writeFileSync(file, `# Generated by npm run local --devnet (git-ignored); npm run local:destroy removes it.\n${yaml.dump(stackConfig, { lineWidth: -1 })}`);
  if (stacks().includes(DEVNET_STACK)) pulumi(["stack", "rm", DEVNET_STACK, "--yes", "--force", "--preserve-config"], { quiet: true });
  pulumi(["stack", "init", DEVNET_STACK], { quiet: true });
  pulumi(["config", "set", "--secret", "--stack", DEVNET_STACK, "ephemery:keystorePassword"], { input: password, quiet: true });
}

async function devnetWorld(runtime: string, upArgs: string[]): Promise<void> {
  say(`world: DEVNET, a local Ephemery-shaped network on this machine (stack ${DEVNET_STACK}, releases on loopback, ${PERIOD_SEC / 60}-minute reset period)`);
  clientImages();
  const existing = devnet.readState(DEVNET);
  const reuse = existing !== undefined && fs.existsSync(path.join(ROOT, `Pulumi.${DEVNET_STACK}.yaml`)) && stacks().includes(DEVNET_STACK);
  if (reuse) say(`reusing the devnet generated earlier (${path.relative(ROOT, DEVNET)}); npm run local:destroy starts over`);
  else await createDevnet(runtime);
  const s = devnet.readState(DEVNET)!;
  step("release server: serving the generated releases on loopback (keeps running after this command)");
  await startServer();

  step("pulumi up: the same program, components and reset program as a real deployment");
  pulumi(["up", "--stack", DEVNET_STACK, "--yes", ...upArgs]);

  const host = ((yaml.load(fs.readFileSync(path.join(ROOT, `Pulumi.${DEVNET_STACK}.yaml`), "utf8")) as any).config["ephemery:hosts"])[0];
  const rpc = host.execution.rpcPort as number;
  const sched = scheduleOf(s.schedule);
  const iter = devnet.publishedIterations(DEVNET).pop()!;
  step(`waiting for the first block (CL genesis ${clock(sched.clGenesis(iter))}, ${devnet.SECONDS_PER_SLOT}s slots)`);
  const deadline = Date.now() + 10 * 60_000;
  let first: number | undefined;
  let lastSay = 0;
  while (Date.now() < deadline) {
    const b = await rpcBlock(rpc);
    if (b !== undefined && b > 0) { first = b; break; }
    if (Date.now() - lastSay > 15_000) {
      lastSay = Date.now();
      const left = sched.clGenesis(iter) - Math.floor(Date.now() / 1000);
      say(left > 0 ? `genesis in ${left}s` : `EL block ${b ?? "(RPC not answering yet)"}, waiting for the validators' first proposal`);
    }
    await sleep(2000);
  }
  if (first === undefined) throw new Fail(`no block within 10 minutes: look at docker logs ${DEVNET_NODE}-consensus and docker logs ${DEVNET_NODE}-validator`);
  let later = first;
  const until = Date.now() + 6 * devnet.SECONDS_PER_SLOT * 1000;
  while (later <= first && Date.now() < until) { await sleep(2000); later = (await rpcBlock(rpc)) ?? later; }

  const next = sched.elGenesis(iter + 1);
  console.log([
    "",
    "==== summary ====",
    `world:        devnet (local, Ephemery-shaped; ${releaseTag(iter)}, chain id ${sched.chainId(iter)})`,
    `runs:         ${DEVNET_NODE}-execution (geth), ${DEVNET_NODE}-consensus (prysm beacon), ${DEVNET_NODE}-validator (prysm, ${s.validators} keys); runtime ${host.runtime}`,
    `              release server http://127.0.0.1:${s.port}/releases/latest (pid ${devnet.serverPid(DEVNET)})`,
    `EL block:     ${first} -> ${later}${later > first ? " (advancing)" : " (not advancing yet)"}  curl -s -X POST -H 'content-type: application/json' --data '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' http://127.0.0.1:${rpc}`,
    `status:       npx ephemery status --stack ${DEVNET_STACK}`,
    `prometheus:   http://127.0.0.1:${host.monitoring.prometheusPort} (from another machine: npx ephemery dashboard --prometheus --stack ${DEVNET_STACK}; no Grafana offline)`,
    `next reset:   ${clock(next)} (${releaseTag(iter + 1)} is published 10 min before); watch: tail -f ${path.join(DEVNET_DATA, DEVNET_NODE, "state", "reset.log")}`,
    "tear down:    npm run local:destroy (keeps identity volumes and key backups)",
    "",
  ].join("\n"));
}

// ---------------------------------------------------------------------------------------------------- destroy

async function destroy(): Promise<void> {
  const have = stacks();
  for (const stack of [DEVNET_STACK, ONLINE_STACK]) {
    if (!have.includes(stack)) continue;
    step(`destroying stack ${stack}`);
    pulumi(["destroy", "--stack", stack, "--yes"]);
    // A tracked stack file is never deleted; the user's own (online) file is kept too.
    const file = `Pulumi.${stack}.yaml`;
    const keepFile = stack !== DEVNET_STACK || tracked(file);
    pulumi(["stack", "rm", stack, "--yes", ...(keepFile ? ["--preserve-config"] : [])], { quiet: true });
    say(`stack ${stack} removed${keepFile ? ` (kept ${file})` : ""}`);
  }
  const pid = devnet.serverPid(DEVNET);
  if (pid !== undefined) {
    process.kill(pid, "SIGTERM");
    for (let i = 0; i < 50 && processAlive(pid); i++) await sleep(100);
    say(`release server stopped (pid ${pid})`);
  }
  if (fs.existsSync(DEVNET)) fs.rmSync(DEVNET, { recursive: true, force: true });
  const devnetFile = path.join(ROOT, `Pulumi.${DEVNET_STACK}.yaml`);
  if (fs.existsSync(devnetFile) && !tracked(path.basename(devnetFile))) fs.rmSync(devnetFile);
  say(`done; kept: the clients' identity volumes (docker volume ls --filter label=ephemery.role) and key backups under ${DEVNET_DATA} and ~/.ephemery`);
}

// ---------------------------------------------------------------------------------------------------- main

async function main(argv: string[]): Promise<void> {
  const flags = new Set(argv.filter((a) => ["--devnet", "--online", "--destroy", "--start-docker"].includes(a)));
  const upArgs = argv.filter((a) => !flags.has(a));
  if (flags.has("--devnet") && flags.has("--online")) throw new Fail("give --devnet or --online, not both");
  if (flags.has("--destroy")) return destroy();
  const runtime = detectRuntime();
  say(`runtime: ${runtime} (${runtime === "docker" ? "the Pulumi Docker provider plugin is installed" : "no Pulumi Docker provider plugin installed: compose files run by docker compose / docker-compose"})`);
  if (flags.has("--devnet")) return devnetWorld(runtime, upArgs);
  if (flags.has("--online")) return online(runtime, upArgs);
  const url = (yaml.load(fs.readFileSync(TEMPLATE, "utf8")) as any).config["ephemery:network"].release.latestUrl as string;
  const problem = await reachable(url);
  if (problem === undefined) return online(runtime, upArgs);
  say(`the release source ${url} cannot be reached (${problem}): using the DEVNET world. Pass --online to insist on the real Ephemery.`);
  return devnetWorld(runtime, upArgs);
}

main(process.argv.slice(2)).catch((e) => {
  console.error(`local: ERROR: ${(e as Error).message}`);
  process.exit(1);
});
