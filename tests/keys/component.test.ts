/** The whole program under mocks with validator keys on two SSH hosts: policy facts, secrets, ordering. */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { checkedInstallKeys } from "../../components/validatorKeys";
import { readArchive, readKeySource } from "../../lib/keys/archive";
import { loadStackConfig } from "../../lib/config/load";
import { named, RecordedResource, runProgram } from "../support/mocks";
import { makeKeys, TestKey, tempDir, writeKeyDir } from "./fixtures";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const PASSWORD = "correct horse battery staple";
let work: string;
let keys: TestKey[];
let privateKey: string;
let dirA: string;
let dirB: string;

beforeAll(async () => {
  work = tempDir("ephemery-keys-program-");
  process.env.EPHEMERY_KEY_DIR = path.join(work, "ssh");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(work, "id")]);
  privateKey = fs.readFileSync(path.join(work, "id"), "utf8");
  keys = await makeKeys(3, { kdf: "pbkdf2", password: () => PASSWORD });
  dirA = writeKeyDir(keys.slice(0, 2), path.join(work, "a"));
  dirB = writeKeyDir(keys.slice(2), path.join(work, "b"));
  // An EIP-3076 export shipped with the keys (e.g. from the client that ran them before) is imported with them.
  fs.writeFileSync(path.join(dirB, "slashing_protection.json"), JSON.stringify({
    metadata: { interchange_format_version: "5", genesis_validators_root: `0x${"ab".repeat(32)}` },
    data: [{ pubkey: `0x${keys[2].pubkey}`, signed_blocks: [{ slot: "12" }], signed_attestations: [{ source_epoch: "1", target_epoch: "2" }] }],
  }));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const host = (name: string, i: number, keysCfg: Record<string, unknown>, client = "lighthouse") => ({
  name, address: `192.0.2.${10 + i}`, consensus: { client }, validator: { feeRecipient: FEE, keys: keysCfg },
});
const config = (hosts: unknown[], extra: Record<string, unknown> = {}) => ({
  "ephemery:hosts": hosts, "ephemery:sshPrivateKey": privateKey, "ephemery:keystorePassword": PASSWORD, ...extra,
});
const SECRETS = ["ephemery:sshPrivateKey", "ephemery:keystorePassword", "ephemery:keystorePasswords"];

async function registered(resources: RecordedResource[], name: string): Promise<void> {
  for (let i = 0; i < 300 && !resources.some((r) => r.name === name); i++) await new Promise((r) => setTimeout(r, 100));
}

// Runs before the program runs below: their leftover mock callbacks must not land in this slow test.
describe("password checks of the upload", () => {
  test("a wrong password fails the key upload with every file named", async () => {
    const files = readKeySource(dirA);
    await expect(checkedInstallKeys(files, { path: dirA, backupsToKeep: 5, moveWaitEpochs: 2 }, "hosts[0].validator.keys", "wrong", 1))
      .rejects.toThrow(/hosts\[0\]\.validator\.keys: 2 problem\(s\) with the keys; nothing was installed:\n  keystore-m_12381_3600_0_0_0-1700000000.json: the password is wrong/);
    const perKey = { [`0x${keys[0].pubkey}`]: PASSWORD, [keys[1].pubkey]: PASSWORD };
    const ok = await checkedInstallKeys(files, { path: dirA, backupsToKeep: 5, moveWaitEpochs: 2 }, "x", perKey, 1);
    expect(ok.map((k) => [k.pubkey, k.password])).toEqual(keys.slice(0, 2).map((k) => [k.pubkey, PASSWORD]));
  });
});

