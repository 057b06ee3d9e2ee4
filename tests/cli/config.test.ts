import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runCli } from "../support/cli";

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
