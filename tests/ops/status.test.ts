/**
 * `ephemery status` against a real sshd on loopback: the script runs on the "host" through SSH, containers come
 * from the real Docker engine, and the node's APIs are HTTP servers reached through SSH direct-tcpip channels.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chainIdOf, iterationAt } from "../../lib/ephemery";
import { busyboxImage, docker } from "../support/dockerd";
import { freePort, startSshHost, TestSshHost } from "../support/sshd";
import { beaconServer, closedPort, executionServer, keymanagerServer, sshStackFiles, TestServer } from "./fakeNode";
import { runCli } from "./io";
import { assessHost, followRelease, HostStatus, parseHostScript } from "../../cli/commands/status";
import { hostSchema } from "../../lib/config/schema";

const ITERATION = iterationAt(Math.floor(Date.now() / 1000));
const NODE = `ops${process.pid}`;
const TOKEN = "e3b0c44298fc1c149afbf4c8996fb924";

describe("ephemery status", () => {
  let sshHost: TestSshHost;
  let el: TestServer;
  let cl: TestServer;
  let km: TestServer;
  let work: string;
  let knownHosts: string;
  let stackFile: string;
  let downPort: number;
  const containers = [`${NODE}-execution`, `${NODE}-consensus`, `${NODE}-validator`, `${NODE}-other-tool`];

  beforeAll(async () => {
    sshHost = await startSshHost();
    [el, cl, km] = await Promise.all([
      executionServer({ chainId: chainIdOf(ITERATION), blockNumber: 4242, peers: 7, syncing: false }),
      beaconServer({ genesisTime: 1, finalizedSlot: 6400, headSlot: 6500, syncDistance: 0, isSyncing: false, peers: 12 }),
      keymanagerServer(3, TOKEN),
    ]);
    downPort = await closedPort();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-status-"));
    // The node's host layout as the reset program leaves it: the marker, a current release and one staged ahead.
    const nodeDir = path.join(work, "data", NODE);
    const releases = path.join(nodeDir, "testnet", "releases");
    fs.mkdirSync(path.join(releases, `ephemery-${ITERATION}`), { recursive: true });
    fs.mkdirSync(path.join(releases, `ephemery-${ITERATION + 1}`));
    fs.writeFileSync(path.join(releases, `ephemery-${ITERATION}`, "retention.vars"), `export ITERATION_NUMBER="${ITERATION}"\nexport CHAIN_ID="${chainIdOf(ITERATION)}"\n`);
    fs.symlinkSync(`releases/ephemery-${ITERATION}`, path.join(nodeDir, "testnet", "current"));
    fs.mkdirSync(path.join(nodeDir, "state"));
    fs.writeFileSync(path.join(nodeDir, "state", "iteration"), `${ITERATION}\n`);

    const image = busyboxImage("ephemery-ops-status", { "data/validators/api-token.txt": { content: `${TOKEN}\n` } });
    for (const c of containers) docker(["rm", "-f", c]);
    docker(["run", "-d", "--name", containers[0], image, "sleep", "600"]);
    docker(["create", "--name", containers[1], image, "sleep", "600"]);
    docker(["run", "-d", "--name", containers[2], image, "sleep", "600"]);

    ({ stackFile, knownHosts } = sshStackFiles(sshHost, work, NODE, { rpcPort: el.port, beaconApiPort: cl.port, keymanagerPort: km.port },
      ["    - name: gone", "      address: 127.0.0.1", `      ssh: { port: ${downPort} }`]));
  });

  afterAll(async () => {
    for (const c of containers) { try { docker(["rm", "-f", c]); } catch { /* gone */ } }
    await Promise.all([sshHost?.stop(), el?.close(), cl?.close(), km?.close()]);
    fs.rmSync(work, { recursive: true, force: true });
  });

  const statusArgs = () => ["status", "--file", stackFile, "--identity", sshHost.privateKeyFile, "--known-hosts", knownHosts, "--timeout", "8"];

  it("reports every fact of a reachable host and the unreachable one beside it", async () => {
    const r = await runCli([...statusArgs(), "--json"]);
    expect(r.err).toBe("");
    const { hosts } = JSON.parse(r.out) as { hosts: HostStatus[] };
    expect(hosts.map((h) => h.name)).toEqual([NODE, "gone"]);
    const [node, gone] = hosts;
    expect(node.reachable).toBe(true);
    expect(node.containers.map((c) => [c.name, c.state]).sort()).toEqual([
      [`${NODE}-consensus`, "created"], [`${NODE}-execution`, "running"], [`${NODE}-validator`, "running"],
    ]);
    expect(node.execution).toEqual({ chainId: chainIdOf(ITERATION), headBlock: 4242, peers: 7, syncing: false });
    expect(node.consensus).toMatchObject({ headSlot: 6500, syncDistance: 0, isSyncing: false, peers: 12, finalizedEpoch: 200 });
    expect(node.iteration).toMatchObject({ installed: ITERATION, expected: ITERATION, staged: ITERATION + 1 });
    expect(node.iteration.secondsToReset).toBeGreaterThan(0);
    expect(node.validator).toEqual({ configured: true, keys: 3 });
    expect(node.disk!.availableGiB).toBeGreaterThanOrEqual(0);
    // The stopped consensus container is the one error on this host.
    expect(node.problems.filter((p) => p.severity === "error").map((p) => p.message)).toEqual([
      expect.stringContaining(`container ${NODE}-consensus is created`),
    ]);
    expect(km.requests).toContain("GET /eth/v1/keystores");
    expect(gone.reachable).toBe(false);
    expect(gone.problems[0].message).toMatch(/cannot reach root@127\.0\.0\.1:\d+ over SSH: ECONNREFUSED/);
    expect(r.code).toBe(1);
  });

  it("prints a plain table when piped and colours it on a terminal", async () => {
    const plain = await runCli(statusArgs());
    expect(plain.out).not.toContain("\x1b[");
    expect(plain.out).toMatch(/^HOST\s+ADDRESS\s+CONTAINERS\s+EXECUTION\s+CONSENSUS\s+ITERATION\s+KEYS\s+DISK/m);
    expect(plain.out).toMatch(new RegExp(`${NODE}\\s+127\\.0\\.0\\.1\\s+2/3 running\\s+synced #4242 7p`));
    expect(plain.out).toMatch(/gone\s+127\.0\.0\.1\s+unreachable/);
    expect(plain.out).toMatch(/ERROR gone: cannot reach/);
    const tty = await runCli(statusArgs(), { isTTY: true, env: { ...process.env, NO_COLOR: undefined, TERM: "xterm" } });
    expect(tty.out).toContain("\x1b[31munreachable\x1b[0m");
  });

  it("refuses a host whose key differs from known_hosts, and one missing from it unless told to accept", async () => {
    const wrong = path.join(work, "known_hosts_wrong");
    fs.writeFileSync(wrong, `[127.0.0.1]:${sshHost.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`);
    const changed = await runCli(["status", "--file", stackFile, "--host", NODE, "--identity", sshHost.privateKeyFile, "--known-hosts", wrong, "--json"]);
    expect(JSON.parse(changed.out).hosts[0].error).toMatch(/differs from the one in .*known_hosts_wrong: refusing to connect.*ssh-keygen -R/);
    const empty = path.join(work, "known_hosts_empty");
    fs.writeFileSync(empty, "");
    const unknown = await runCli(["status", "--file", stackFile, "--host", NODE, "--identity", sshHost.privateKeyFile, "--known-hosts", empty, "--json"]);
    expect(JSON.parse(unknown.out).hosts[0].error).toMatch(/is not in .*known_hosts_empty: .*ssh-keyscan -p \d+ 127\.0\.0\.1/);
    const accepted = await runCli(["status", "--file", stackFile, "--host", NODE, "--identity", sshHost.privateKeyFile, "--known-hosts", empty, "--accept-new-host-keys", "--json"]);
    const host = JSON.parse(accepted.out).hosts[0] as HostStatus;
    expect(host.reachable).toBe(true);
    expect(host.problems.map((p) => p.message)).toContainEqual(expect.stringMatching(/^host key SHA256:\S+ accepted without a known_hosts entry/));
  });

  it("runs locally for a local host, and names a missing --host", async () => {
    const localFile = path.join(work, "Pulumi.local-ops.yaml");
    fs.writeFileSync(localFile, [
      "config:",
      "  ephemery:hosts:",
      `    - name: ${NODE}`,
      "      kind: local",
      `      dataDir: ${path.join(work, "data")}`,
      `      execution: { rpcPort: ${el.port} }`,
      `      consensus: { beaconApiPort: ${cl.port} }`,
      "",
    ].join("\n"));
    const r = await runCli(["status", "--file", localFile, "--json"]);
    const [h] = JSON.parse(r.out).hosts as HostStatus[];
    expect(h).toMatchObject({ address: "local", reachable: true, iteration: { installed: ITERATION } });
    expect(h.execution.headBlock).toBe(4242);
    const missing = await runCli(["status", "--file", localFile, "--host", "nope"]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain(`no host named "nope"; hosts are ${NODE}`);
  });

  it("gives up on a host that does not answer in time without holding the others back", async () => {
    const port = await freePort();
    // A listener that accepts TCP but never speaks SSH.
    const silent = require("net").createServer(() => undefined).listen(port, "127.0.0.1");
    try {
      const file = path.join(work, "Pulumi.silent.yaml");
      fs.writeFileSync(file, ["config:", "  ephemery:sshPrivateKey: { secure: v1:AAAA }", "  ephemery:hosts:", "    - name: mute", "      address: 127.0.0.1", `      ssh: { port: ${port} }`, ""].join("\n"));
      const started = Date.now();
      const r = await runCli(["status", "--file", file, "--identity", sshHost.privateKeyFile, "--timeout", "2", "--json"]);
      // Without the --timeout the silent host would hold the command forever; the bound is generous for a busy machine.
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(JSON.parse(r.out).hosts[0].error).toMatch(/timed out|no answer within 2 s/i);
    } finally {
      silent.close();
    }
  });
});

