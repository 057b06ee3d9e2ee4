/**
 * The reset program's re-deposit hook, run for real (real Docker engine, stand-in clients, loopback release
 * server). The re-deposit program itself is replaced by a stand-in that logs its argv and exits with a chosen
 * code: the real one is proven against real geth in tests/chain/redeposit.test.ts; here it is the glue that is
 * tested (after a verified reset only, never after a first install, retried until it reports done).
 */
import * as fs from "fs";
import * as path from "path";
import { chainIdOf, clGenesisTime, elGenesisTime } from "../../lib/ephemery";
import { nodeAnswers, ReleaseServer, TestNode, waitFor } from "./harness";

jest.setTimeout(180_000);

const I = 150;

describe("ephemery-reset with re-deposit on", () => {
  const server = new ReleaseServer();
  let node: TestNode;
  let calls: string;
  let exitCodeFile: string;
  const invocations = () => (fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n").filter(Boolean) : []);
  const due = () => path.join(node.paths.state, "redeposit-due");

  beforeAll(async () => {
    await server.start();
    const dir = fs.mkdtempSync(path.join(require("os").tmpdir(), "ephemery-redeposit-standin-"));
    calls = path.join(dir, "calls.log");
    exitCodeFile = path.join(dir, "exit-code");
    const standin = path.join(dir, "redeposit.js");
    fs.writeFileSync(standin, `const fs = require("fs");
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify(process.argv.slice(2)) + "\\n");
process.exitCode = Number(fs.readFileSync(${JSON.stringify(exitCodeFile)}, "utf8"));
`);
    fs.writeFileSync(exitCodeFile, "1");
    node = await TestNode.create(server, { values: { REDEPOSIT_JS: standin, REDEPOSIT_SETTINGS: '{"node":"standin"}', REDEPOSIT_TIMEOUT_SEC: 30 } });
  });
  afterAll(async () => {
    node?.cleanup();
    await server.stop();
  });

  test("a first install owes no re-deposit", async () => {
    server.publish(I);
    expect((await node.run("ensure", elGenesisTime(I) + 1000)).code).toBe(0);
    node.startClients();
    await waitFor(async () => (await nodeAnswers(node).catch(() => undefined))?.chainId === chainIdOf(I), 20_000, "clients on the first chain");
    expect((await node.run("run", elGenesisTime(I) + 2000)).code).toBe(0);
    expect(invocations()).toEqual([]);
    expect(fs.existsSync(due())).toBe(false);
  });

  test("after a verified reset it runs for the new iteration; a failed run is retried by the next one until it is done", async () => {
    server.publish(I + 1);
    const switched = await node.run("run", elGenesisTime(I + 1) + 5);
    expect(switched.stderr).toMatch(/check passed/);
    expect(await nodeAnswers(node)).toEqual({ chainId: chainIdOf(I + 1), genesisTime: clGenesisTime(I + 1) });
    expect(invocations()).toEqual([JSON.stringify(["run", String(I + 1), '{"node":"standin"}'])]);
    expect(switched.stderr).toMatch(new RegExp(`re-deposit for iteration ${I + 1} did not finish \\(exit 1`));
    expect(fs.readFileSync(due(), "utf8").trim()).toBe(String(I + 1));

    fs.writeFileSync(exitCodeFile, "0");
    const retry = await node.run("run", elGenesisTime(I + 1) + 65);
    expect(retry.stderr).toMatch(new RegExp(`re-deposit for iteration ${I + 1} done`));
    expect(invocations()).toHaveLength(2);
    expect(fs.existsSync(due())).toBe(false);

    await node.run("run", elGenesisTime(I + 1) + 125);
    expect(invocations()).toHaveLength(2);
  });

  test("it waits while the EL answers another chain", async () => {
    fs.writeFileSync(due(), `${I + 1}\n`);
    const el = path.join(node.volumeDir("execution"), "geth/chaindata/chainid");
    fs.writeFileSync(el, "39438999\n");
    try {
      const r = await node.run("run", elGenesisTime(I + 1) + 185);
      expect(r.stderr).toMatch(/re-deposit for iteration 151 waits: the EL at \S+ answers chain id "39438999"/);
      expect(invocations()).toHaveLength(2);
    } finally {
      fs.writeFileSync(el, `${chainIdOf(I + 1)}\n`);
      fs.rmSync(due(), { force: true });
    }
  });
});