describe("two hosts with keys", () => {
  let resources: RecordedResource[];
  let outputs: Record<string, unknown>;
  beforeAll(async () => {
    ({ resources, outputs } = await runProgram(config([host("alpha", 0, { path: dirA, expectedCount: 2 }), host("beta", 1, { path: dirB }, "teku")]), { secretKeys: SECRETS }));
    // The uploads register after the password checks (worker threads), later than the mocks' settle window.
    for (const name of ["alpha-keys-install", "beta-keys-install", "alpha-validator-container", "beta-validator-container"]) await registered(resources, name);
  }, 60_000);

  test("ValidatorKeys exposes exactly the facts a stack policy checks", () => {
    expect(named(resources, "alpha-keys")).toMatchObject({
      type: "ephemery:keys:ValidatorKeys",
      inputs: { node: "alpha", pubkeys: keys.slice(0, 2).map((k) => k.pubkey).sort(), doppelganger: true, moveWaitEpochs: 2, validatorClient: "lighthouse" },
    });
    expect(named(resources, "beta-keys").inputs).toEqual({ node: "beta", pubkeys: [keys[2].pubkey], doppelganger: true, moveWaitEpochs: 2, validatorClient: "teku" });
  });

  test("every install waits for one barrier that waits for every host's release (hosts, not hosts², dependencies)", () => {
    const barrier = named(resources, "key-moves-released");
    expect(barrier.type).toBe("command:local:Command");
    expect([...barrier.dependsOn].sort()).toEqual(["alpha-keys-release", "beta-keys-release"]);
    // Neither release printed an export (the mocks' stdout is empty), so the barrier carries none.
    expect(JSON.parse(barrier.inputs.stdin)).toEqual({});
    for (const node of ["alpha", "beta"]) {
      const install = named(resources, `${node}-keys-install`);
      expect(install.dependsOn).toContain("key-moves-released");
      expect(install.dependsOn.filter((d) => d.endsWith("-keys-release"))).toEqual([]);
    }
  });

  test("the validator container waits for its keys", () => {
    expect(named(resources, "alpha-validator-container").dependsOn).toContain("alpha-keys-install");
  });

  test("the upload is a secret holding the client's layout with one password file per key", () => {
    const install = named(resources, "beta-keys-install");
    expect(install.secretInputs).toContain("stdin");
    expect(install.inputs.logging).toBe("none");
    const files = readArchive(Buffer.from(install.inputs.stdin as string, "base64"), "tar");
    const names = files.map((f) => f.name).sort();
    expect(names).toEqual(["SHA256SUMS", "keys/client.txt", `keys/keystores/0x${keys[2].pubkey}.json`, "keys/pubkeys.txt", `keys/secrets/0x${keys[2].pubkey}.txt`, "slashing-protection.json"].sort());
    expect(JSON.parse(files.find((f) => f.name === "slashing-protection.json")!.data.toString()).data[0].signed_blocks).toEqual([{ slot: "12" }]);
    expect(files.find((f) => f.name.startsWith("keys/secrets/"))!.data.toString()).toBe(PASSWORD);
    expect(install.inputs.create).toBe(`bash -c 'KEYS_MOVE_WAIT_SEC=0 '\\''/var/lib/ephemery/beta/bin/ephemery-keys'\\'' install'`);
  });

  test("no password or keystore appears in plain inputs or in stack outputs", () => {
    const cipher = JSON.parse(keys[0].json).crypto.cipher.message as string;
    for (const r of resources) {
      const plain = Object.fromEntries(Object.entries(r.inputs).filter(([k]) => !r.secretInputs.includes(k)));
      const text = JSON.stringify(plain);
      expect([r.name, text.includes(PASSWORD) || text.includes(cipher)]).toEqual([r.name, false]);
    }
    const out = JSON.stringify(outputs);
    expect(out).not.toContain(PASSWORD);
    expect(out).not.toContain(cipher);
  });
});

describe("bad key settings are config problems (the program stops before any resource)", () => {
  const load = (cfg: Record<string, unknown>) => {
    const entries = new Map(Object.entries(cfg).map(([k, v]) => [k, { value: v, secret: SECRETS.includes(k) }]));
    const r = loadStackConfig(entries);
    return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
  };

  test("the same key on two hosts", () => {
    const dup = writeKeyDir([keys[0]], path.join(work, "dup"));
    expect(load(config([host("alpha", 0, { path: dirA }), host("beta", 1, { path: dup })]))).toEqual([
      `hosts[1].validator.keys: key 0x${keys[0].pubkey} is also configured on host(s) alpha; a key signing from two hosts gets slashed: keep it on one host only (it is on alpha and beta). To move it, take it out of the old host's validator.keys and put it in the new one's in the same pulumi up, from or to a kind kubernetes host too (README: Validator keys on Kubernetes)`,
    ]);
  });

  test("a count mismatch, a missing password, an unreadable source, a password for no host", () => {
    const cfg = config([host("alpha", 0, { path: dirA, expectedCount: 3 }), host("beta", 1, { path: path.join(work, "nope.tgz") })]);
    delete (cfg as Record<string, unknown>)["ephemery:keystorePassword"];
    (cfg as Record<string, unknown>)["ephemery:keystorePasswords"] = { gamma: "x" };
    const problems = load(cfg);
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^hosts\[0\]\.validator\.keys\.path: \(source\): holds 2 key\(s\), expected 3/),
      expect.stringMatching(/^hosts\[0\]\.validator\.keys: host "alpha" has 2 key\(s\) but no keystore password is set; run: pulumi config set --secret ephemery:keystorePassword/),
      expect.stringMatching(/^hosts\[1\]\.validator\.keys\.path: .*nope\.tgz does not exist or cannot be read/),
      "ephemery:keystorePasswords.gamma: names no host; hosts are alpha, beta",
    ]));
    expect(problems).toHaveLength(4);
  });

  test("a keystore over the KDF limits stops `pulumi up`'s config load with the file and the limit named", () => {
    const dir = path.join(work, "hostile-kdf");
    fs.mkdirSync(dir);
    const ks = JSON.parse(keys[0].json);
    ks.crypto.kdf = { function: "scrypt", params: { dklen: 32, n: 2 ** 18, r: 8, p: 2 ** 20 - 1, salt: "ab".repeat(32) }, message: "" };
    fs.writeFileSync(path.join(dir, "keystore-m_12381_3600_0_0_0-1700000000.json"), JSON.stringify(ks));
    expect(load(config([host("alpha", 0, { path: dir })]))).toEqual([
      expect.stringMatching(/^hosts\[0\]\.validator\.keys\.path: keystore-m_12381_3600_0_0_0-1700000000\.json: crypto\.kdf\.params\.p must be an integer from 1 to 16, got 1048575/),
    ]);
  });

  test("keys without a path (moving every key away) need no password", () => {
    expect(load(config([host("alpha", 0, {})]))).toEqual([]);
    expect(load(config([host("alpha", 0, { expectedCount: 1 })]))).toEqual([expect.stringMatching(/hosts\[0\]\.validator\.keys\.path: keys are expected but no path is set/)]);
  });
});
