/**
 * `npm run local` (no flags, no edits) on an offline machine picks the devnet world, brings up a node that
 * produces blocks and prints the summary; `npm run local:destroy` leaves no container, network or cron entry of
 * ours and no tracked file changed. Both run as subprocesses, as a user would run them.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";

const REPO = path.resolve(__dirname, "..", "..");
const NODE = "devnet";

function trackedStatus(): string {
  return spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: REPO, encoding: "utf8" }).stdout;
}

/** Runs an npm script like a user at a terminal would (stdin closed: no prompt can wait), echoing its output. */
function npm(args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("npm", ["run", ...args], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } });
    let out = "";
    const take = (b: Buffer) => { out += b.toString(); };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("close", (code) => { clearTimeout(timer); resolve({ code: code ?? 1, out }); });
  });
}

async function blockNumber(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }), signal: AbortSignal.timeout(5000),
  });
  return Number.parseInt(((await res.json()) as { result: string }).result, 16);
}

const docker = (args: string[]) => spawnSync("docker", args, { encoding: "utf8" }).stdout.trim();

describe("npm run local on an offline machine", () => {
  const before = trackedStatus();
  const template = fs.readFileSync(path.join(REPO, "Pulumi.local.yaml"), "utf8");
  let destroyed = false;

  afterAll(async () => {
    if (!destroyed) await npm(["local:destroy"], 600_000);
  });

  test("picks the devnet, produces blocks, prints the summary; destroy leaves nothing of ours and no tracked file changed", async () => {
    const up = await npm(["local"], 1_500_000);
    expect({ code: up.code, tail: up.code === 0 ? "" : up.out.slice(-6000) }).toEqual({ code: 0, tail: "" });
    expect(up.out).toMatch(/runtime: compose/);
    expect(up.out).toMatch(/cannot be reached .*using the DEVNET world/);
    const summary = up.out.slice(up.out.indexOf("==== summary ===="));
    expect(summary).toMatch(/^world: +devnet/m);
    expect(summary).toMatch(/EL block: +\d+ -> \d+ \(advancing\)/);
    expect(summary).toMatch(/npx ephemery dashboard --prometheus/);
    expect(summary).toMatch(/next reset: .*tail -f /);
    expect(summary).toMatch(/npm run local:destroy/);

    // The node keeps producing blocks after `npm run local` has returned.
    const stack = yaml.load(fs.readFileSync(path.join(REPO, "Pulumi.devnet.yaml"), "utf8")) as any;
    const rpc = stack.config["ephemery:hosts"][0].execution.rpcPort as number;
    const b1 = await blockNumber(rpc);
    expect(b1).toBeGreaterThan(0);
    let b2 = b1;
    for (let i = 0; i < 30 && b2 <= b1; i++) { await new Promise((r) => setTimeout(r, 2000)); b2 = await blockNumber(rpc); }
    expect(b2).toBeGreaterThan(b1);
    expect(fs.existsSync(`/etc/cron.d/ephemery-${NODE}`)).toBe(true);

    // The node's own Prometheus scrapes the real clients: geth's head and prysm's slot come back as data.
    const prometheus = stack.config["ephemery:hosts"][0].monitoring.prometheusPort as number;
    const series = async (query: string): Promise<number> => {
      const res = await fetch(`http://127.0.0.1:${prometheus}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(5000) });
      return ((await res.json()) as { data: { result: unknown[] } }).data.result.length;
    };
    let scraped = { geth: 0, prysm: 0 };
    for (let i = 0; i < 45 && !(scraped.geth && scraped.prysm); i++) {
      scraped = await Promise.all([series('chain_head_block{job="execution"}'), series('beacon_head_slot{job="consensus"}')])
        .then(([geth, prysm]) => ({ geth, prysm })).catch(() => scraped);
      if (!(scraped.geth && scraped.prysm)) await new Promise((r) => setTimeout(r, 2000));
    }
    expect(scraped).toEqual({ geth: 1, prysm: 1 });

    const down = await npm(["local:destroy"], 600_000);
    destroyed = true;
    expect({ code: down.code, tail: down.code === 0 ? "" : down.out.slice(-4000) }).toEqual({ code: 0, tail: "" });
    expect(docker(["ps", "-a", "--filter", `label=ephemery.node=${NODE}`, "--format", "{{.Names}}"])).toBe("");
    expect(docker(["network", "ls", "--filter", `name=${NODE}-net`, "--format", "{{.Name}}"])).toBe("");
    expect(fs.existsSync(`/etc/cron.d/ephemery-${NODE}`)).toBe(false);
    const crontab = spawnSync("crontab", ["-l"], { encoding: "utf8" }).stdout ?? "";
    expect(crontab).not.toMatch(new RegExp(`ephemery-reset:${NODE}\\b`));
    expect(fs.existsSync(path.join(REPO, ".pulumi-state", "devnet", "release-server.pid"))).toBe(false);
    expect(fs.existsSync(path.join(REPO, "Pulumi.devnet.yaml"))).toBe(false);
    expect(trackedStatus()).toBe(before);
    expect(fs.readFileSync(path.join(REPO, "Pulumi.local.yaml"), "utf8")).toBe(template);
  });
});
