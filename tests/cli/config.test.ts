import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runCli } from "../support/cli";
import { releaseFiles } from "../support/releases";

const ROOT = path.join(__dirname, "..", "..");
let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-cli-")); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function stackFile(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const BAD = `config:
  ephemery:sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----"
  ephemery:hosts:
    - name: node1
      address: 203.0.113.10
      consensus: { client: lighthous }
      validator: { feeRecipient: "0x12" }
    - name: node1
      kind: hcloud
`;

describe("ephemery config check --release", () => {
  const STACK = `config:\n  ephemery:hosts:\n    - name: node1\n      kind: local\n`;
  test.each([
    ["a release on forks the pinned clients run", {}, 0],
    ["a release activating gloas", { gloas: 2048 }, 1],
  ] as const)("%s", async (_what, forkEpochs, code) => {
    const release = path.join(dir, `config-${code}.yaml`);
    fs.writeFileSync(release, releaseFiles(160, { forkEpochs })["config.yaml"]);
    const r = await runCli(["config", "check", "--file", stackFile("Pulumi.forks.yaml", STACK), "--release", release]);
    expect(r.code).toBe(code);
    if (code === 0) {
      expect(r.stdout).toContain("ok (1 host)");
      expect(r.stdout).toContain("hosts[node1]: forks: electra, fulu run on every pinned client; gloas not on geth v1.16.7 (execution), lighthouse v8.0.1 (consensus)");
    } else {
      expect(r.stdout).toContain("config ok, but the release needs newer clients");
      expect(r.stderr).toContain(`hosts[node1]: ${release} activates gloas at epoch 2048, which geth v1.16.7 (execution) does not support`);
      const j = await runCli(["config", "check", "--file", stackFile("Pulumi.forks.yaml", STACK), "--release", release, "--json"]);
      expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, forks: [{ host: "node1", report: { unsupported: [{ fork: "gloas", client: "geth" }, { fork: "gloas", client: "lighthouse" }] } }] });
    }
  });
});

describe("ephemery config check", () => {
  test("lists every problem with its path and exits 1", async () => {
    const r = await runCli(["config", "check", "--file", stackFile("Pulumi.bad.yaml", BAD)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("5 problems");
    for (const line of [
      "ephemery:sshPrivateKey: is a secret but is stored in plain text; run: pulumi config set --secret ephemery:sshPrivateKey",
      'hosts[0].consensus.client: "lighthous" is not one of lighthouse, teku, prysm, nimbus, lodestar',
      'hosts[0].validator.feeRecipient: "0x12" must be a 0x-prefixed 20-byte hex address',
      "hosts[1].hcloud: kind hcloud needs an hcloud block",
      'hosts[1].name: "node1" is also the name of hosts[0]',
    ]) expect(r.stderr).toContain(line);
    expect(r.stderr).not.toContain("BEGIN OPENSSH");
  });

  test("--json prints the problems as data", async () => {
    const r = await runCli(["config", "check", "--json", "--file", stackFile("Pulumi.bad2.yaml", BAD)]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(false);
    expect(out.problems).toContainEqual({ path: "hosts[0].consensus.client", message: '"lighthous" is not one of lighthouse, teku, prysm, nimbus, lodestar' });
  });

  test("the repo's example stacks are valid; --stack finds Pulumi.<stack>.yaml", async () => {
    const local = await runCli(["config", "check", "--stack", "local"], { cwd: ROOT });
    expect(local).toMatchObject({ code: 0, stdout: expect.stringContaining("Pulumi.local.yaml: ok (1 host)") });
    const dev = await runCli(["config", "check", "--stack", "dev"], { cwd: path.join(ROOT, "components") });
    expect(dev.code).toBe(0);
  });

  test("a missing stack file and bad flags are usage errors", async () => {
    expect((await runCli(["config", "check", "--stack", "nope"], { cwd: dir })).code).toBe(2);
    const r = await runCli(["config", "check", "--bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("usage: ephemery config check");
    expect((await runCli(["frobnicate"])).code).toBe(2);
  });

  test("the installed bin runs through npx (built by npm ci)", () => {
    if (!fs.existsSync(path.join(ROOT, "dist", "cli", "main.js"))) execFileSync("npm", ["run", "build"], { cwd: ROOT });
    const good = spawnSync("npx", ["--no-install", "ephemery", "config", "check", "--file", path.join(ROOT, "Pulumi.local.yaml")], { cwd: ROOT, encoding: "utf8" });
    expect(good.status).toBe(0);
    const bad = spawnSync("npx", ["--no-install", "ephemery", "config", "check", "--file", stackFile("Pulumi.bad3.yaml", BAD)], { cwd: ROOT, encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("hosts[0].consensus.client");
  });
});
