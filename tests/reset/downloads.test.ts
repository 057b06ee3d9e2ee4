/**
 * Downloads are bounded in size and time, and the release source is not asked every minute: an overdue switch
 * backs off, a 403/429 backs off as long as the server says. A loopback server that misbehaves on purpose.
 */
import * as fs from "fs";
import * as path from "path";
import { elGenesisTime, releaseTag } from "../../lib/ephemery";
import { buildArchive, releaseFiles, ScriptedServer, TestNode, waitFor } from "./harness";

jest.setTimeout(120_000);

const I = 150;
const HOUR = 3600;
const LATEST = "/releases/latest";

type Misbehaviour = "none" | "huge-with-length" | "huge-chunked" | "slow" | "429" | "403-reset";

describe("downloads and the release query", () => {
  const src = new ScriptedServer();
  let node: TestNode;
  let latest = releaseTag(I);
  let misbehave: Misbehaviour = "none";
  let rateLimitReset = 0;
  const archives = new Map<string, Buffer>();
  const publish = (i: number) => { archives.set(releaseTag(i), buildArchive(releaseFiles(i))); latest = releaseTag(i); };

  beforeAll(async () => {
    await src.start();
    src.handler = (req, res) => {
      const url = req.url ?? "";
      if (url === LATEST) {
        if (misbehave === "429") { res.writeHead(429, { "retry-after": "3600" }); res.end("slow down"); return; }
        if (misbehave === "403-reset") { res.writeHead(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(rateLimitReset) }); res.end("{}"); return; }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ tag_name: latest }));
        return;
      }
      const body = archives.get(/^\/download\/([^/]+)\//.exec(url)?.[1] ?? "");
      if (!body) { res.writeHead(404); res.end(); return; }
      if (misbehave === "huge-with-length") {
        res.writeHead(200, { "content-length": String(64 << 20) });
        res.end(Buffer.alloc(64 << 20));
      } else if (misbehave === "huge-chunked") {
        res.writeHead(200); // no length: only the byte count can stop it
        const chunk = Buffer.alloc(64 << 10);
        let sent = 0;
        const more = () => { while (sent < 1024 && res.write(chunk)) sent++; if (sent < 1024) res.once("drain", more); else res.end(); };
        more();
      } else if (misbehave === "slow") {
        res.writeHead(200);
        const timer = setInterval(() => res.write("x"), 200);
        res.on("close", () => clearInterval(timer));
      } else {
        res.writeHead(200); res.end(body);
      }
    };
    node = await TestNode.create(src, { values: { ARCHIVE_MAX_BYTES: 200_000, ARCHIVE_MAX_TIME_SEC: 3, API_MAX_TIME_SEC: 3, LOCK_WAIT_SEC: 10 } });
    publish(I);
    expect((await node.run("ensure", elGenesisTime(I) + 100)).code).toBe(0);
  });
  afterAll(async () => {
    node?.cleanup();
    await src.stop();
  });

  test.each([
    ["a huge archive with its length announced", "huge-with-length", /larger than 200000 bytes/],
    ["a huge archive streamed without a length", "huge-chunked", /larger than 200000 bytes/],
    ["an archive that trickles in forever", "slow", /no complete answer within 3s/],
  ] as const)("%s is cut off, and nothing is staged", async (what, how, message) => {
    publish(I + 1);
    misbehave = how;
    node.forgetBackoff();
    const failures = node.metrics().ephemery_reset_failures_total;
    // Inside the pre-stage window, one poll interval apart so each case asks.
    const r = await node.run("run", elGenesisTime(I + 1) - 2 * HOUR + 300 * ["huge-with-length", "huge-chunked", "slow"].indexOf(how));
    misbehave = "none";
    expect([what, r.stderr]).toEqual([what, expect.stringMatching(/staging ephemery-151/)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(fs.existsSync(path.join(node.paths.testnetRoot, "releases", releaseTag(I + 1)))).toBe(false);
    expect(fs.readdirSync(path.join(node.paths.state, "staging"))).toEqual([]);
    expect(node.metrics().ephemery_reset_failures_total).toBe(failures + 1);
  });

  test("a run stuck on a trickling mirror gives the lock up within its download bound: ensure gets it", async () => {
    publish(I + 1);
    misbehave = "slow";
    node.forgetBackoff();
    const at = elGenesisTime(I + 1) - HOUR;
    // The cases above asked for this archive too: wait for this run's own request, or ensure may start first.
    const archive = `/download/${releaseTag(I + 1)}/testnet-all.tar.gz`;
    const asked = src.count(archive);
    const run = node.run("run", at);
    await waitFor(() => src.count(archive) > asked, 10_000, "the run downloading");
    // This node's ensure waits 10 s for the lock (LOCK_WAIT_SEC), longer than one 3 s download, far shorter than an unbounded one.
    const ensure = await node.run("ensure", at + 1);
    misbehave = "none";
    expect((await run).stderr).toMatch(/no complete answer within 3s/);
    expect(ensure.stderr).not.toMatch(/another reset run holds/);
    expect(ensure.code).toBe(0);
  });

  /** Runs once a minute from `from` to `to` (inclusive) and returns how often the release source was asked. */
  const everyMinute = async (from: number, to: number) => {
    const before = src.count(LATEST);
    for (let t = from; t <= to; t += 60) await node.run("run", t);
    return src.count(LATEST) - before;
  };

  test("an overdue release (the source still names the old one): asked 5 times in 30 minutes, not 31", async () => {
    latest = releaseTag(I);
    node.forgetBackoff();
    // Retries after 120, 240, 480 and 960 s: queries at +0, +120, +360, +840, +1800.
    expect(await everyMinute(elGenesisTime(I + 1), elGenesisTime(I + 1) + 1800)).toBe(5);
    expect(node.current()).toBe(`releases/${releaseTag(I)}`);
  });

  test("429 with Retry-After: not asked again until it has passed", async () => {
    node.forgetBackoff();
    misbehave = "429";
    const t = elGenesisTime(I + 1) + 2 * HOUR;
    const r = await node.run("run", t);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/rate limiting us \(HTTP 429\); not asking again for 3600s/);
    misbehave = "none";
    publish(I + 1);
    expect(await everyMinute(t + 60, t + 600)).toBe(0);
    expect((await node.run("run", t + 3599)).stderr).toMatch(/backing off/);
    expect(src.count(LATEST)).toBeGreaterThan(0);
    const before = src.count(LATEST);
    const after = await node.run("run", t + 3600);
    expect(src.count(LATEST)).toBe(before + 1);
    expect(after.stderr).toMatch(/switched to ephemery-151/);
  });

  test("403 with x-ratelimit-reset: waits until the reset time the server names", async () => {
    node.forgetBackoff();
    const t = elGenesisTime(I + 2) + 60;
    rateLimitReset = t + 1200;
    misbehave = "403-reset";
    const r = await node.run("run", t);
    expect(r.stderr).toMatch(/rate limiting us \(HTTP 403\); not asking again for 1200s/);
    misbehave = "none";
    const before = src.count(LATEST);
    await node.run("run", t + 1199);
    expect(src.count(LATEST)).toBe(before);
    await node.run("run", t + 1200);
    expect(src.count(LATEST)).toBe(before + 1);
  });
});
