/**
 * A full disk must not erase the evidence of failure: every write is checked before the rename, so the failure
 * count, the textfile metrics and the switch journal keep their old content, and a switch that cannot journal
 * stops nothing. The state and metrics dirs are tiny tmpfs mounts filled to the last byte (needs root).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { chainIdOf, elGenesisTime } from "../../lib/ephemery";
import { nodeAnswers, ReleaseServer, TestNode, waitFor } from "./harness";

jest.setTimeout(180_000);

const I = 150;
const HOUR = 3600;

function fill(dir: string): void {
  const dd = (file: string) => {
    try {
      execFileSync("dd", ["if=/dev/zero", `of=${path.join(dir, file)}`, "bs=1k"], { stdio: "pipe" });
    } catch { /* ENOSPC is the point */ }
  };
  dd(".fill");
  expect(() => fs.writeFileSync(path.join(dir, ".probe"), "x".repeat(8192))).toThrow(/ENOSPC/);
  fs.rmSync(path.join(dir, ".probe"), { force: true });
  dd(".fill2"); // whatever the probe's removal gave back
}
const unfill = (dir: string) => {
  for (const f of [".fill", ".fill2"]) fs.rmSync(path.join(dir, f), { force: true });
};

describe("disk full", () => {
  const server = new ReleaseServer();
  let node: TestNode;
  const mounts: string[] = [];

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error("this test mounts tmpfs file systems and needs root (the .ci/run script runs as root)");
    await server.start();
    node = await TestNode.create(server);
    for (const dir of [node.paths.state, node.paths.textfile]) {
      // Room for the staged release (a mainnet-sized genesis.ssz), until the test fills it up.
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", dir]);
      mounts.push(dir);
    }
    server.publish(I);
    const first = await node.run("ensure", elGenesisTime(I) + 100);
    if (first.code !== 0) throw new Error(`ensure failed:\n${first.stderr}`);
    node.startClients();
    await waitFor(async () => (await nodeAnswers(node).catch(() => undefined))?.chainId === chainIdOf(I), 20_000, "clients");
    // One recorded failure, then the next release staged, waiting for its genesis.
    server.mode = "down";
    expect((await node.run("run", elGenesisTime(I + 1) - 2 * HOUR)).code).not.toBe(0);
    server.mode = "up";
    server.publish(I + 1);
    node.forgetBackoff();
    expect((await node.run("run", elGenesisTime(I + 1) - HOUR)).code).toBe(0);
    expect(node.metrics().ephemery_release_staged).toBe(1);
  });
  afterAll(async () => {
    for (const dir of mounts) execFileSync("umount", [dir]);
    node?.cleanup();
    await server.stop();
  });

  const failuresFile = () => fs.readFileSync(path.join(node.paths.state, "failures"), "utf8");
  const journal = () => path.join(node.paths.state, "switch.journal");

  test("state/ full at the switch: nothing stops, the failure file keeps its count, the metric still counts it", async () => {
    expect(failuresFile()).toBe("1\n");
    fill(node.paths.state);
    const before = node.containerStarts();
    const r = await node.run("run", elGenesisTime(I + 1));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/could not write .*switch\.journal \(disk full or read-only\?\); kept the old one/);
    expect(r.stderr).not.toMatch(/stopping/);
    expect(fs.existsSync(journal())).toBe(false);
    expect(node.containerStarts()).toEqual(before);
    expect(node.current()).toBe(`releases/ephemery-${I}`);
    expect(failuresFile()).toBe("1\n");
    expect(node.metrics().ephemery_reset_failures_total).toBe(2);
    expect(fs.readdirSync(node.paths.state).filter((f) => f.startsWith(".") && !f.startsWith(".fill"))).toEqual([]);
  });

  test("metrics dir full too: the metrics file is left exactly as it was, never emptied", async () => {
    fill(node.paths.textfile);
    const prom = path.join(node.paths.textfile, "ephemery.prom");
    const before = fs.readFileSync(prom, "utf8");
    const r = await node.run("run", elGenesisTime(I + 1) + 60);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/could not write .*ephemery\.prom .*kept the old one/);
    expect(fs.readFileSync(prom, "utf8")).toBe(before);
    expect(node.metrics().ephemery_reset_failures_total).toBe(2);
    expect(failuresFile()).toBe("1\n");
    // No temporary file left behind: only the two metric files (the release checker's and the reset program's).
    expect(fs.readdirSync(node.paths.textfile).filter((f) => !f.startsWith(".fill")).sort()).toEqual(["ephemery-release.prom", "ephemery.prom"]);
  });

  test("an interrupted switch whose journal cannot be advanced keeps the journal it had", async () => {
    unfill(node.paths.state);
    unfill(node.paths.textfile);
    await node.runAndKill(elGenesisTime(I + 1) + 120, "stopped");
    const text = fs.readFileSync(journal(), "utf8");
    expect(text).toContain("PHASE=stopped");
    fill(node.paths.state);
    const r = await node.run("run", elGenesisTime(I + 1) + 180);
    expect(r.code).not.toBe(0);
    expect(fs.readFileSync(journal(), "utf8")).toBe(text);
    unfill(node.paths.state);
    const done = await node.run("run", elGenesisTime(I + 1) + 240);
    expect(done.stderr).toMatch(/resuming the switch to ephemery-151/);
    expect(done.code).toBe(0);
    expect(node.current()).toBe(`releases/ephemery-${I + 1}`);
  });
});
