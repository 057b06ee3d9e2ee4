/**
 * The checkpoint provider a consensus client starts from, written by the reset program to
 * <testnet>/checkpoint-sync-url (read by every CL at start): the first provider proven to serve this iteration's
 * chain with finality when a node joins, empty (genesis sync) at every reset and when none qualifies.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chainIdOf, clGenesisTime, elGenesisTime } from "../../lib/ephemery";
import { docker } from "../support/dockerd";
import { beaconProvider, nodeAnswers, ReleaseServer, releaseRoot, ScriptedServer, TestNode, waitFor } from "./harness";

jest.setTimeout(120_000);

const I = 150;
const DAY = 86400;

describe("checkpoint provider choice", () => {
  const server = new ReleaseServer();
  const names = ["oldChain", "noFinality", "ambiguous", "wrongRoot", "huge", "good", "alsoGood"] as const;
  const p = Object.fromEntries(names.map((n) => [n, new ScriptedServer()])) as Record<(typeof names)[number], ScriptedServer>;
  const hits = () => names.reduce((sum, n) => sum + [...p[n].hits.values()].reduce((a, b) => a + b, 0), 0);
  const serveIteration = (i: number) => {
    const right = { genesisTime: clGenesisTime(i), root: releaseRoot(i) };
    beaconProvider(p.oldChain, { genesisTime: clGenesisTime(i - 1), root: releaseRoot(i - 1), finalizedEpoch: 900 });
    beaconProvider(p.noFinality, { ...right, finalizedEpoch: 0 });
    beaconProvider(p.ambiguous, { ...right, finalizedEpoch: 9, raw: `{"data":{"genesis_time":"${clGenesisTime(i) + 1}","genesis_validators_root":"${right.root}"},"genesis_time":"${right.genesisTime}"}` });
    beaconProvider(p.wrongRoot, { genesisTime: right.genesisTime, root: `0x${"ee".repeat(32)}`, finalizedEpoch: 9 });
    beaconProvider(p.huge, { ...right, finalizedEpoch: 9, raw: `{"data":{"genesis_time":"${right.genesisTime}","genesis_validators_root":"${right.root}","pad":"${"x".repeat(200_000)}"}}` });
    beaconProvider(p.good, { ...right, finalizedEpoch: 5 });
    beaconProvider(p.alsoGood, { ...right, finalizedEpoch: 7 });
  };
  let node: TestNode;

  beforeAll(async () => {
    await server.start();
    for (const n of names) await p[n].start();
    serveIteration(I);
    node = await TestNode.create(server, { checkpointSyncUrls: names.map((n) => `${p[n].url}/`) });
    server.publish(I);
  });
  afterAll(async () => {
    node?.cleanup();
    for (const n of names) await p[n].stop();
    await server.stop();
  });

  test("joining mid-iteration: the first provider on this release's chain with finality is chosen", async () => {
    const r = await node.run("ensure", elGenesisTime(I) + 5 * DAY);
    expect(r.code).toBe(0);
    expect(node.checkpointUrl()).toBe(`${p.good.url}\n`);
    expect(fs.statSync(path.join(node.paths.testnetRoot, "checkpoint-sync-url")).mode & 0o777).toBe(0o644);
    expect(r.stderr).toContain(`${p.oldChain.url} skipped: it serves genesis_time "${clGenesisTime(I - 1)}"`);
    expect(r.stderr).toContain(`${p.noFinality.url} skipped: nothing finalized yet`);
    expect(r.stderr).toContain(`${p.ambiguous.url} skipped: /eth/v1/beacon/genesis: no single well-formed genesis_time in the answer`);
    expect(r.stderr).toContain(`${p.wrongRoot.url} skipped: it serves genesis_time "${clGenesisTime(I)}", genesis_validators_root "0x${"ee".repeat(32)}"`);
    expect(r.stderr).toContain(`${p.huge.url} skipped: /eth/v1/beacon/genesis: the answer is larger than 65536 bytes`);
    expect(p.alsoGood.count("/eth/v1/beacon/genesis")).toBe(0);
    expect((await node.run("status", elGenesisTime(I) + 5 * DAY)).stdout).toContain(`checkpoint_sync_url=${p.good.url}\n`);
  });

  test("at a reset the file is emptied before the clients start, and no provider is asked", async () => {
    node.startClients();
    await waitFor(async () => (await nodeAnswers(node).catch(() => undefined))?.chainId === chainIdOf(I), 20_000, "clients");
    serveIteration(I + 1); // even providers already on the new chain with finality are not used for a brand-new chain
    server.publish(I + 1);
    const before = hits();
    const r = await node.run("run", elGenesisTime(I + 1) + 30);
    expect(r.stderr).toMatch(/check passed/);
    expect(r.code).toBe(0);
    expect(node.checkpointUrl()).toBe("");
    expect((await node.run("status", elGenesisTime(I + 1) + 40)).stdout).toContain("checkpoint_sync_url=none\n");
    expect(hits()).toBe(before);
    expect(r.stderr.indexOf("checkpoint sync: none")).toBeLessThan(r.stderr.indexOf("starting execution"));
  });

  test("a consensus volume emptied mid-iteration: the next run picks a provider again", async () => {
    docker(["stop", "-t", "1", node.specs.consensus.name]);
    fs.rmSync(path.join(node.volumeDir("consensus"), "beacon", "chain_db"), { recursive: true });
    const r = await node.run("run", elGenesisTime(I + 1) + 2 * DAY);
    expect(r.code).toBe(0);
    expect(node.checkpointUrl()).toBe(`${p.good.url}\n`);
  });
});

describe("no provider qualifies", () => {
  const server = new ReleaseServer();
  const old = new ScriptedServer();
  const good = new ScriptedServer();
  const marker = path.join(os.tmpdir(), `ephemery-checkpoint-injected-${process.pid}`);
  beforeAll(async () => {
    await server.start();
    await old.start();
    await good.start();
    beaconProvider(old, { genesisTime: clGenesisTime(I - 1), root: releaseRoot(I - 1), finalizedEpoch: 900 });
    beaconProvider(good, { genesisTime: clGenesisTime(I), root: releaseRoot(I), finalizedEpoch: 5 });
  });
  afterAll(async () => {
    for (const s of [old, good, server]) await s.stop();
    fs.rmSync(marker, { force: true });
  });

  test("the file is empty (genesis sync), and a URL with shell syntax is never used", async () => {
    // Rendered directly: the schema would refuse it, the program must too.
    const node = await TestNode.create(server, { values: { CHECKPOINT_URLS: `${old.url} ${good.url}/$(touch${"${IFS}"}${marker})` } });
    try {
      server.publish(I);
      const r = await node.run("ensure", elGenesisTime(I) + 5 * DAY);
      expect(r.code).toBe(0);
      expect(node.checkpointUrl()).toBe("");
      expect(r.stderr).toMatch(/checkpoint provider ".*\$\(touch.*" skipped: only http\(s\):\/\/host/);
      expect(r.stderr).toMatch(/no provider serves this iteration's chain with finality/);
      expect(fs.existsSync(marker)).toBe(false);
      expect(good.count("/eth/v1/beacon/genesis")).toBe(0);
    } finally {
      node.cleanup();
    }
  });
});
