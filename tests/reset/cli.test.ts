/** `ephemery network` against the closed form and the published points; `ephemery reset plan` from a stack file. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runCli } from "../support/cli";
import { releaseFiles } from "../support/releases";

// Written out independently of lib/ephemery.ts, from shared/EPHEMERY.md.
const PERIOD = 2419200;
const BASE = 1393527600;
const KNOWN = [
  { iteration: 135, chainId: 39438135, elGenesisTime: 1720119600, clGenesisTime: 1720120200 },
  { iteration: 140, chainId: 39438140, elGenesisTime: 1732215600, clGenesisTime: 1732216200 },
  { iteration: 150, chainId: 39438150, elGenesisTime: 1756407600, clGenesisTime: 1756408200 },
];

async function networkJson(at: number) {
  const r = await runCli(["network", "--json", "--at", String(at)]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

describe("ephemery network", () => {
  test.each(KNOWN)("iteration $iteration matches the release history", async (k) => {
    expect(await networkJson(k.elGenesisTime)).toEqual({ ...k, nextResetTime: k.elGenesisTime + PERIOD });
    expect((await networkJson(k.elGenesisTime - 1)).iteration).toBe(k.iteration - 1);
  });

  test("is right at the first second, the middle and the last second of every iteration since 135", async () => {
    for (let i = 135; i <= 135 + 13 * 20; i++) {
      const start = BASE + i * PERIOD;
      const want = { iteration: i, chainId: 39438000 + i, elGenesisTime: start, clGenesisTime: start + 600, nextResetTime: start + PERIOD };
      for (const at of [start, start + PERIOD / 2, start + PERIOD - 1]) {
        const got = await networkJson(at);
        expect(Object.keys(got)).toEqual(["iteration", "chainId", "elGenesisTime", "clGenesisTime", "nextResetTime"]);
        if (JSON.stringify(got) !== JSON.stringify(want)) expect({ at, got }).toEqual({ at, got: want });
      }
    }
  });

  test("prints a readable summary without --json", async () => {
    const r = await runCli(["network", "--at", String(KNOWN[2].elGenesisTime + 3600)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/iteration\s+150 \(release ephemery-150\)/);
    expect(r.stdout).toContain("2025-08-28T19:00:00Z");
    expect(r.stdout).toMatch(/next reset\s+1758826800 .*in 27d 23h 0m/);
  });

  test.each([
    [["--at", "soon"], /--at must be a whole number/],
    [["--at", "1756407600000"], /looks like milliseconds/],
    [["--at", "100"], /before Ephemery's schedule began/],
  ])("rejects %j with a clear message", async (args, message) => {
    const r = await runCli(["network", ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});

describe("ephemery reset plan", () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-reset-plan-")); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const STACK = `config:
  ephemery:hosts:
    - name: alpha
      kind: local
      dataDir: /srv/eph
      validator: { feeRecipient: "0x${"ab".repeat(20)}" }
    - name: beta
      address: 203.0.113.7
      ssh: { useAgent: true }
      runtime: compose
      execution: { client: nethermind, rpcPort: 18545 }
      consensus: { client: prysm }
      reset: { keepPreviousTestnets: 3 }
`;

  test("lists, per node and in order, what a reset stops, archives, wipes, keeps and starts", async () => {
    const file = path.join(dir, "Pulumi.plan.yaml");
    fs.writeFileSync(file, STACK);
    const r = await runCli(["reset", "plan", "--file", file, "--json", "--at", String(KNOWN[2].elGenesisTime + 100)]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [alpha, beta] = JSON.parse(r.stdout);
    expect(alpha).toMatchObject({ node: "alpha", runtime: "docker", from: 150, to: 151, switchAt: KNOWN[2].elGenesisTime + PERIOD, enabled: true, schedule: "* * * * *" });
    expect(alpha.steps.map((s: { action: string; target: string }) => `${s.action} ${s.target}`)).toEqual([
      "stop alpha-validator",
      "stop alpha-consensus",
      "stop alpha-execution",
      "archive alpha-validator-data:validators/slashing_protection.sqlite",
      "wipe alpha-execution-data",
      "wipe alpha-consensus-data",
      "swap /srv/eph/alpha/testnet/current",
      "init alpha-execution",
      "start alpha-execution",
      "start alpha-consensus",
      "start alpha-validator",
      "check http://127.0.0.1:8545",
      "check http://127.0.0.1:5052/eth/v1/beacon/genesis",
    ]);
    expect(alpha.steps[3].detail).toContain("/srv/eph/alpha/archive/ephemery-150/lighthouse-slashing-protection/");
    expect(alpha.steps[4]).toMatchObject({ keep: ["geth/nodekey"] });
    expect(alpha.steps[5]).toMatchObject({ keep: ["beacon/network"] });
    expect(alpha.steps[7].detail).toMatch(/geth init from genesis.json/);
    expect(alpha.steps[11].detail).toBe("eth_chainId = 39438151");
    expect(alpha.steps[12].detail).toBe(`genesis_time = ${KNOWN[2].clGenesisTime + PERIOD}`);

    // A full node: nothing to archive; prysm keeps no identity; nethermind reads chainspec.json.
    expect(beta.steps.map((s: { action: string }) => s.action)).toEqual(["stop", "stop", "wipe", "wipe", "swap", "init", "start", "start", "check", "check"]);
    expect(beta.steps[2]).toMatchObject({ target: "beta-execution-data", keep: ["keystore/node.key.plain"] });
    // prysm's --p2p-static-id key is its node identity: the whole-dir wipe keeps it.
    expect(beta.steps[3]).toMatchObject({ target: "beta-consensus-data", keep: ["network-keys"] });
    expect(beta.steps[3].detail).toMatch(/except network-keys/);
    // Generator 6.x releases have no chainspec.json: it is not required; what prysm reads is.
    expect(beta.steps[4].detail).toMatch(/boot_enr.yaml.*keeping 3 previous/);
    expect(beta.steps[4].detail).not.toMatch(/chainspec.json/);
    expect(beta.steps[5].detail).toMatch(/reads chainspec.json/);
    expect(beta.steps[8].target).toBe("http://127.0.0.1:18545");
  });

  test("prints the same plan as text", async () => {
    const file = path.join(dir, "Pulumi.text.yaml");
    fs.writeFileSync(file, STACK);
    const r = await runCli(["reset", "plan", "--file", file, "--at", String(KNOWN[2].elGenesisTime)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^node alpha \(docker\): ephemery-150 -> ephemery-151 at 1758826800/m);
    expect(r.stdout).toMatch(/ 5\. wipe\s+alpha-execution-data: geth: geth\/ except geth\/nodekey/);
    expect(r.stdout).toMatch(/^node beta \(compose\)/m);
  });

  test("follows the ephemery:network.schedule settings", async () => {
    const file = path.join(dir, "Pulumi.schedule.yaml");
    fs.writeFileSync(file, `${STACK}  ephemery:network:\n    schedule: { periodSec: 1209600, chainIdBase: 1000 }\n`);
    const r = await runCli(["reset", "plan", "--file", file, "--json", "--at", String(1393527600 + 10 * 1209600 + 5)]);
    expect(r.code).toBe(0);
    const [alpha] = JSON.parse(r.stdout);
    expect(alpha).toMatchObject({ from: 10, to: 11, switchAt: 1393527600 + 11 * 1209600 });
    expect(alpha.steps.find((s: { action: string; detail: string }) => s.detail.startsWith("eth_chainId")).detail).toBe("eth_chainId = 1011");
  });

  test("with --release, names each fork the release activates that a pinned client does not support", async () => {
    const file = path.join(dir, "Pulumi.forks.yaml");
    fs.writeFileSync(file, STACK);
    const release = path.join(dir, "config.yaml");
    fs.writeFileSync(release, releaseFiles(151, { forkEpochs: { gloas: 4096 } })["config.yaml"]);
    const r = await runCli(["reset", "plan", "--file", file, "--release", release, "--at", String(KNOWN[2].elGenesisTime)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("  forks: electra, fulu run on every pinned client; gloas not on geth v1.16.7 (execution), lighthouse v8.0.1 (consensus), lighthouse v8.0.1 (validator)\n");
    expect(r.stdout).toContain(`  ${release} activates gloas at epoch 4096, which nethermind 1.35.2 (execution) does not support: set a newer image before its genesis\n`);
    const j = await runCli(["reset", "plan", "--file", file, "--release", release, "--json"]);
    expect(JSON.parse(j.stdout)[1].forks.unsupported.map((u: { client: string }) => u.client)).toEqual(["nethermind", "prysm"]);
    fs.writeFileSync(release, "GLOAS_FORK_EPOCH: *x\n");
    const bad = await runCli(["reset", "plan", "--file", file, "--release", release]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--release .*config.yaml: .*anchor, alias/);
  });

  test("refuses a stack file with problems, naming them", async () => {
    const file = path.join(dir, "Pulumi.bad.yaml");
    fs.writeFileSync(file, "config:\n  ephemery:hosts:\n    - name: x\n      execution: { client: gethh }\n");
    const r = await runCli(["reset", "plan", "--file", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/hosts\[0\]\.execution\.client/);
  });
});
