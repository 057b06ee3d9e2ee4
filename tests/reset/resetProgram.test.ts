/**
 * The rendered host program, run for real on this machine: real Docker engine, stand-in client containers,
 * a release server on loopback, and the clock injected with EPHEMERY_NOW so 28-day cycles pass in seconds.
 */
import * as fs from "fs";
import * as path from "path";
import { chainIdOf, clGenesisTime, elGenesisTime } from "../../lib/ephemery";
import { buildArchive, nodeAnswers, ReleaseServer, releaseFiles, TestNode, waitFor } from "./harness";

jest.setTimeout(120_000);

const I = 150; // the iteration the node starts on
const HOUR = 3600;

describe("ephemery-reset on a docker-runtime node across several resets", () => {
  const server = new ReleaseServer();
  let node: TestNode;

  beforeAll(async () => {
    await server.start();
    node = await TestNode.create(server);
  });
  afterAll(async () => {
    node?.cleanup();
    await server.stop();
  });

  test("ensure installs the latest verified release before any client exists and reports its iteration last", async () => {
    server.publish(I);
    const r = await node.run("ensure", elGenesisTime(I) + 1000);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").pop()).toBe(`iteration=${I}`);
    expect(node.current()).toBe(`releases/ephemery-${I}`);
    const cfg = fs.readFileSync(path.join(node.paths.testnetRoot, "current", "retention.vars"), "utf8");
    expect(cfg).toContain(`CHAIN_ID="${chainIdOf(I)}"`);
    node.startClients();
    await waitFor(async () => (await nodeAnswers(node).catch(() => undefined))?.chainId === chainIdOf(I), 20_000, "clients on the first chain");
    expect(await nodeAnswers(node)).toEqual({ chainId: chainIdOf(I), genesisTime: clGenesisTime(I) });
    const m = node.metrics();
    expect(m).toMatchObject({
      ephemery_iteration: I,
      ephemery_chain_id: chainIdOf(I),
      ephemery_next_reset_timestamp_seconds: elGenesisTime(I + 1),
      ephemery_release_staged: 0,
      ephemery_reset_failures_total: 0,
    });
  });

  test("a run in the middle of an iteration changes nothing", async () => {
    const before = { files: node.snapshot(), starts: node.containerStarts() };
    const r = await node.run("run", elGenesisTime(I) + 10 * 24 * HOUR);
    expect(r.code).toBe(0);
    expect(node.snapshot()).toEqual(before.files);
    expect(node.containerStarts()).toEqual(before.starts);
  });

  test("the release server down at switch time: nothing is wiped, the failure is counted", async () => {
    const before = { files: node.snapshot(), starts: node.containerStarts() };
    server.mode = "down";
    const r = await node.run("run", elGenesisTime(I + 1));
    server.mode = "up";
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/did not answer/);
    expect(node.current()).toBe(`releases/ephemery-${I}`);
    expect(node.containerStarts()).toEqual(before.starts);
    expect(node.readVolume("execution", "geth/chaindata/chainid")?.trim()).toBe(String(chainIdOf(I)));
    expect(node.metrics().ephemery_reset_failures_total).toBe(1);
    expect(await nodeAnswers(node)).toEqual({ chainId: chainIdOf(I), genesisTime: clGenesisTime(I) });
  });

  const goodFiles = () => releaseFiles(I + 1);
  test.each([
    ["a corrupted archive", () => buildArchive(goodFiles()).subarray(0, 200), /not a readable tar.gz|does not unpack/],
    ["an archive with a ../ path", () => buildArchive(goodFiles(), { outsideFile: "escape.txt" }), /climbs out/],
    ["an archive with a link out of the release", () => {
      const files = goodFiles();
      delete (files as Record<string, string>)["genesis.ssz"];
      return buildArchive(files, { symlinks: { "genesis.ssz": "/etc/passwd" } });
    }, /links to/],
    ["a release whose chain id disagrees with its tag", () => buildArchive({ ...goodFiles(), "retention.vars": releaseFiles(I + 1)["retention.vars"].replace(String(chainIdOf(I + 1)), "39438999") }), /retention.vars CHAIN_ID/],
    ["a release whose genesis is off the 28-day schedule", () => buildArchive({ ...goodFiles(), "nodevars_env.txt": releaseFiles(I + 1)["nodevars_env.txt"].replace(String(clGenesisTime(I + 1)), String(clGenesisTime(I + 1) + 7 * 86400)) }), /GENESIS_TIME/],
    ["a release without genesis.ssz", () => {
      const files = goodFiles();
      delete (files as Record<string, string>)["genesis.ssz"];
      return buildArchive(files);
    }, /lacks genesis.ssz/],
  ])("%s is rejected and nothing is wiped", async (_what, archive, message) => {
    node.forgetBackoff(); // each case is a first attempt; the back-off has its own tests
    const failuresBefore = node.metrics().ephemery_reset_failures_total;
    const before = { starts: node.containerStarts(), identity: node.readVolume("execution", "geth/nodekey") };
    server.publish(I + 1, archive());
    const r = await node.run("run", elGenesisTime(I + 1) + 5);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/nothing was changed/);
    expect(fs.existsSync(path.join(node.paths.testnetRoot, "releases", `ephemery-${I + 1}`))).toBe(false);
    expect(fs.existsSync(path.join(node.root, "escape.txt"))).toBe(false);
    expect(fs.existsSync(path.join(node.paths.state, "escape.txt"))).toBe(false);
    expect(fs.readdirSync(path.join(node.paths.state, "staging"))).toEqual([]);
    expect(node.current()).toBe(`releases/ephemery-${I}`);
    expect(node.containerStarts()).toEqual(before.starts);
    expect(node.readVolume("execution", "geth/nodekey")).toBe(before.identity);
    expect(node.readVolume("execution", "geth/chaindata/chainid")?.trim()).toBe(String(chainIdOf(I)));
    expect(node.metrics().ephemery_reset_failures_total).toBe(failuresBefore + 1);
  });

  test("a release published early is staged and verified, and nothing switches before its genesis", async () => {
    server.publish(I + 1);
    node.forgetBackoff(); // the clock goes back two hours here
    const before = { starts: node.containerStarts(), chain: node.readVolume("execution", "geth/chaindata/chainid") };
    const r = await node.run("run", elGenesisTime(I + 1) - 2 * HOUR);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/staged ephemery-151: verified/);
    expect(fs.readFileSync(path.join(node.paths.testnetRoot, "releases", `ephemery-${I + 1}`, "retention.vars"), "utf8")).toContain(`ITERATION_NUMBER="${I + 1}"`);
    expect(node.metrics().ephemery_release_staged).toBe(1);
    // An hour later, still before the genesis: no switch, even with the release source gone.
    server.mode = "down";
    const later = await node.run("run", elGenesisTime(I + 1) - HOUR);
    expect(later.code).toBe(0);
    expect(node.current()).toBe(`releases/ephemery-${I}`);
    expect(node.containerStarts()).toEqual(before.starts);
    expect(node.readVolume("execution", "geth/chaindata/chainid")).toBe(before.chain);
    expect(await nodeAnswers(node)).toEqual({ chainId: chainIdOf(I), genesisTime: clGenesisTime(I) });
  });

  test("at the new EL genesis the node switches: identity kept, slashing protection archived, both checks pass", async () => {
    // The release source is still down: a staged release switches without it.
    const identity = { el: node.readVolume("execution", "geth/nodekey"), cl: node.readVolume("consensus", "beacon/network/key") };
    const oldSlashing = node.readVolume("validator", "validators/slashing_protection.sqlite");
    expect(identity.el).toMatch(/^[0-9a-f]{32}$/);
    expect(oldSlashing).toContain(`genesis ${clGenesisTime(I)}`);
    const now = elGenesisTime(I + 1) + 20;
    const r = await node.run("run", now);
    server.mode = "up";
    expect(r.stderr).toMatch(/check passed/);
    expect(r.code).toBe(0);
    expect(node.current()).toBe(`releases/ephemery-${I + 1}`);
    expect(fs.readlinkSync(path.join(node.paths.testnetRoot, "previous"))).toBe(`releases/ephemery-${I}`);
    expect(await nodeAnswers(node)).toEqual({ chainId: chainIdOf(I + 1), genesisTime: clGenesisTime(I + 1) });
    expect(node.readVolume("execution", "geth/nodekey")).toBe(identity.el);
    expect(node.readVolume("consensus", "beacon/network/key")).toBe(identity.cl);
    expect(node.readVolume("execution", "geth/chaindata/chainid")?.trim()).toBe(String(chainIdOf(I + 1)));
    expect(node.readVolume("consensus", "beacon/chain_db/genesis_time")?.trim()).toBe(String(clGenesisTime(I + 1)));
    const archived = path.join(node.paths.archive, `ephemery-${I}`, "lighthouse-slashing-protection", "validators", "slashing_protection.sqlite");
    expect(fs.readFileSync(archived, "utf8")).toBe(oldSlashing);
    expect(node.readVolume("validator", "validators/slashing_protection.sqlite")).toContain(`genesis ${clGenesisTime(I + 1)}`);
    expect(Object.values(node.containerStarts()).every((s) => s.startsWith("true"))).toBe(true);
    const m = node.metrics();
    expect(m).toMatchObject({ ephemery_iteration: I + 1, ephemery_chain_id: chainIdOf(I + 1), ephemery_release_staged: 0, ephemery_last_reset_timestamp_seconds: now });
    expect(m.ephemery_next_reset_timestamp_seconds).toBe(elGenesisTime(I + 2));
  });

  test("a second run right after the reset changes nothing", async () => {
    const before = { files: node.snapshot(), starts: node.containerStarts() };
    const r = await node.run("run", elGenesisTime(I + 1) + 80);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/switching|stopping|wiped/);
    expect(node.snapshot()).toEqual(before.files);
    expect(node.containerStarts()).toEqual(before.starts);
  });

  test("kill -9 in the middle of a reset: the next run completes it", async () => {
    server.publish(I + 2);
    const identity = node.readVolume("execution", "geth/nodekey");
    const oldSlashing = node.readVolume("validator", "validators/slashing_protection.sqlite");
    const now = elGenesisTime(I + 2);
    const log = await node.runAndKill(now, "wiped-execution");
    expect(log).toMatch(/wiped \[geth\]/);
    // Killed between the EL and CL wipes: clients stopped, journal left behind, old release still current.
    expect(fs.readFileSync(path.join(node.paths.state, "switch.journal"), "utf8")).toContain("PHASE=wiped-execution");
    expect(Object.values(node.containerStarts()).every((s) => s.startsWith("false"))).toBe(true);
    expect(node.current()).toBe(`releases/ephemery-${I + 1}`);
    const r = await node.run("run", now + 60);
    expect(r.stderr).toMatch(/resuming the switch to ephemery-152 from phase wiped-execution/);
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(node.paths.state, "switch.journal"))).toBe(false);
    expect(node.current()).toBe(`releases/ephemery-${I + 2}`);
    expect(await nodeAnswers(node)).toEqual({ chainId: chainIdOf(I + 2), genesisTime: clGenesisTime(I + 2) });
    expect(node.readVolume("execution", "geth/nodekey")).toBe(identity);
    const archiveDir = path.join(node.paths.archive, `ephemery-${I + 1}`, "lighthouse-slashing-protection", "validators");
    expect(fs.readdirSync(archiveDir)).toEqual(["slashing_protection.sqlite"]);
    expect(fs.readFileSync(path.join(archiveDir, "slashing_protection.sqlite"), "utf8")).toBe(oldSlashing);
  });

  test("a node two iterations behind jumps straight to the latest release and prunes old ones", async () => {
    server.publish(I + 4); // I+3 came and went while the host was down
    const identity = node.readVolume("execution", "geth/nodekey");
    const r = await node.run("run", elGenesisTime(I + 4) + 3 * HOUR);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/switching from iteration 152 to 154/);
    expect(node.current()).toBe(`releases/ephemery-${I + 4}`);
    expect(await nodeAnswers(node)).toEqual({ chainId: chainIdOf(I + 4), genesisTime: clGenesisTime(I + 4) });
    expect(node.readVolume("execution", "geth/nodekey")).toBe(identity);
    // keepPreviousTestnets defaults to 2.
    expect(fs.readdirSync(path.join(node.paths.testnetRoot, "releases")).sort()).toEqual([`ephemery-${I + 1}`, `ephemery-${I + 2}`, `ephemery-${I + 4}`]);
  });

  test("a validator the operator stopped stays stopped across a reset", async () => {
    const { execFileSync } = await import("child_process");
    execFileSync("docker", ["stop", node.specs.validator!.name]);
    server.publish(I + 5);
    const r = await node.run("run", elGenesisTime(I + 5));
    expect(r.code).toBe(0);
    const starts = node.containerStarts();
    expect(starts[node.specs.validator!.name]).toMatch(/^false/);
    expect(starts[node.specs.execution.name]).toMatch(/^true/);
    expect(await nodeAnswers(node)).toEqual({ chainId: chainIdOf(I + 5), genesisTime: clGenesisTime(I + 5) });
  });
});

