/** `ephemery keys validate|backups|restore`, in-process; backups and restore over a real sshd. */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { hostSchema } from "../../lib/config/schema";
import { buildNodeSpecs } from "../../lib/clients";
import { renderHostScript } from "../../lib/hostScripts";
import { keysScriptPath, keysScriptValues } from "../../lib/keys/hostValues";
import { installBundle } from "../../lib/keys/layout";
import { writeFileCommand } from "../../components/hostCommand";
import { runCli } from "../support/cli";
import { startSshHost, TestSshHost } from "../support/sshd";
import { makeKeys, TestKey, tempDir, writeKeyDir } from "./fixtures";

let keys: TestKey[];
let work: string;
let keyDir: string;

beforeAll(async () => {
  keys = await makeKeys(3, { kdf: "pbkdf2", password: (i) => (i === 2 ? "other" : "secret-1") });
  work = tempDir("ephemery-keys-cli-");
  keyDir = writeKeyDir(keys, path.join(work, "validator_keys"));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe("ephemery keys validate", () => {
  test("--json prints exactly the issue's object; a wrong password makes it fail", async () => {
    const r = await runCli(["keys", "validate", keyDir, "--password-env", "KS_PW", "--json", "--threads", "2"], { env: { KS_PW: "secret-1" } });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(["ok", "count", "keys", "errors"]);
    expect(out.ok).toBe(false);
    expect(out.count).toBe(3);
    expect(out.keys).toEqual(keys.map((k, i) => ({ file: `keystore-m_12381_3600_${i}_0_0-1700000000.json`, pubkey: k.pubkey, kdf: "pbkdf2", passwordOk: i !== 2 })));
    expect(out.errors).toEqual([{ file: "keystore-m_12381_3600_2_0_0-1700000000.json", message: expect.stringMatching(/password is wrong/) }]);
  });

  test("a passwords dir with one file per keystore passes; exit 0", async () => {
    const pw = path.join(work, "passwords");
    fs.mkdirSync(pw, { recursive: true });
    keys.forEach((k, i) => fs.writeFileSync(path.join(pw, `keystore-m_12381_3600_${i}_0_0-1700000000.txt`), `${k.password}\n`));
    const r = await runCli(["keys", "validate", keyDir, "--passwords-dir", pw, "--expected-count", "3", "--json"]);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, count: 3, errors: [] });
    expect(r.code).toBe(0);
  });

  test("without a password, passwordOk is null; a count mismatch names the keys found", async () => {
    const r = await runCli(["keys", "validate", keyDir, "--expected-count", "4", "--json"]);
    const out = JSON.parse(r.stdout);
    expect(out.keys.map((k: { passwordOk: unknown }) => k.passwordOk)).toEqual([null, null, null]);
    expect(out.errors).toEqual([{ file: "(source)", message: expect.stringContaining(`holds 3 key(s), expected 4; found: 0x${keys[0].pubkey}`) }]);
    expect(r.code).toBe(1);
  });

  test("a password file, and the human-readable report", async () => {
    fs.writeFileSync(path.join(work, "pw.txt"), "secret-1\n");
    const one = writeKeyDir(keys.slice(0, 1), path.join(work, "one"));
    const r = await runCli(["keys", "validate", one, "--password-file", path.join(work, "pw.txt")]);
    expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining(`0x${keys[0].pubkey}  pbkdf2  password ok`) });
  });

  test("a keystore asking for 3 GiB of scrypt memory is refused with the limit named, before any password check", async () => {
    const dir = path.join(work, "hostile-kdf");
    fs.mkdirSync(dir);
    const ks = JSON.parse(keys[0].json);
    ks.crypto.kdf = { function: "scrypt", params: { dklen: 32, n: 2 ** 20, r: 24, p: 1, salt: "ab".repeat(32) }, message: "" };
    fs.writeFileSync(path.join(dir, "keystore-m_12381_3600_0_0_0-1700000000.json"), JSON.stringify(ks));
    const r = await runCli(["keys", "validate", dir, "--password-env", "KS_PW", "--json", "--threads", "1"], { env: { KS_PW: "secret-1" } });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, count: 0, errors: [{ file: "keystore-m_12381_3600_0_0_0-1700000000.json", message: expect.stringMatching(/needs 3221225472 bytes of memory \(128\*n\*r\), over the limit of 1073741824/) }] });
  });

  test("usage mistakes exit 2", async () => {
    expect((await runCli(["keys", "validate", keyDir, "--password-env", "A", "--password-file", "b"])).code).toBe(2);
    expect((await runCli(["keys", "validate"])).code).toBe(2);
  });
});

