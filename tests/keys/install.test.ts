/**
 * The host installer (host-scripts/keys-install.sh) run for real: over a real sshd, against the real Docker
 * engine and a stand-in validator client, on a real filesystem.
 */
import * as fs from "fs";
import * as path from "path";
import { buildNodeSpecs } from "../../lib/clients";
import { hostSchema } from "../../lib/config/schema";
import { keysScriptPath, keysScriptValues } from "../../lib/keys/hostValues";
import { installBundle, InstallKey } from "../../lib/keys/layout";
import { writeFileCommand } from "../../components/hostCommand";
import { renderHostScript } from "../../lib/hostScripts";
import { docker } from "../support/dockerd";
import { freePort, startSshHost, TestSshHost } from "../support/sshd";
import { makeKeys, TestKey, tempDir } from "./fixtures";
import { standinImage, standinTools } from "./standin";

const GVR = `0x${"ab".repeat(32)}`;
let ssh: TestSshHost;
let keys: TestKey[];
let dataDir: string;
let node: string;
let port: number;
let script: string;
const ik = (k: TestKey): InstallKey => ({ pubkey: k.pubkey, keystore: k.json, password: k.password });

function run(args: string, input?: string): { ok: boolean; out: string; err: string } {
  try {
    // The test engine may listen elsewhere than the default socket (DOCKER_HOST); the SSH session needs it too.
    const env = process.env.DOCKER_HOST ? `DOCKER_HOST=${process.env.DOCKER_HOST} ` : "";
    return { ok: true, out: ssh.ssh(`${env}${script} ${args}`, input), err: "" };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string };
    return { ok: false, out: x.stdout ?? "", err: x.stderr ?? "" };
  }
}
const loaded = () => {
  const body = docker(["exec", `${node}-validator`, "cat", "/www/eth/v1/keystores"]);
  return (JSON.parse(body).data as { validating_pubkey: string }[]).map((d) => d.validating_pubkey.slice(2)).sort();
};
const sorted = (ks: TestKey[]) => ks.map((k) => k.pubkey).sort();
const keysRoot = () => path.join(dataDir, node, "validator-keys");
const backupIds = () => run("backups").out.trim().split("\n").filter(Boolean).map((l) => l.split("\t")[0]);

beforeAll(async () => {
  keys = await makeKeys(5, { kdf: "pbkdf2", password: (i) => `pw-${i}` });
  ssh = await startSshHost();
  dataDir = tempDir("ephemery-keyhost-");
  node = `kt${process.pid}`;
  port = await freePort();
  const host = hostSchema.parse({
    name: node, kind: "local", dataDir,
    validator: { client: "lighthouse", feeRecipient: `0x${"11".repeat(20)}`, keymanagerPort: port, keys: { path: "/unused", backupsToKeep: 2 } },
  });
  const spec = buildNodeSpecs({ node, host, checkpointSyncUrls: [] }).validator!;
  const image = standinImage();
  const values = { ...keysScriptValues(host, "lighthouse", spec), ...standinTools(GVR), IMAGE: image, VERIFY_TIMEOUT_SEC: 8, STOP_GRACE_SEC: 1 };
  script = keysScriptPath(dataDir, node);
  ssh.ssh(writeFileCommand(script, "0755"), renderHostScript("keys-install.sh", values));
  fs.mkdirSync(path.join(dataDir, node, "testnet", "current"), { recursive: true });
  fs.writeFileSync(path.join(dataDir, node, "testnet", "current", "genesis_validators_root.txt"), `${GVR}\n`);
  fs.mkdirSync(keysRoot(), { recursive: true, mode: 0o700 });
  docker(["run", "-d", "--name", `${node}-validator`, "--network", "host", "-e", `PORT=${port}`, "-v", `${keysRoot()}:/ephemery/validator-keys:ro`,
    "-v", `${spec.data.volume}:/data`, image, "/standin.sh"]);
}, 120_000);