describe("ephemery-reset on a compose-runtime node", () => {
  const server = new ReleaseServer();
  let node: TestNode;
  beforeAll(async () => {
    await server.start();
    node = await TestNode.create(server, { runtime: "compose", execution: "nethermind", consensus: "teku" });
  });
  afterAll(async () => {
    node?.cleanup();
    await server.stop();
  });

  test("installs, then switches at the new genesis with compose stop / up", async () => {
    server.publish(I);
    const e = await node.run("ensure", elGenesisTime(I) + 100);
    expect(e.stdout.trim().split("\n").pop()).toBe(`iteration=${I}`);
    node.startClients();
    await waitFor(async () => (await nodeAnswers(node).catch(() => undefined))?.chainId === chainIdOf(I), 30_000, "compose clients");
    const identity = { el: node.readVolume("execution", "keystore/node.key.plain"), cl: node.readVolume("consensus", "beacon/kvstore/generated-node-key.dat") };
    server.publish(I + 1);
    const r = await node.run("run", elGenesisTime(I + 1));
    expect(r.stderr).toMatch(/check passed/);
    expect(r.code).toBe(0);
    expect(await nodeAnswers(node)).toEqual({ chainId: chainIdOf(I + 1), genesisTime: clGenesisTime(I + 1) });
    expect(node.readVolume("execution", "keystore/node.key.plain")).toBe(identity.el);
    expect(node.readVolume("consensus", "beacon/kvstore/generated-node-key.dat")).toBe(identity.cl);
    expect(fs.existsSync(path.join(node.paths.archive, `ephemery-${I}`, "teku-slashing-protection", "validator", "slashprotection"))).toBe(true);
  });
});
