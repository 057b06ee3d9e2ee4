/** Re-deposit under mocks: off by default; when on, the program and the funding key (a secret, 0600) reach the host. */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { named, RecordedResource, runProgram } from "../support/mocks";
import { unpackedFiles } from "../../components/hostDrift";
import { makeKeys, tempDir, writeKeyDir } from "../keys/fixtures";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const PASSWORD = "correct horse battery staple";
const FUNDING_KEY = `0x${"5a".repeat(32)}`;
const SECRETS = ["ephemery:sshPrivateKey", "ephemery:keystorePassword", "ephemery:depositFundingKeys"];
let work: string;
let keyDir: string;
let privateKey: string;

beforeAll(async () => {
  work = tempDir("ephemery-redeposit-program-");
  process.env.EPHEMERY_KEY_DIR = path.join(work, "ssh");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(work, "id")]);
  privateKey = fs.readFileSync(path.join(work, "id"), "utf8");
  keyDir = writeKeyDir(await makeKeys(1, { kdf: "pbkdf2", password: () => PASSWORD }), path.join(work, "keys"));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const host = (redeposit?: Record<string, unknown>) => ({
  name: "v1", address: "192.0.2.10", validator: { feeRecipient: FEE, keys: { path: keyDir }, ...(redeposit ? { redeposit } : {}) },
});
const config = (h: unknown, extra: Record<string, unknown> = {}) => ({
  "ephemery:hosts": [h], "ephemery:sshPrivateKey": privateKey, "ephemery:keystorePassword": PASSWORD, ...extra,
});
const has = (rs: RecordedResource[], name: string) => rs.some((r) => r.name === name);
/**
 * The drift guard's state resource registers after its provider is serialized, which can outlast runProgram's
 * quiet-period wait on a busy machine; the recorded list keeps growing, so wait for it there.
 */
async function registered(rs: RecordedResource[], name: string): Promise<RecordedResource> {
  for (let i = 0; i < 600 && !has(rs, name); i++) await new Promise((r) => setTimeout(r, 50));
  return named(rs, name);
}

test("off by default: no program, no funding key, and the reset program's hook is empty", async () => {
  const { resources } = await runProgram(config(host()), { secretKeys: SECRETS });
  expect(has(resources, "v1-reset-redeposit-program")).toBe(false);
  expect(has(resources, "v1-reset-funding-key")).toBe(false);
  expect(named(resources, "v1-reset-program").inputs.stdin).toContain("readonly REDEPOSIT_JS=''");
});

