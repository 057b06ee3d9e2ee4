/**
 * The host installer (host-scripts/keys-install.sh) run for real: over a real sshd, against the real Docker
 * engine and a stand-in validator client, on a real filesystem.
 */
import { ChildProcess, execFile, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { buildNodeSpecs } from "../../lib/clients";
import { hostSchema } from "../../lib/config/schema";
import { keysScriptPath, keysScriptValues } from "../../lib/keys/hostValues";
import { installBundle, InstallKey } from "../../lib/keys/layout";
import { writeFileCommand } from "../../components/hostCommand";
import { renderHostScript, ScriptValues } from "../../lib/hostScripts";
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
let scriptValues: () => ScriptValues;
const ik = (k: TestKey): InstallKey => ({ pubkey: k.pubkey, keystore: k.json, password: k.password });

// The test engine may listen elsewhere than the default socket (DOCKER_HOST); the SSH session needs it too.
const dockerEnv = () => (process.env.DOCKER_HOST ? `DOCKER_HOST=${process.env.DOCKER_HOST} ` : "");
function run(args: string, input?: string, env = ""): { ok: boolean; out: string; err: string } {
  try {
    return { ok: true, out: ssh.ssh(`${dockerEnv()}${env}${script} ${args}`, input), err: "" };
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
  scriptValues = () => values;
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
    expect(fs.readdirSync(keysRoot()).sort()).toEqual([".lock", "current", "sets"]);
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

describe("one run at a time, its own files only, the token off command lines", () => {
  const importedCount = () => Number(docker(["run", "--rm", "-v", `${node}-validator-data:/data`, standinImage(), "sh", "-c", "ls /data | grep -c '^imported-' || true"]).trim());
  const interchangeFor = (k: TestKey, slot: string) => JSON.stringify({ metadata: { interchange_format_version: "5", genesis_validators_root: GVR }, data: [{ pubkey: `0x${k.pubkey}`, signed_blocks: [{ slot }], signed_attestations: [] }] });

  test("an interchange that arrives while the keys are unchanged is imported, once", () => {
    expect(run("install", installBundle("lighthouse", keys.slice(0, 2).map(ik))).out).toMatch(/^installed /m);
    const before = importedCount();
    const link = fs.readlinkSync(path.join(keysRoot(), "current"));
    const r = run("install", installBundle("lighthouse", keys.slice(0, 2).map(ik), interchangeFor(keys[1], "95")));
    expect(r).toMatchObject({ ok: true, out: "unchanged; imported slashing protection\n" });
    expect(importedCount()).toBe(before + 1);
    expect(fs.readlinkSync(path.join(keysRoot(), "current"))).toBe(link);
    expect(loaded()).toEqual(sorted(keys.slice(0, 2)));
    expect(run("install", installBundle("lighthouse", keys.slice(0, 2).map(ik), interchangeFor(keys[1], "95"))).out).toBe("unchanged\n");
    expect(importedCount()).toBe(before + 1);
    // A different file for the same keys is new evidence: imported too.
    expect(run("install", installBundle("lighthouse", keys.slice(0, 2).map(ik), interchangeFor(keys[1], "96"))).out).toBe("unchanged; imported slashing protection\n");
    expect(importedCount()).toBe(before + 2);
  });

  test("a run waits for the node's lock and gives up with the reason; nothing changes meanwhile", async () => {
    const lock = path.join(keysRoot(), ".lock");
    // Holds the lock until its stdin closes (cat exits, then flock).
    const holder = spawn("flock", [lock, "cat"], { stdio: ["pipe", "ignore", "ignore"] });
    try {
      await waitFor(() => lockHeld(lock));
      const link = fs.readlinkSync(path.join(keysRoot(), "current"));
      const r = run("install", installBundle("lighthouse", keys.slice(0, 3).map(ik)), "KEYS_LOCK_WAIT_SEC=1 ");
      expect(r.ok).toBe(false);
      expect(r.err).toMatch(/another ephemery-keys run \(install, release, restore or remove\) has held .*validator-keys\/\.lock for 1s; let it finish/);
      expect(fs.readlinkSync(path.join(keysRoot(), "current"))).toBe(link);
      expect(fs.readdirSync(keysRoot()).filter((f) => f.startsWith("staging."))).toEqual([]);
    } finally {
      await release(holder);
    }
    expect(run("install", installBundle("lighthouse", keys.slice(0, 3).map(ik)), "KEYS_LOCK_WAIT_SEC=1 ").out).toMatch(/^installed /m);
    expect(loaded()).toEqual(sorted(keys.slice(0, 3)));
  });

  test("a run removes only its own staging and interchange copy, never another run's", () => {
    const other = path.join(keysRoot(), "staging.20260101T000000Z-abcdef");
    fs.mkdirSync(path.join(other, "keys"), { recursive: true });
    fs.writeFileSync(path.join(other, "keys", "inflight.json"), "{}");
    const otherImport = path.join(keysRoot(), "import.20260101T000000Z-abcdef.json");
    fs.writeFileSync(otherImport, "{}");
    try {
      const r = run("install", installBundle("lighthouse", keys.slice(0, 2).map(ik), interchangeFor(keys[0], "97")));
      expect(r.out).toMatch(/^installed /m);
      expect(fs.readFileSync(path.join(other, "keys", "inflight.json"), "utf8")).toBe("{}");
      expect(fs.existsSync(otherImport)).toBe(true);
      // Its own are gone: only the other run's files and the active layout remain.
      expect(fs.readdirSync(keysRoot()).sort()).toEqual([".lock", "current", path.basename(otherImport), path.basename(other), "sets"].sort());
      const failed = run("install", "not base64 !!");
      expect(failed.ok).toBe(false);
      expect(fs.readdirSync(keysRoot()).sort()).toEqual([".lock", "current", path.basename(otherImport), path.basename(other), "sets"].sort());
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
      fs.rmSync(otherImport, { force: true });
    }
  });

  test("the keymanager token reaches the API in a header but never a command line (ps) while curl runs", async () => {
    const token = `tok-${process.pid}-${"x".repeat(20)}`;
    docker(["exec", `${node}-validator`, "sh", "-c", `printf '%s\\n' ${token} > /data/api-token.txt`]);
    const want = keys.slice(0, 4);
    const seenAuth: string[] = [];
    // A slow keymanager on loopback: each answer takes 1.5 s, long enough for ps to catch curl running.
    const server = http.createServer((req, res) => {
      seenAuth.push(String(req.headers.authorization ?? ""));
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ data: want.map((k) => ({ validating_pubkey: `0x${k.pubkey}` })) }));
      }, 1500);
    });
    const slowPort = await freePort();
    await new Promise<void>((ok) => server.listen(slowPort, "127.0.0.1", ok));
    const slowScript = `${script}-slowkm`;
    try {
      ssh.ssh(writeFileCommand(slowScript, "0755"), renderHostScript("keys-install.sh", { ...scriptValues(), KEYMANAGER_PORT: slowPort }));
      const child = spawn("ssh", [...sshArgs(), `${dockerEnv()}${slowScript} install`], { stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      child.stdout!.on("data", (d) => (out += d));
      child.stdin!.end(installBundle("lighthouse", want.map(ik)));
      const exited = new Promise<number>((ok) => child.on("exit", (code) => ok(code ?? -1)));
      let done = false;
      void exited.then(() => (done = true));
      const samples: string[] = [];
      while (!done) {
        samples.push(await new Promise<string>((ok) => execFile("ps", ["-eo", "args"], (_e, stdout) => ok(stdout))));
        await new Promise((ok) => setTimeout(ok, 100));
      }
      expect(await exited).toBe(0);
      expect(out).toMatch(/^installed /m);
      const curlLines = samples.flatMap((s) => s.split("\n")).filter((l) => /^curl /.test(l));
      expect(curlLines.length).toBeGreaterThan(0); // ps did see curl running
      expect(curlLines.some((l) => l.includes(`127.0.0.1:${slowPort}`))).toBe(true);
      expect(samples.filter((s) => s.includes(token))).toEqual([]);
      expect(seenAuth.length).toBeGreaterThan(0);
      expect(seenAuth.every((a) => a === `Bearer ${token}`)).toBe(true);
    } finally {
      server.close();
      fs.rmSync(slowScript, { force: true });
      docker(["exec", `${node}-validator`, "rm", "-f", "/data/api-token.txt"]);
    }
  }, 120_000);
});

function sshArgs(): string[] {
  return ["-i", ssh.privateKeyFile, "-p", String(ssh.port), "-o", "StrictHostKeyChecking=no", "-o", `UserKnownHostsFile=${path.join(ssh.dir, "known_hosts")}`, "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", `${ssh.user}@${ssh.host}`];
}

function lockHeld(lock: string): boolean {
  try {
    execFileSync("flock", ["-n", lock, "true"], { stdio: "ignore" });
    return false;
  } catch {
    return true;
  }
}

async function waitFor(cond: () => boolean, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error("condition not reached");
}

async function release(holder: ChildProcess): Promise<void> {
  if (holder.exitCode !== null) return;
  const exited = new Promise((ok) => holder.on("exit", ok));
  holder.stdin!.end();
  await exited;
}
