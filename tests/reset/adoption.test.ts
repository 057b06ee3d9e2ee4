/**
 * A node whose state/iteration marker is gone (new dataDir, hand cleanup) is judged by what its running clients
 * answer: on the right chain it is adopted (marker written, nothing wiped, slashing protection untouched); on an
 * ended chain it switches with the old chain named; with no answer or answers that disagree it refuses.
 */
import * as fs from "fs";
import * as path from "path";
import { chainIdOf, clGenesisTime, elGenesisTime } from "../../lib/ephemery";
import { docker } from "../support/dockerd";
import { nodeAnswers, ReleaseServer, TestNode, waitFor } from "./harness";

jest.setTimeout(180_000);

const I = 150;

describe("a node without its iteration marker", () => {
  const server = new ReleaseServer();
  let node: TestNode;

  /** Only what the clients keep in their volumes: adoption must leave every byte of it. */
  const volumes = () => Object.fromEntries(Object.entries(node.snapshot()).filter(([k]) => /^(execution|consensus|validator)\//.test(k)));
  const forgetInstall = () => {
    fs.rmSync(path.join(node.paths.state, "iteration"), { force: true });
    fs.rmSync(path.join(node.paths.testnetRoot, "current"), { force: true });
  };
  /** The stand-ins read the release through `current` when they start. */
  const withCurrent = async (i: number, fn: () => void) => {
    fs.symlinkSync(`releases/ephemery-${i}`, path.join(node.paths.testnetRoot, "current"));
    fn();
    await onChain(i);
    fs.rmSync(path.join(node.paths.testnetRoot, "current"));
  };
  const onChain = (i: number) => waitFor(async () => (await nodeAnswers(node).catch(() => undefined))?.chainId === chainIdOf(i), 20_000, `clients on ${i}`);

  beforeAll(async () => {
    await server.start();
    node = await TestNode.create(server);
    server.publish(I);
    expect((await node.run("ensure", elGenesisTime(I) + 100)).code).toBe(0);
    node.startClients();
    await onChain(I);
  });
  afterAll(async () => {
    node?.cleanup();
    await server.stop();
  });

  test("running clients on the installed release's chain: adopted, nothing wiped or restarted", async () => {
    forgetInstall();
    const before = { volumes: volumes(), starts: node.containerStarts() };
    const r = await node.run("ensure", elGenesisTime(I) + 5 * 86400);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").pop()).toBe(`iteration=${I}`);
    expect(r.stderr).toMatch(/adopted: the running clients are on iteration 150/);
    expect(r.stderr).not.toMatch(/stopping|wiped \[|archived slashing/);
    expect(fs.readFileSync(path.join(node.paths.state, "iteration"), "utf8").trim()).toBe(String(I));
    expect(node.current()).toBe(`releases/ephemery-${I}`);
    expect(volumes()).toEqual(before.volumes);
    expect(node.containerStarts()).toEqual(before.starts);
    expect(fs.readdirSync(node.paths.archive)).toEqual([]);
  });

  test("the EL and the CL disagree on the chain: refused, nothing touched", async () => {
    forgetInstall();
    const chainFile = path.join(node.volumeDir("execution"), "geth/chaindata/chainid");
    fs.writeFileSync(chainFile, `${chainIdOf(I - 3)}\n`); // the stand-in answers from this file on every request
    const before = { volumes: volumes(), starts: node.containerStarts(), failures: node.metrics().ephemery_reset_failures_total };
    const r = await node.run("ensure", elGenesisTime(I) + 5 * 86400);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`EL eth_chainId ${chainIdOf(I - 3)}, CL genesis_time ${clGenesisTime(I)}`));
    expect(r.stderr).toMatch(/do not agree on one Ephemery iteration/);
    expect(r.stderr).toMatch(/echo N > .*state\/iteration/);
    expect(volumes()).toEqual(before.volumes);
    expect(node.containerStarts()).toEqual(before.starts);
    expect(fs.existsSync(path.join(node.paths.state, "iteration"))).toBe(false);
    expect(node.metrics().ephemery_reset_failures_total).toBe(before.failures + 1);
    fs.writeFileSync(chainFile, `${chainIdOf(I)}\n`);
  });

  test("a CL whose genesis_validators_root is not the release's: refused", async () => {
    const rootFile = path.join(node.volumeDir("consensus"), "beacon/chain_db/genesis_validators_root");
    const real = fs.readFileSync(rootFile, "utf8");
    fs.writeFileSync(rootFile, `0x${"cd".repeat(32)}`);
    await withCurrent(I, () => docker(["restart", "-t", "1", node.specs.consensus.name]));
    const before = volumes();
    const r = await node.run("ensure", elGenesisTime(I) + 5 * 86400);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/genesis_validators_root is not release ephemery-150's/);
    expect(volumes()).toEqual(before);
    expect(fs.existsSync(path.join(node.paths.state, "iteration"))).toBe(false);
    fs.writeFileSync(rootFile, real);
    await withCurrent(I, () => docker(["restart", "-t", "1", node.specs.consensus.name]));
  });

  test("client data but the clients stopped: no evidence, refused, nothing wiped", async () => {
    docker(["stop", "-t", "1", node.specs.execution.name, node.specs.consensus.name]);
    const before = volumes();
    const r = await node.run("ensure", elGenesisTime(I) + 5 * 86400);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not both running and answering \(EL eth_chainId no answer, CL genesis_time no answer/);
    expect(volumes()).toEqual(before);
    expect(fs.readdirSync(node.paths.archive)).toEqual([]);
    await withCurrent(I, () => docker(["start", node.specs.execution.name, node.specs.consensus.name]));
  });

  test("clients on a chain that has ended: the switch names that chain and archives its slashing protection under it", async () => {
    server.publish(I + 1);
    const oldSlashing = node.readVolume("validator", "validators/slashing_protection.sqlite");
    const r = await node.run("run", elGenesisTime(I + 1) + 30);
    expect(r.stderr).toMatch(/the running clients are on iteration 150 .* which is over: switching to 151/);
    expect(r.stderr).toMatch(/check passed/);
    expect(r.code).toBe(0);
    const archived = path.join(node.paths.archive, `ephemery-${I}`, "lighthouse-slashing-protection", "validators", "slashing_protection.sqlite");
    expect(fs.readFileSync(archived, "utf8")).toBe(oldSlashing);
    expect(fs.readdirSync(node.paths.archive)).toEqual([`ephemery-${I}`]);
    expect(await nodeAnswers(node)).toEqual({ chainId: chainIdOf(I + 1), genesisTime: clGenesisTime(I + 1) });
  });

  test("clients on the current chain while a newer release waits for its genesis: that chain's release is fetched and adopted", async () => {
    server.publish(I + 2);
    forgetInstall();
    fs.rmSync(path.join(node.paths.testnetRoot, "releases", `ephemery-${I + 1}`), { recursive: true });
    const before = { volumes: volumes(), starts: node.containerStarts() };
    const r = await node.run("ensure", elGenesisTime(I + 2) - 3600);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").pop()).toBe(`iteration=${I + 1}`);
    expect(r.stderr).toMatch(/staged ephemery-151: verified/);
    expect(r.stderr).toMatch(/adopted: the running clients are on iteration 151/);
    expect(node.current()).toBe(`releases/ephemery-${I + 1}`);
    expect(volumes()).toEqual(before.volumes);
    expect(node.containerStarts()).toEqual(before.starts);
    expect(node.metrics().ephemery_release_staged).toBe(1);
  });
});
