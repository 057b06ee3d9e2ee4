/** Checkpoint-provider probing against real HTTP servers on loopback. */
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { chooseCheckpoint, checkpointUrlsToUse, planCheckpointUrls, probeProvider, rankProbes, ProviderProbe } from "../../lib/checkpoint";
import { clGenesisTime } from "../../lib/ephemery";
import { beaconServer, closedPort, TestServer } from "./fakeNode";
import { runCli } from "./io";

const ITERATION = 150;
const GENESIS = clGenesisTime(ITERATION);
/** Generous: the good providers must answer well within it on a loaded machine; the slow one never does. */
const TIMEOUT_MS = 2500;

describe("checkpoint provider probing", () => {
  const servers: Record<string, TestServer> = {};
  let downUrl: string;

  beforeAll(async () => {
    servers.otherChain = await beaconServer({ genesisTime: clGenesisTime(ITERATION - 1), finalizedSlot: 9000 });
    servers.noFinality = await beaconServer({ genesisTime: GENESIS, finalizedSlot: 0 });
    servers.slow = await beaconServer({ genesisTime: GENESIS, finalizedSlot: 6400, delayMs: 20_000 });
    // Two good ones: "behind" has an older finalized checkpoint but answers faster than "ahead".
    servers.behind = await beaconServer({ genesisTime: GENESIS, finalizedSlot: 3200 });
    servers.ahead = await beaconServer({ genesisTime: GENESIS, finalizedSlot: 3264, noHeaders: true, delayMs: 150 });
    downUrl = `http://127.0.0.1:${await closedPort()}`;
  });
  afterAll(async () => {
    await Promise.all(Object.values(servers).map((s) => s.close()));
  });

  const candidates = () => [servers.otherChain.url, servers.noFinality.url, servers.slow.url, downUrl, `${servers.behind.url}/`, servers.ahead.url];

  it("rejects each bad provider for its own reason and ranks the good ones by finalized epoch", async () => {
    const choice = await chooseCheckpoint(candidates(), { expectedGenesisTime: GENESIS, timeoutMs: TIMEOUT_MS });
    expect(choice.expectedGenesisTime).toBe(GENESIS);
    expect(choice.best).toBe(servers.ahead.url);
    const byUrl = Object.fromEntries(choice.providers.map((p) => [p.url, p]));
    expect(choice.providers.map((p) => p.url).slice(0, 2)).toEqual([servers.ahead.url, servers.behind.url]);
    expect(byUrl[servers.ahead.url]).toMatchObject({ ok: true, genesisTime: GENESIS, finalizedEpoch: 102, reason: null });
    expect(byUrl[servers.ahead.url].latencyMs).toBeGreaterThanOrEqual(150);
    expect(byUrl[servers.behind.url]).toMatchObject({ ok: true, finalizedEpoch: 100 });
    expect(byUrl[servers.otherChain.url]).toMatchObject({ ok: false, genesisTime: clGenesisTime(ITERATION - 1), finalizedEpoch: null });
    expect(byUrl[servers.otherChain.url].reason).toMatch(/another chain.*iteration 149.*expected.*iteration 150/);
    expect(byUrl[servers.noFinality.url]).toMatchObject({ ok: false, finalizedEpoch: 0 });
    expect(byUrl[servers.noFinality.url].reason).toMatch(/no finalized checkpoint/);
    expect(byUrl[servers.slow.url]).toMatchObject({ ok: false, latencyMs: null, reason: `timed out after ${TIMEOUT_MS} ms` });
    expect(byUrl[downUrl]).toMatchObject({ ok: false, genesisTime: null });
    expect(byUrl[downUrl].reason).toMatch(/unreachable: ECONNREFUSED/);
  });

  it("refuses a provider whose answer is larger than any genesis answer, naming the bound", async () => {
    const huge = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ data: { genesis_time: String(GENESIS), pad: "x".repeat(1024 * 1024) } }));
    });
    await new Promise<void>((r) => huge.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(huge.address() as { port: number }).port}`;
      const probe = await probeProvider(url, { expectedGenesisTime: GENESIS, timeoutMs: TIMEOUT_MS });
      expect(probe).toMatchObject({ ok: false, genesisTime: null });
      expect(probe.reason).toMatch(/answered more than 65536 bytes/);
    } finally {
      await new Promise((r) => huge.close(r));
    }
  });

  it("breaks a tie in finalized epoch by latency", async () => {
    const fast = await beaconServer({ genesisTime: GENESIS, finalizedSlot: 3200 });
    const slower = await beaconServer({ genesisTime: GENESIS, finalizedSlot: 3200, delayMs: 200 });
    try {
      const choice = await chooseCheckpoint([slower.url, fast.url], { expectedGenesisTime: GENESIS, timeoutMs: TIMEOUT_MS });
      expect(choice.providers.map((p) => p.url)).toEqual([fast.url, slower.url]);
    } finally {
      await Promise.all([fast.close(), slower.close()]);
    }
  });

  it("at deploy time orders each host's list, and falls back to genesis sync only when allowed", async () => {
    const good = [servers.behind.url, servers.ahead.url];
    const bad = [servers.otherChain.url, downUrl];
    const plan = await planCheckpointUrls([good, bad], true, { expectedGenesisTime: GENESIS, timeoutMs: TIMEOUT_MS });
    // Stable mode: epochs 100 and 102 are within the slack, so the configured order stands.
    expect(plan.lists[0]).toEqual([servers.behind.url, servers.ahead.url]);
    expect(plan.lists[1]).toEqual([]);
    const strict = await planCheckpointUrls([bad], false, { expectedGenesisTime: GENESIS, timeoutMs: TIMEOUT_MS });
    expect(strict.lists[0]).toEqual(bad);
  });

  it("ephemery checkpoint probe --json prints the documented shape and exits 0 with a best provider", async () => {
    const r = await runCli(["checkpoint", "probe", ...candidates(), "--iteration", String(ITERATION), "--timeout", String(TIMEOUT_MS), "--json"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(Object.keys(out).sort()).toEqual(["best", "expectedGenesisTime", "providers"]);
    expect(out.expectedGenesisTime).toBe(GENESIS);
    expect(out.best).toBe(servers.ahead.url);
    expect(out.providers).toHaveLength(6);
    for (const p of out.providers) expect(Object.keys(p).sort()).toEqual(["finalizedEpoch", "genesisTime", "latencyMs", "ok", "reason", "url"]);
  });

  it("prints a plain table when piped and exits 1 when nothing qualifies", async () => {
    const r = await runCli(["checkpoint", "probe", servers.otherChain.url, downUrl, "--iteration", String(ITERATION), "--timeout", String(TIMEOUT_MS)]);
    expect(r.code).toBe(1);
    expect(r.out).not.toContain("\x1b[");
    expect(r.out).toMatch(/PROVIDER\s+FINALIZED EPOCH\s+LATENCY\s+RESULT/);
    expect(r.out).toContain("syncs from genesis.ssz");
  });

  it("reads the candidates from the stack file when none are named", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-ops-"));
    try {
      const file = path.join(dir, "Pulumi.ops.yaml");
      fs.writeFileSync(file, [
        "config:",
        "  ephemery:network:",
        `    checkpointSyncUrls: [${servers.behind.url}]`,
        "  ephemery:hosts:",
        "    - name: node1",
        "      kind: local",
        `      consensus: { checkpointSyncUrls: [${servers.otherChain.url}] }`,
        "",
      ].join("\n"));
      const r = await runCli(["checkpoint", "probe", "--file", file, "--iteration", String(ITERATION), "--json"]);
      const out = JSON.parse(r.out);
      expect(out.providers.map((p: ProviderProbe) => p.url).sort()).toEqual([servers.behind.url, servers.otherChain.url].sort());
      expect(out.best).toBe(servers.behind.url);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the mistake in a bad URL or option", async () => {
    const r = await runCli(["checkpoint", "probe", "ftp://x", "--json"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('"ftp://x" is not an http(s) URL');
    const t = await runCli(["checkpoint", "probe", servers.behind.url, "--iteration", "soon"]);
    expect(t.err).toContain('--iteration must be a whole number, got "soon"');
  });
});

describe("ranking rules", () => {
  const p = (url: string, ok: boolean, finalizedEpoch: number | null, latencyMs: number | null): ProviderProbe =>
    ({ url, ok, finalizedEpoch, latencyMs, genesisTime: 1, reason: ok ? null : "x" });

  it("puts qualified providers first, epoch desc then latency asc, rejected ones after in input order", () => {
    const ranked = rankProbes([p("r1", false, null, 5), p("a", true, 10, 300), p("b", true, 12, 900), p("c", true, 10, 100), p("r2", false, 0, 1)]);
    expect(ranked.map((x) => x.url)).toEqual(["b", "c", "a", "r1", "r2"]);
  });

  it("stable mode keeps the configured order among providers within the epoch slack", () => {
    const ranked = rankProbes([p("a", true, 10, 300), p("b", true, 12, 900), p("c", true, 5, 1)], { stable: true });
    expect(ranked.map((x) => x.url)).toEqual(["a", "b", "c"]);
  });

  it("keeps only the host's own providers", () => {
    expect(checkpointUrlsToUse(["https://x/"], [p("https://y", true, 3, 1), p("https://x", true, 2, 1)], true)).toEqual(["https://x"]);
  });

  it("probes through an injected fetch, and reports a non-JSON answer", async () => {
    const fetch = async () => ({ status: 200, json: async () => { throw new SyntaxError("bad"); } });
    const r = await probeProvider("https://example.invalid", { expectedGenesisTime: GENESIS, fetch });
    expect(r).toMatchObject({ ok: false, reason: "/eth/v1/beacon/genesis answered 200 but not with JSON" });
  });
});