afterAll(async () => {
  try { docker(["rm", "-f", `${node}-validator`]); } catch { /* not created */ }
  try { docker(["volume", "rm", "-f", `${node}-validator-data`]); } catch { /* not created */ }
  await ssh?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("staged install over SSH", () => {
  test("installs keys atomically with strict modes and the client loads exactly them", () => {
    const r = run("install", installBundle("lighthouse", keys.slice(0, 2).map(ik)));
    expect(r).toMatchObject({ ok: true, err: "", out: expect.stringMatching(/^installed /m) });
    const link = fs.readlinkSync(path.join(keysRoot(), "current"));
    expect(link).toMatch(/^sets\/[0-9T]+Z-[0-9a-f]{6}$/);
    expect(loaded()).toEqual(sorted(keys.slice(0, 2)));
    const set = path.join(keysRoot(), link);
    const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [path.join(d, e.name), ...walk(path.join(d, e.name))] : [path.join(d, e.name)]));
    for (const p of walk(set)) {
      const st = fs.statSync(p);
      expect([p, st.mode & 0o777, st.uid]).toEqual([p, st.isDirectory() ? 0o700 : 0o600, 0]);
    }
    expect(fs.readFileSync(path.join(set, "lighthouse/secrets", `0x${keys[0].pubkey}`), "utf8")).toBe("pw-0");
    expect(r.err + r.out).not.toContain("pw-0"); // passwords never reach the logs
    expect(fs.readdirSync(keysRoot()).sort()).toEqual(["current", "sets"]);
  });

  test("the same keys again change nothing", () => {
    const before = fs.readlinkSync(path.join(keysRoot(), "current"));
    const r = run("install", installBundle("lighthouse", keys.slice(0, 2).map(ik)));
    expect(r.out.trim()).toBe("unchanged");
    expect(fs.readlinkSync(path.join(keysRoot(), "current"))).toBe(before);
  });

  test("a bundle whose checksums do not match is refused before anything changes", () => {
    const before = fs.readlinkSync(path.join(keysRoot(), "current"));
    const tar = Buffer.from(installBundle("lighthouse", keys.slice(0, 3).map(ik)), "base64");
    const i = tar.indexOf(Buffer.from("pw-2"));
    tar.write("XX", i);
    const r = run("install", tar.toString("base64"));
    expect(r.ok).toBe(false);
    expect(r.err).toMatch(/checksums of the uploaded keys do not match; nothing was changed/);
    expect(fs.readlinkSync(path.join(keysRoot(), "current"))).toBe(before);
    expect(loaded()).toEqual(sorted(keys.slice(0, 2)));
  });

  test("an interchange of another chain is refused", () => {
    const other = JSON.stringify({ metadata: { interchange_format_version: "5", genesis_validators_root: `0x${"cd".repeat(32)}` }, data: [] });
    const r = run("install", installBundle("lighthouse", keys.slice(0, 3).map(ik), other));
    expect(r.ok).toBe(false);
    expect(r.err).toMatch(/another Ephemery iteration\); refusing to import/);
    expect(loaded()).toEqual(sorted(keys.slice(0, 2)));
  });

  test("an interchange is refused while the release's genesis_validators_root is unknown: no root given is not a pass", () => {
    const gvrFile = path.join(dataDir, node, "testnet", "current", "genesis_validators_root.txt");
    const same = JSON.stringify({ metadata: { interchange_format_version: "5", genesis_validators_root: GVR }, data: [] });
    fs.renameSync(gvrFile, `${gvrFile}.away`);
    try {
      const r = run("install", installBundle("lighthouse", keys.slice(0, 3).map(ik), same));
      expect(r.ok).toBe(false);
      expect(r.err).toMatch(/genesis_validators_root\.txt .* is missing or malformed, so the chain of .* cannot be checked/);
      expect(loaded()).toEqual(sorted(keys.slice(0, 2)));
    } finally {
      fs.renameSync(`${gvrFile}.away`, gvrFile);
    }
  });

  test("a moved-in interchange is imported, the old set backed up with its slashing protection", () => {
    const moved = JSON.stringify({ metadata: { interchange_format_version: "5", genesis_validators_root: GVR }, data: [{ pubkey: `0x${keys[2].pubkey}`, signed_blocks: [{ slot: "81" }], signed_attestations: [] }] });
    const backupsBefore = backupIds().length;
    const r = run("install", installBundle("lighthouse", keys.slice(0, 3).map(ik), moved));
    expect(r.ok).toBe(true);
    expect(loaded()).toEqual(sorted(keys.slice(0, 3)));
    const imported = docker(["run", "--rm", "-v", `${node}-validator-data:/data`, standinImage(), "sh", "-c", "cat /data/imported-*.json"]);
    expect(JSON.parse(imported)).toEqual(JSON.parse(moved));
    expect(backupIds().length).toBe(backupsBefore + 1);
    const backups = path.join(dataDir, node, "backups", "keys");
    const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [path.join(d, e.name), ...walk(path.join(d, e.name))] : [path.join(d, e.name)]));
    for (const p of walk(backups)) expect([p, fs.statSync(p).mode & 0o777]).toEqual([p, fs.statSync(p).isDirectory() ? 0o700 : 0o600]);
  });

  test("a key the client does not load rolls back to the previous keys and fails with the reason", () => {
    docker(["run", "--rm", "-v", `${node}-validator-data:/data`, standinImage(), "sh", "-c", `echo 0x${keys[3].pubkey} > /data/reject`]);
    const before = fs.readlinkSync(path.join(keysRoot(), "current"));
    const r = run("install", installBundle("lighthouse", keys.slice(0, 4).map(ik)));
    expect(r.ok).toBe(false);
    expect(r.err).toContain(`missing: 0x${keys[3].pubkey}`);
    expect(r.err).toMatch(/rolled back to the previous keys/);
    expect(fs.readlinkSync(path.join(keysRoot(), "current"))).toBe(before);
    expect(loaded()).toEqual(sorted(keys.slice(0, 3)));
    docker(["run", "--rm", "-v", `${node}-validator-data:/data`, standinImage(), "rm", "/data/reject"]);
  });

  test("backups rotate (keep 2) and restore brings back keys and slashing protection", () => {
    // Backups so far: the first install's (slashing protection only), the 2-key set, the 3-key set (rollback).
    const lines = run("backups").out.trim().split("\n").map((l) => l.split("\t"));
    expect(lines.map((l) => [l[2], l[3]])).toEqual([["3", "yes"], ["2", "yes"]]);
    const twoKeys = lines[1][0];
    docker(["run", "--rm", "-v", `${node}-validator-data:/data`, standinImage(), "sh", "-c", "rm -f /data/imported-*.json"]);
    const r = run(`restore ${twoKeys}`);
    expect(r).toMatchObject({ ok: true, out: expect.stringContaining(`restored ${twoKeys}`) });
    expect(loaded()).toEqual(sorted(keys.slice(0, 2)));
    const imported = docker(["run", "--rm", "-v", `${node}-validator-data:/data`, standinImage(), "sh", "-c", "cat /data/imported-*.json"]);
    expect(JSON.parse(imported).metadata.genesis_validators_root).toBe(GVR);
    expect(run("restore 20200101T000000Z-abcdef").err).toMatch(/backup 20200101T000000Z-abcdef does not exist/);
    expect(run("restore ../../etc").err).toMatch(/is not valid/);
  });

  test("release stops the client and hands over the slashing protection of keys leaving the host", () => {
    docker(["run", "--rm", "-v", `${node}-validator-data:/data`, standinImage(), "sh", "-c",
      `printf '{"metadata":{"interchange_format_version":"5","genesis_validators_root":"${GVR}"},"data":[{"pubkey":"0x${keys[1].pubkey}","signed_blocks":[{"slot":"7"}],"signed_attestations":[]}]}' > /data/slashing.json`]);
    const r = run("release", `${keys[0].pubkey}\n`);
    expect(r.ok).toBe(true);
    const m = /-----BEGIN SLASHING PROTECTION-----\n([\s\S]*)\n-----END SLASHING PROTECTION-----/.exec(r.out);
    expect(JSON.parse(m![1]).data[0].pubkey).toBe(`0x${keys[1].pubkey}`);
    expect(docker(["inspect", "-f", "{{.State.Running}}", `${node}-validator`]).trim()).toBe("false");
    const set = path.join(keysRoot(), fs.readlinkSync(path.join(keysRoot(), "current")));
    expect(fs.readFileSync(path.join(set, "pubkeys.txt"), "utf8")).toBe("");
    expect(run("release", `${keys[0].pubkey}\n`).out.trim()).toBe("released 0");
  });
});
