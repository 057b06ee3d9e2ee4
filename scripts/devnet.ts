/**
 * The devnet world of `npm run local`: what it keeps under .pulumi-state/devnet and the release server it runs.
 * The release server is a detached process (`node ... scripts/devnet.ts serve <dir>`) that serves the generated
 * releases GitHub-style on loopback and publishes iteration N+1 ahead of its genesis, so the node's own
 * ephemery-reset program resets it as it would on the real Ephemery.
 *
 * Releases come from tests/support/chainRelease.ts (generateChainRelease) and are packed with
 * tests/support/releases.ts (buildArchive): one generator for the live-chain tier and the devnet.
 */
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { releaseTag } from "../lib/ephemery";
import { ChainSchedule, generateChainRelease, scheduleOf } from "../tests/support/chainRelease";
import { processAlive } from "../tests/support/processes";
import { buildArchive } from "../tests/support/releases";

export const VALIDATORS = 8;
export const SECONDS_PER_SLOT = 4;
/** Releases appear this long before their EL genesis (upstream: about two hours before a 28-day period). */
export const PUBLISH_AHEAD_SEC = 600;

/** .pulumi-state/devnet/devnet.json: everything a later run (or destroy) needs to find the devnet again. */
export interface DevnetState {
  schedule: ChainSchedule;
  port: number;
  firstIteration: number;
  geth: string;
  prysmctl: string;
  secondsPerSlot: number;
  validators: number;
}

export const statePath = (dir: string) => path.join(dir, "devnet.json");
export const pidPath = (dir: string) => path.join(dir, "release-server.pid");
export const releasesDir = (dir: string) => path.join(dir, "releases");

export function readState(dir: string): DevnetState | undefined {
  try {
    return JSON.parse(fs.readFileSync(statePath(dir), "utf8")) as DevnetState;
  } catch {
    return undefined;
  }
}

/** Iterations whose archive is on disk, ascending. */
export function publishedIterations(dir: string): number[] {
  if (!fs.existsSync(releasesDir(dir))) return [];
  return fs.readdirSync(releasesDir(dir))
    .map((t) => /^ephemery-(\d+)$/.exec(t)?.[1])
    .filter((x): x is string => x !== undefined && fs.existsSync(path.join(releasesDir(dir), `ephemery-${x}`, "testnet-all.tar.gz")))
    .map(Number)
    .sort((a, b) => a - b);
}

/** Generates release `iteration` and writes its archive where the server finds it; returns its genesis keys. */
export async function publishIteration(dir: string, s: DevnetState, iteration: number) {
  const release = await generateChainRelease({ iteration, schedule: s.schedule, validators: s.validators, secondsPerSlot: s.secondsPerSlot, prysmctl: s.prysmctl, geth: s.geth });
  const out = path.join(releasesDir(dir), releaseTag(iteration));
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, "testnet-all.tar.gz.part"), buildArchive(release.files as Record<string, string>));
  fs.renameSync(path.join(out, "testnet-all.tar.gz.part"), path.join(out, "testnet-all.tar.gz"));
  return release;
}


/** The server's pid when the pidfile names a live process that is this server (not a reused pid). */
export function serverPid(dir: string): number | undefined {
  const pid = Number(fs.existsSync(pidPath(dir)) ? fs.readFileSync(pidPath(dir), "utf8").trim() : NaN);
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return undefined;
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (!cmd.includes("devnet.ts") || !cmd.includes("serve")) return undefined;
  } catch { /* no /proc: trust the pidfile */ }
  return pid;
}

/** Runs the server in this process until SIGTERM. */
async function serve(dir: string): Promise<void> {
  const s = readState(dir);
  if (!s) throw new Error(`${statePath(dir)} is missing: run npm run local -- --devnet`);
  const sched = scheduleOf(s.schedule);
  const server = http.createServer((req, res) => {
    const latest = publishedIterations(dir).pop();
    if (req.url === "/releases/latest" && latest !== undefined) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ tag_name: releaseTag(latest), name: releaseTag(latest), draft: false }));
      return;
    }
    const m = /^\/download\/(ephemery-\d+)\/testnet-all\.tar\.gz$/.exec(req.url ?? "");
    const file = m ? path.join(releasesDir(dir), m[1], "testnet-all.tar.gz") : undefined;
    if (file && fs.existsSync(file)) {
      res.writeHead(200, { "content-type": "application/gzip" });
      fs.createReadStream(file).pipe(res);
      return;
    }
    res.writeHead(404);
    res.end("not found");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(s.port, "127.0.0.1", () => resolve());
  });
  fs.writeFileSync(pidPath(dir), `${process.pid}\n`);
  console.log(`${new Date().toISOString()} serving ${releasesDir(dir)} on http://127.0.0.1:${s.port}`);
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const latest = publishedIterations(dir).pop() ?? s.firstIteration - 1;
      const next = latest + 1;
      if (Date.now() / 1000 >= sched.elGenesis(next) - PUBLISH_AHEAD_SEC) {
        await publishIteration(dir, s, next);
        console.log(`${new Date().toISOString()} published ${releaseTag(next)} (EL genesis ${new Date(sched.elGenesis(next) * 1000).toISOString()})`);
      }
    } catch (e) {
      console.error(`${new Date().toISOString()} could not publish the next release: ${(e as Error).message}`);
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), 15_000);
  const stop = () => {
    clearInterval(timer);
    fs.rmSync(pidPath(dir), { force: true });
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (require.main === module) {
  const [cmd, dir] = process.argv.slice(2);
  if (cmd !== "serve" || !dir) {
    console.error("usage: devnet.ts serve <state dir>");
    process.exit(2);
  }
  serve(path.resolve(dir)).catch((e) => {
    console.error(`release server: ${(e as Error).message}`);
    process.exit(1);
  });
}