describe("ephemery keys backups / restore over SSH", () => {
  let ssh: TestSshHost;
  let stackFile: string;
  let dataDir: string;
  const node = `cli${process.pid}`;
  const installOnHost = (bundle: string) => ssh.ssh(`${keysScriptPath(dataDir, node)} install`, bundle);

  beforeAll(async () => {
    ssh = await startSshHost();
    dataDir = path.join(work, "host");
    const hostEntry = {
      name: node, address: ssh.host, ssh: { port: ssh.port, useAgent: true }, dataDir,
      validator: { feeRecipient: `0x${"22".repeat(20)}`, keys: { path: keyDir } },
    };
    stackFile = path.join(work, "Pulumi.test.yaml");
    fs.writeFileSync(stackFile, yaml.dump({ config: { "ephemery:hosts": [hostEntry], "ephemery:keystorePassword": { secure: "v1:AAAA" } } }));
    // The installer as the program writes it; no validator container exists, so no Docker is involved.
    const host = hostSchema.parse(hostEntry);
    const spec = buildNodeSpecs({ node, host, checkpointSyncUrls: [] }).validator!;
    ssh.ssh(writeFileCommand(keysScriptPath(dataDir, node), "0700"), renderHostScript("keys-install.sh", keysScriptValues(host, "lighthouse", spec)));
    installOnHost(installBundle("lighthouse", keys.slice(0, 1).map((k) => ({ pubkey: k.pubkey, keystore: k.json, password: k.password }))));
    installOnHost(installBundle("lighthouse", keys.slice(0, 2).map((k) => ({ pubkey: k.pubkey, keystore: k.json, password: k.password }))));
  }, 60_000);
  afterAll(async () => ssh?.stop());

  const sshArgs = () => ["--file", stackFile, "--identity", ssh.privateKeyFile, "--accept-new-host-keys"];

  test("backups lists the backup of the replaced one-key set; restore brings it back", async () => {
    const list = await runCli(["keys", "backups", "--host", node, "--json", ...sshArgs()]);
    expect(list.stderr).not.toMatch(/error/i);
    const backups = JSON.parse(list.stdout);
    expect(backups).toEqual([{ id: expect.stringMatching(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/), created: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), keys: 1, slashingProtection: false }]);
    const restored = await runCli(["keys", "restore", "--host", node, "--backup", backups[0].id, ...sshArgs()]);
    expect(restored).toMatchObject({ code: 0, stdout: `restored ${backups[0].id}\n` });
    const current = fs.readlinkSync(path.join(dataDir, node, "validator-keys", "current"));
    expect(fs.readFileSync(path.join(dataDir, node, "validator-keys", current, "pubkeys.txt"), "utf8")).toBe(`${keys[0].pubkey}\n`);
  });

  test("restore of an unknown backup fails with the reason; a malformed id is a usage error", async () => {
    const r = await runCli(["keys", "restore", "--host", node, "--backup", "20200101T000000Z-abcdef", ...sshArgs()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/backup 20200101T000000Z-abcdef does not exist/);
    expect((await runCli(["keys", "restore", "--host", node, "--backup", "../x", ...sshArgs()])).code).toBe(2);
    expect((await runCli(["keys", "backups", "--host", "nope", ...sshArgs()])).stderr).toMatch(/no host "nope"/);
  });
});