describe("status script output parsing", () => {
  it("reads the iteration from the marker, else the release's retention.vars, else the link's name", () => {
    const facts = parseHostScript(["", "@@containers", "error\tpermission denied", "@@marker", "@@current", "releases/ephemery-99", "@@retention", 'export ITERATION_NUMBER="101"', "@@testnets", "ephemery-100", "ephemery-101", "ephemery-102", "@@metrics", "# HELP x", "ephemery_iteration{node=\"a\"} 101", "@@disk", "Filesystem 1024-blocks Used Available Capacity Mounted on", "/dev/sda1 1000 900 100 90% /var lib", "@@token", "@@end"].join("\n"));
    expect(facts).toMatchObject({ installedIteration: 101, stagedIteration: 102, dockerError: "permission denied", disk: { sizeKiB: 1000, availableKiB: 100, mount: "/var lib" } });
    expect(facts.keymanagerToken).toBeUndefined();
    expect(facts.metrics).toEqual({ ephemery_iteration: 101 });
    expect(parseHostScript("@@marker\n150\n@@current\nreleases/ephemery-99\n@@end\n").installedIteration).toBe(150);
    expect(parseHostScript("@@current\nreleases/ephemery-99\n@@end\n").installedIteration).toBe(99);
  });

  it("reads the release check's findings and reports an unsupported fork and a schedule mismatch as problems", () => {
    const out = ["@@marker", "161", "@@release",
      'ephemery_release_schedule_mismatch{node="n1",iteration="161"} 1',
      'ephemery_release_fork_unsupported{node="n1",iteration="161",fork="gloas",epoch="2048",role="execution",client="geth",version="v1.16.7"} 1',
      "@@end", ""].join("\n");
    const facts = parseHostScript(out);
    expect(facts.release).toEqual({ scheduleMismatch: true, unsupported: [{ iteration: 161, fork: "gloas", epoch: 2048, role: "execution", client: "geth", version: "v1.16.7" }] });
    const host = hostSchema.parse({ name: "n1", kind: "local" });
    const st: Omit<HostStatus, "problems"> = {
      name: "n1", address: "local", reachable: true, containers: [],
      execution: { chainId: null, headBlock: null, peers: null, syncing: null },
      consensus: { headSlot: null, syncDistance: null, isSyncing: null, isOptimistic: null, elOffline: null, peers: null, finalizedEpoch: null, genesisTime: null },
      iteration: { installed: 161, expected: 161, staged: null, nextResetTime: 1e10, secondsToReset: 1e9 },
      validator: { configured: false, keys: null }, disk: null, release: facts.release,
    };
    const messages = assessHost(st, host).map((p) => `${p.severity}: ${p.message}`);
    expect(messages).toContain("error: ephemery-161 activates gloas at epoch 2048, which geth v1.16.7 (execution) does not support: set a newer image before its genesis");
    expect(messages).toContain("warn: the newest release disagrees with ephemery:network.schedule; the node follows the release (see state/reset.log, then update the schedule settings)");
    expect(parseHostScript("@@release\n@@end\n").release).toEqual({ scheduleMismatch: false, unsupported: [] });
  });

  it("follows the host's release-derived next reset while it is ahead, else the closed form", () => {
    const closed = { expected: 161, nextResetTime: 2_000 };
    expect(followRelease(closed, 162, 5_000, 1_000)).toEqual({ expected: 162, nextResetTime: 5_000, secondsToReset: 4_000 });
    expect(followRelease(closed, 160, 900, 1_000)).toEqual({ expected: 161, nextResetTime: 2_000, secondsToReset: 1_000 });
    expect(followRelease(closed, null, 5_000, 1_000)).toEqual({ expected: 161, nextResetTime: 2_000, secondsToReset: 1_000 });
    expect(followRelease(closed, 161, undefined, 1_000).expected).toBe(161);
  });

  it("refuses output cut short", () => {
    expect(() => parseHostScript("@@containers\n")).toThrow(/stopped early/);
  });
});