describe("on, with a funding key for the host", () => {
  let resources: RecordedResource[];
  beforeAll(async () => {
    ({ resources } = await runProgram(
      config(host({ enabled: true, withdrawalAddress: `0x${"42".repeat(20)}` }), { "ephemery:depositFundingKeys": { v1: FUNDING_KEY } }),
      { secretKeys: SECRETS },
    ));
  });

  test("the funding key is a secret input, written through stdin into a 0600 file of a 0700 directory, never logged", () => {
    const file = named(resources, "v1-reset-funding-key");
    expect(file.secretInputs).toContain("stdin");
    expect(file.inputs.stdin).toBe(`${FUNDING_KEY}\n`);
    expect(file.inputs.create).toContain("chmod 0600");
    expect(file.inputs.create).toContain("install -d -m 0700");
    expect(file.inputs.create).toContain("/var/lib/ephemery/v1/secrets/deposit-funding.key");
    expect(file.inputs.create).not.toContain(FUNDING_KEY.slice(2));
    expect(file.inputs.logging).toBe("none");
    // Nowhere else: not in the reset program, its settings, or any other resource's inputs but the drift guard's
    // (below), where it is a secret input too.
    const elsewhere = resources.filter((r) => r.name !== "v1-reset-funding-key" && r.name !== "v1-drift-state").map((r) => JSON.stringify(r.inputs)).join("\n");
    expect(elsewhere).not.toContain(FUNDING_KEY.slice(2));
  });

  test("the drift guard (compose runtime) watches the re-deposit program and the funding key (a secret input, its directory 0700)", async () => {
    const composed = (await runProgram(
      config({ ...host({ enabled: true, withdrawalAddress: `0x${"42".repeat(20)}` }), runtime: "compose" }, { "ephemery:depositFundingKeys": { v1: FUNDING_KEY } }),
      { secretKeys: SECRETS },
    )).resources;
    const drift = await registered(composed, "v1-drift-state");
    const files = unpackedFiles(drift.inputs.files);
    const byPath = new Map(files.map((f) => [f.path, f]));
    expect(byPath.get("/var/lib/ephemery/v1/bin/ephemery-redeposit.js")).toEqual({
      path: "/var/lib/ephemery/v1/bin/ephemery-redeposit.js", mode: "0644", content: named(composed, "v1-reset-redeposit-program").inputs.stdin,
    });
    expect(byPath.get("/var/lib/ephemery/v1/secrets/deposit-funding.key")).toEqual({
      path: "/var/lib/ephemery/v1/secrets/deposit-funding.key", mode: "0600", content: `${FUNDING_KEY}\n`, dirMode: "0700",
    });
    expect(drift.secretInputs).toContain("files");
  });

  test("the bundled program and its settings reach the host; the reset program runs it after a reset", () => {
    const program = named(resources, "v1-reset-redeposit-program");
    expect(program.inputs.create).toContain("/var/lib/ephemery/v1/bin/ephemery-redeposit.js");
    expect(program.inputs.stdin).toMatch(/^\/\/ ephemery re-deposit program, bundled from lib\/keys\/redeposit.ts/);
    const script = named(resources, "v1-reset-program").inputs.stdin as string;
    expect(script).toContain("readonly REDEPOSIT_JS='/var/lib/ephemery/v1/bin/ephemery-redeposit.js'");
    const settings = JSON.parse(/^readonly REDEPOSIT_SETTINGS='(.*)'$/m.exec(script)![1]);
    expect(settings).toMatchObject({
      node: "v1", keysDir: "/var/lib/ephemery/v1/validator-keys/current", fundingKeyFile: "/var/lib/ephemery/v1/secrets/deposit-funding.key",
      withdrawalCredentials: `0x01${"00".repeat(11)}${"42".repeat(20)}`, amountGwei: "32000000000", dryRun: false, maxDeposits: 64,
      rpcUrl: "http://127.0.0.1:8545", beaconUrl: "http://127.0.0.1:5052",
    });
  });
});

test("on a local host, the rendered write puts the key in a 0600 file of a 0700 directory (run for real)", async () => {
  const dataDir = path.join(work, "data");
  const { resources } = await runProgram(
    config({ ...host({ enabled: true, withdrawalAddress: `0x${"42".repeat(20)}` }), address: undefined, kind: "local", dataDir }, { "ephemery:depositFundingKeys": { v1: FUNDING_KEY } }),
    { secretKeys: SECRETS },
  );
  const file = named(resources, "v1-reset-funding-key");
  execFileSync("bash", ["-c", file.inputs.create as string], { input: file.inputs.stdin as string });
  const keyFile = path.join(dataDir, "v1", "secrets", "deposit-funding.key");
  expect(fs.readFileSync(keyFile, "utf8")).toBe(`${FUNDING_KEY}\n`);
  expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
  expect(fs.statSync(path.dirname(keyFile)).mode & 0o777).toBe(0o700);
});

test("on without a funding key is a config error that names the setting to set", async () => {
  await expect(runProgram(config(host({ enabled: true, withdrawalAddress: `0x${"42".repeat(20)}` })), { secretKeys: SECRETS }))
    .rejects.toThrow(/hosts\[0\]\.validator\.redeposit: re-deposit is on for host "v1" but no funding key is set; run: pulumi config set --secret --path 'ephemery:depositFundingKeys.v1'/);
});

test("dry run needs no funding key", async () => {
  const { resources } = await runProgram(config(host({ enabled: true, dryRun: true, withdrawalAddress: `0x${"42".repeat(20)}` })), { secretKeys: SECRETS });
  expect(has(resources, "v1-reset-redeposit-program")).toBe(true);
  expect(has(resources, "v1-reset-funding-key")).toBe(false);
  const composed = (await runProgram(config({ ...host({ enabled: true, dryRun: true, withdrawalAddress: `0x${"42".repeat(20)}` }), runtime: "compose" }), { secretKeys: SECRETS })).resources;
  const watched = ((await registered(composed, "v1-drift-state")).inputs.files as { path: string }[]).map((f) => f.path);
  expect(watched).toContain("/var/lib/ephemery/v1/bin/ephemery-redeposit.js");
  expect(watched).not.toContain("/var/lib/ephemery/v1/secrets/deposit-funding.key");
});
