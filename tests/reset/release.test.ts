/**
 * The release check inside the real reset program: both generator layouts, releases truncated per client, a
 * decoy chain id, a period change followed and alerted, a fork the pinned clients lack, and the checker run in a
 * Node image (no network, release read-only) on a host without Node.js.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chainIdOf, elGenesisTime } from "../../lib/ephemery";
import { renderHostScript } from "../../lib/hostScripts";
import { RESET_SCRIPT, requiredReleaseFiles, resetScriptValues } from "../../lib/reset/values";
import { docker } from "../support/dockerd";
import { buildArchive, ReleaseServer, releaseFiles, TestNode } from "./harness";

jest.setTimeout(180_000);

const I = 160;
const DAY = 86400;

function releaseMetrics(node: TestNode): string {
  return fs.readFileSync(path.join(node.paths.textfile, "ephemery-release.prom"), "utf8");
}

describe("release verification in ephemery-reset", () => {
  const server = new ReleaseServer();
  const nodes: TestNode[] = [];
  const create = async (opts: Parameters<typeof TestNode.create>[1]) => {
    const n = await TestNode.create(server, { validator: false, ...opts });
    nodes.push(n);
    return n;
  };
  beforeAll(() => server.start());
  afterAll(async () => {
    for (const n of nodes) n.cleanup();
    await server.stop();
  });

  test.each([
    ["besu", "teku", "genesis-json"], ["nethermind", "nimbus", "genesis-json"],
    ["besu", "lighthouse", "legacy"], ["geth", "prysm", "genesis-json"],
  ] as const)("%s + %s installs a release in the %s layout", async (el, cl, layout) => {
    const node = await create({ execution: el, consensus: cl });
    server.publish(I, buildArchive(releaseFiles(I, { layout })));
    const r = await node.run("ensure", elGenesisTime(I) + 60);
    expect([r.code, r.stderr]).toEqual([0, expect.stringContaining(`staged ephemery-${I}: verified (chain id ${chainIdOf(I)}`)]);
    expect(node.current()).toBe(`releases/ephemery-${I}`);
    expect(fs.existsSync(path.join(node.paths.testnetRoot, "current", "besu.json"))).toBe(layout === "legacy");
    expect(fs.existsSync(path.join(node.paths.testnetRoot, "current", "bootnode-keys", "bootnode_pk.enr"))).toBe(true);
  });

  test.each(["lighthouse", "nimbus", "prysm"])("a release truncated below what %s reads is rejected before anything is installed", async (cl) => {
    const node = await create({ execution: "geth", consensus: cl });
    const clOnly = requiredReleaseFiles(node.specs).filter((f) => !["config.yaml", "genesis.json", "genesis.ssz", "nodevars_env.txt", "retention.vars", "genesis_validators_root.txt"].includes(f));
    expect(clOnly.length).toBeGreaterThan(0);
    for (const missing of clOnly) {
      const files: Record<string, string | Buffer> = { ...releaseFiles(I) };
      delete files[missing];
      server.publish(I, buildArchive(files));
      const r = await node.run("ensure", elGenesisTime(I) + 60);
      expect([missing, r.code]).toEqual([missing, 1]);
      expect(r.stderr).toContain(`lacks ${missing}, which this node's clients read`);
      expect(fs.existsSync(path.join(node.paths.testnetRoot, "releases", `ephemery-${I}`))).toBe(false);
    }
  });

  test("a decoy chainId ahead of the real one in genesis.json is rejected", async () => {
    const node = await create({});
    const files = releaseFiles(I);
    const doc = JSON.parse(files["genesis.json"]);
    files["genesis.json"] = JSON.stringify({ alloc: { note: { chainId: chainIdOf(I) } }, config: { ...doc.config, chainId: 1337 }, timestamp: doc.timestamp });
    server.publish(I, buildArchive(files));
    const r = await node.run("ensure", elGenesisTime(I) + 60);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/release check failed for ephemery-160: retention.vars CHAIN_ID is "39438160", expected "1337"/);
  });

  test("a period change in the release is followed (next reset from the release) and alerted", async () => {
    const node = await create({});
    const period = 14 * DAY;
    server.publish(I, buildArchive(releaseFiles(I, { periodSec: period })));
    const r = await node.run("ensure", elGenesisTime(I) + 60);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/disagrees with the configured schedule \(period 1209600 s in the release, 2419200 s/);
    expect(releaseMetrics(node)).toContain(`ephemery_release_schedule_mismatch{node="${node.name}",iteration="${I}"} 1`);
    expect(node.metrics().ephemery_next_reset_timestamp_seconds).toBe(elGenesisTime(I) + period);
    // The next release starts 14 days later, and the node switches then, not on the 28-day closed form.
    server.publish(I + 1, buildArchive(releaseFiles(I + 1, { periodSec: period, elGenesis: elGenesisTime(I) + period })));
    expect((await node.run("run", elGenesisTime(I) + period - 60)).code).toBe(0);
    expect(node.current()).toBe(`releases/ephemery-${I}`);
    const s = await node.run("run", elGenesisTime(I) + period);
    expect([s.code, node.current()]).toEqual([0, `releases/ephemery-${I + 1}`]);
    expect(node.metrics().ephemery_iteration).toBe(I + 1);
  });

  test("a release activating a fork the pinned clients lack is staged, logged and exported per client", async () => {
    const node = await create({});
    server.publish(I, buildArchive(releaseFiles(I, { forkEpochs: { gloas: 2048 } })));
    const r = await node.run("ensure", elGenesisTime(I) + 60);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/activates gloas at epoch 2048, which geth v1\.16\.7 \(execution\) does not support/);
    const m = releaseMetrics(node);
    expect(m).toContain(`ephemery_release_fork_unsupported{node="${node.name}",iteration="${I}",fork="gloas",epoch="2048",role="execution",client="geth",version="v1.16.7"} 1`);
    expect(m).toContain('fork="gloas",epoch="2048",role="consensus",client="lighthouse",version="v8.0.1"} 1');
    expect(m).toContain(`ephemery_release_schedule_mismatch{node="${node.name}",iteration="${I}"} 0`);

    // pulumi up with images that run gloas renders a new policy: the next run re-judges the release and the alert clears.
    const values = resetScriptValues(node.config, server.network, node.specs);
    const policy = JSON.parse(String(values.RELEASE_POLICY));
    for (const c of policy.clients) c.forks.push("gloas");
    fs.writeFileSync(node.script, renderHostScript(RESET_SCRIPT, { ...values, RELEASE_POLICY: JSON.stringify(policy) }), { mode: 0o755 });
    const again = await node.run("run", elGenesisTime(I) + 120);
    expect(again.code).toBe(0);
    expect(releaseMetrics(node)).not.toContain("ephemery_release_fork_unsupported{");
    // Unchanged policy: the release is not checked again.
    const quiet = await node.run("run", elGenesisTime(I) + 180);
    expect(quiet.stderr).not.toMatch(/release check|activates gloas/);
  });

  test("without Node.js on the host the checker runs in the Node image, with no network and the release read-only", async () => {
    const image = nodeImage();
    const node = await create({});
    const values = { ...resetScriptValues(node.config, server.network, node.specs), RELEASE_CHECK_IMAGE: image };
    fs.writeFileSync(node.script, renderHostScript(RESET_SCRIPT, values), { mode: 0o755 });
    const bad = releaseFiles(I);
    bad["config.yaml"] = bad["config.yaml"].replace(`DEPOSIT_CHAIN_ID: ${chainIdOf(I)}`, "DEPOSIT_CHAIN_ID: 1");
    server.publish(I, buildArchive(bad));
    const rejected = await node.run("ensure", elGenesisTime(I) + 60, { EPHEMERY_NODE: "/nonexistent/node" });
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toContain('config.yaml DEPOSIT_CHAIN_ID is "1", expected "39438160"');
    server.publish(I);
    const ok = await node.run("ensure", elGenesisTime(I) + 60, { EPHEMERY_NODE: "/nonexistent/node" });
    expect([ok.code, node.current()]).toEqual([0, `releases/ephemery-${I}`]);
  });
});

/** This machine's node binary and its shared libraries as an image (no registry here), tagged by the binary's identity. */
function nodeImage(): string {
  const bin = fs.realpathSync(execFileSync("sh", ["-c", "command -v node"], { encoding: "utf8" }).trim());
  const st = fs.statSync(bin);
  const ref = `ephemery-release-check-node:${crypto.createHash("sha256").update(`${bin}:${st.size}:${st.mtimeMs}`).digest("hex").slice(0, 12)}`;
  try { docker(["image", "inspect", ref]); return ref; } catch { /* build it */ }
  const rootfs = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-node-rootfs-"));
  try {
    const libs = execFileSync("ldd", [bin], { encoding: "utf8" }).split("\n").map((l) => /(\/\S+) \(0x/.exec(l)?.[1]).filter((l): l is string => !!l);
    for (const f of [...libs]) {
      const dest = path.join(rootfs, f);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(fs.realpathSync(f), dest);
    }
    fs.mkdirSync(path.join(rootfs, "usr/local/bin"), { recursive: true });
    fs.copyFileSync(bin, path.join(rootfs, "usr/local/bin/node"));
    fs.chmodSync(path.join(rootfs, "usr/local/bin/node"), 0o755);
    fs.mkdirSync(path.join(rootfs, "tmp"), { mode: 0o1777 });
    execFileSync("sh", ["-c", 'tar -C "$1" -c . | docker import --change "ENV PATH=/usr/local/bin:/usr/bin:/bin" - "$2"', "sh", rootfs, ref], { stdio: "pipe" });
    return ref;
  } finally {
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
}
