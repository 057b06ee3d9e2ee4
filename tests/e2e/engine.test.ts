/**
 * The real engine: `pulumi preview/up/refresh/destroy` (Automation API, the toolchain's CLI, a file:// backend)
 * run the repository's program against two SSH test hosts on loopback that reach this machine's Docker engine.
 * The operations run in order on one stack; each test starts from where the previous one left the hosts.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { chainIdOf, clGenesisTime } from "../../lib/ephemery";
import { httpGet } from "../reset/harness";
import {
  cleanHost, containersOf, cronFile, E2eHost, EngineStack, filesUnder, Fleet, inspect, networkConfig, REPO, startFleet, volumesOf, waitFor, withValidator,
} from "./harness";
import { DEFAULT_IMAGES } from "../../lib/config/images";
import { makeKeys, TestKey, writeKeyDir } from "../keys/fixtures";
import { imageId, monitoringStandins, standinImage } from "./standins";

jest.setTimeout(10 * 60_000);

let fleet: Fleet;
let stack: EngineStack;
let image: string;
let nextImage: string;
let keys: TestKey[];
let keysDir: string;
const hostsConfig = () => fleet.hosts.map((h) => h.config);
/** Host a: validator (two keys) with monitoring; host b: a full node. */
const VALIDATOR_CONTAINERS = ["alertmanager", "consensus", "execution", "exporter", "grafana", "node-exporter", "prometheus", "validator"];

beforeAll(async () => {
  image = standinImage("1.0.0");
  nextImage = standinImage("1.1.0");
  monitoringStandins(DEFAULT_IMAGES);
  keys = await makeKeys(2);
  fleet = await startFleet(2, image);
  keysDir = writeKeyDir(keys, path.join(fleet.root, "keys"));
  fleet.hosts[0].config = withValidator(fleet.hosts[0], image, keysDir, keys.length);
  stack = await EngineStack.create(`e2e-${fleet.runId}`, { stateDir: path.join(REPO, ".pulumi-state", "e2e"), workDir: path.join(fleet.root, "work") });
  await stack.setSecret("ephemery:sshPrivateKey", fleet.privateKey);
  await stack.setSecret("ephemery:keystorePassword", keys[0].password);
  await stack.setSecret("ephemery:grafanaAdminPassword", "e2e-grafana-admin-password");
  stack.writeConfig({ "ephemery:network": networkConfig(fleet.server), "ephemery:hosts": hostsConfig() });
});

afterAll(async () => {
  if (stack) {
    try {
      if (await stack.resourceCount() > 0) await stack.destroy();
    } catch { /* the hosts are cleaned below either way */ }
    await stack.remove().catch(() => undefined);
  }
  await fleet?.stop();
});

const ssh = (h: E2eHost, cmd: string) => h.ssh.ssh(cmd).trim();

async function rpc(h: E2eHost, method: string): Promise<string> {
  return JSON.parse(await httpGet(`http://127.0.0.1:${h.ports.rpc}`, JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: [] }))).result;
}

async function nodeAnswers(h: E2eHost) {
  const chainId = Number.parseInt(await rpc(h, "eth_chainId"), 16);
  const genesis = JSON.parse(await httpGet(`http://127.0.0.1:${h.ports.beacon}/eth/v1/beacon/genesis`));
  return { chainId, genesisTime: Number(genesis.data.genesis_time) };
}

test("a stack that publishes JSON-RPC on 0.0.0.0 is blocked at preview and at up with the policy's message; nothing is created", async () => {
  const [a, b] = fleet.hosts;
  stack.writeConfig({ "ephemery:hosts": [a.config, { ...b.config, execution: { ...b.config.execution, exposeRpc: true } }] });
  try {
    await expect(stack.preview()).rejects.toThrow();
    const blocked = stack.policyEvents.filter((p) => p.enforcementLevel === "mandatory");
    expect(new Set(blocked.map((p) => p.policyName))).toEqual(new Set(["private-ports-not-published"]));
    expect(blocked.map((p) => p.message)).toContainEqual(expect.stringContaining(`The rpc port ${b.ports.rpc}/tcp of ${b.name}-execution must not be published on 0.0.0.0`));
    expect(blocked.every((p) => p.resourceUrn?.includes(b.name))).toBe(true);

    // `up` previews first: the violation stops it before any resource exists.
    await expect(stack.up()).rejects.toThrow(/private-ports-not-published/);
    expect(await stack.customResources()).toEqual([]);
    for (const h of fleet.hosts) {
      expect(fs.existsSync(h.nodeDir)).toBe(false);
      expect(containersOf(h.name)).toEqual([]);
      expect(fs.existsSync(cronFile(h.name))).toBe(false);
    }
  } finally {
    stack.writeConfig({ "ephemery:hosts": hostsConfig() });
  }
});

test("a stack with one validator key on two hosts is refused at preview before any resource exists", async () => {
  // The program's own config check (lib/keys/configChecks.ts) stops this before the policy pack sees a resource;
  // the pack's validator-key-on-one-host is the second line, shown under mocks in tests/policies.
  const [a, b] = fleet.hosts;
  stack.writeConfig({ "ephemery:hosts": [a.config, withValidator(b, image, keysDir, keys.length)] });
  try {
    const error = await stack.preview().then(() => undefined, (e: Error) => e);
    expect(error).toBeDefined();
    for (const k of keys) expect(String(error)).toContain(`key 0x${k.pubkey} is also configured on host(s)`);
    expect(String(error)).toContain("a key signing from two hosts gets slashed: keep it on one host only");
    expect(await stack.customResources()).toEqual([]);
    expect(fs.existsSync(b.nodeDir)).toBe(false);
  } finally {
    stack.writeConfig({ "ephemery:hosts": hostsConfig() });
  }
});

test("a clean stack passes the policy pack at preview", async () => {
  const result = await stack.preview();
  expect(stack.policyEvents.filter((p) => p.enforcementLevel === "mandatory")).toEqual([]);
  expect(result.changeSummary.create).toBeGreaterThan(10);
  // Components the blocked `up` registered (they hold nothing) may show as `same`; nothing else is planned.
  expect(Object.keys(result.changeSummary).filter((op) => op !== "create" && op !== "same")).toEqual([]);
});

test("up converges both hosts: testnet files, a 0600 JWT, the compose project, clients running as specified, the reset job", async () => {
  const result = await stack.up();
  expect(result.summary.result).toBe("succeeded");
  for (const h of fleet.hosts) {
    // Testnet: the release for the current iteration, verified and switched to.
    expect(ssh(h, `readlink ${h.nodeDir}/testnet/current`)).toBe(`releases/ephemery-${fleet.iteration}`);
    expect(ssh(h, `cat ${h.nodeDir}/testnet/current/retention.vars`)).toContain(`CHAIN_ID="${chainIdOf(fleet.iteration)}"`);

    // JWT: 32 random bytes in hex, 0600 in a 0700 dir, shared by both clients.
    expect(ssh(h, `stat -c '%a %U' ${h.nodeDir}/jwt ${h.nodeDir}/jwt/jwt.hex`)).toBe("700 root\n600 root");
    expect(ssh(h, `cat ${h.nodeDir}/jwt/jwt.hex`)).toMatch(/^[0-9a-f]{64}$/);

    // Compose project and containers.
    const compose = yaml.load(ssh(h, `cat ${h.nodeDir}/compose/docker-compose.yml`)) as { services: Record<string, { image: string }> };
    const roles = h === fleet.hosts[0] ? VALIDATOR_CONTAINERS : ["consensus", "execution"];
    expect(Object.keys(compose.services).sort()).toEqual(roles);
    expect(containersOf(h.name)).toEqual(roles.map((r) => `${h.name}-${r}`));
    for (const c of containersOf(h.name)) expect([c, inspect(c).State.Running]).toEqual([c, true]);
    const el = inspect(`${h.name}-execution`);
    const cl = inspect(`${h.name}-consensus`);
    for (const c of [el, cl]) {
      expect(c.State.Running).toBe(true);
      expect(c.Config.Image).toBe(image);
      expect(c.HostConfig.Memory).toBe(256 * 1024 * 1024);
    }
    const elScript = el.Config.Cmd[0] as string;
    expect(el.Config.Entrypoint).toEqual(["/bin/sh", "-c"]);
    for (const flag of [`--http.port=${h.ports.rpc}`, `--ws.port=${h.ports.ws}`, `--port=${h.ports.elP2p}`, "--authrpc.jwtsecret=/ephemery/jwt/jwt.hex", '--bootnodes="$BOOTNODE_ENODE_LIST"']) {
      expect(elScript).toContain(flag);
    }
    expect(cl.Config.Entrypoint).toEqual(["/bin/sh", "-c"]);
    for (const flag of ["lighthouse beacon_node", `--http-port=${h.ports.beacon}`, "--testnet-dir=/ephemery/testnet/current", "--execution-jwt=/ephemery/jwt/jwt.hex", `--execution-endpoint=http://${h.name}-execution:8551`, "--allow-insecure-genesis-sync"]) {
      expect(cl.Config.Cmd[0]).toContain(flag);
    }
    const mounts = (c: any) => Object.fromEntries(c.Mounts.map((m: any) => [m.Destination, `${m.Type} ${m.Name ?? m.Source} ${m.RW ? "rw" : "ro"}`]));
    expect(mounts(el)).toEqual({
      "/ephemery/testnet": `bind ${h.nodeDir}/testnet ro`,
      "/ephemery/jwt": `bind ${h.nodeDir}/jwt ro`,
      "/data": `volume ${h.name}-execution-data rw`,
    });
    const bindings = (c: any) => Object.fromEntries(Object.entries(c.HostConfig.PortBindings).map(([k, v]: [string, any]) => [k, v.map((b: any) => `${b.HostIp}:${b.HostPort}`).join(",")]));
    expect(bindings(el)).toEqual({
      [`${h.ports.elP2p}/tcp`]: `0.0.0.0:${h.ports.elP2p}`,
      [`${h.ports.elP2p}/udp`]: `0.0.0.0:${h.ports.elP2p}`,
      [`${h.ports.rpc}/tcp`]: `127.0.0.1:${h.ports.rpc}`,
      [`${h.ports.ws}/tcp`]: `127.0.0.1:${h.ports.ws}`,
      [`${h.ports.elMetrics}/tcp`]: `127.0.0.1:${h.ports.elMetrics}`,
    });
    expect(bindings(cl)[`${h.ports.beacon}/tcp`]).toBe(`127.0.0.1:${h.ports.beacon}`);

    // The clients run on this iteration's chain, with a node identity in their volumes.
    await waitFor(async () => (await nodeAnswers(h)).chainId > 0, 20_000, `${h.name} answering`);
    expect(await nodeAnswers(h)).toEqual({ chainId: chainIdOf(fleet.iteration), genesisTime: clGenesisTime(fleet.iteration) });
    expect(ssh(h, `docker exec ${h.name}-execution cat /data/geth/nodekey`)).toMatch(/^[0-9a-f]{64}$/);

    // Reset job: the rendered program and its cron entry.
    expect(ssh(h, `stat -c %a ${h.nodeDir}/bin/ephemery-reset`)).toBe("755");
    expect(ssh(h, `cat ${cronFile(h.name)}`)).toContain(`*/5 * * * * root '${h.nodeDir}/bin/ephemery-reset' run`);
  }

  // Keys on the validator host: the installed set 0700/0600, both keystores loaded by the validator client.
  const a = fleet.hosts[0];
  const keysRoot = `${a.nodeDir}/validator-keys`;
  expect(ssh(a, `find ${keysRoot}/current/ -type d -printf '%m\\n' | sort -u`)).toBe("700");
  expect(ssh(a, `find ${keysRoot}/current/ -type f -printf '%m\\n' | sort -u`)).toBe("600");
  const definitions = ssh(a, `docker exec ${a.name}-validator cat /data/validators/validator_definitions.yml`);
  for (const k of keys) expect(definitions).toContain(k.pubkey);
  const vc = inspect(`${a.name}-validator`);
  expect(vc.Config.Cmd[0]).toContain(`--http-port=${a.ports.keymanager}`);
  expect(vc.Mounts.find((m: any) => m.Destination === "/ephemery/validator-keys")).toMatchObject({ Source: keysRoot, RW: false });
  expect(ssh(a, `stat -c %a ${a.nodeDir}/monitoring/grafana/secrets/admin_password`)).toBe("600");

  // Secrets stay secrets in the state file: neither the JWT nor the SSH key appears in plain text.
  const state = stack.stateFile();
  for (const h of fleet.hosts) expect(state).not.toContain(ssh(h, `cat ${h.nodeDir}/jwt/jwt.hex`));
  expect(state).not.toContain(fleet.privateKey.split("\n")[1]);
  expect(state).not.toContain(keys[0].password);
  expect(state).not.toContain("e2e-grafana-admin-password");
});

test("a second up changes nothing", async () => {
  const starts = fleet.hosts.flatMap((h) => containersOf(h.name).map((c) => inspect(c).State.StartedAt));
  const result = await stack.up();
  expect(stack.changes()).toEqual([]);
  expect(Object.keys(result.summary.resourceChanges ?? {})).toEqual(["same"]);
  expect(fleet.hosts.flatMap((h) => containersOf(h.name).map((c) => inspect(c).State.StartedAt))).toEqual(starts);
});

test("a new execution image tag on one host updates only that host's compose project; the node runs the new image", async () => {
  const [a, b] = fleet.hosts;
  const before = { bStarts: containersOf(b.name).map((c) => inspect(c).State.StartedAt), aConsensus: inspect(`${a.name}-consensus`).State.StartedAt };
  a.config.execution.image = nextImage;
  stack.writeConfig({ "ephemery:hosts": hostsConfig() });

  await stack.preview();
  const planned = stack.changes();
  await stack.up();
  expect(stack.changes()).toEqual(planned);
  // In-place updates on host a only: its compose file and project (plus the components and drift record that
  // describe them), and its reset program, whose fork check names the pinned client versions (so `ensure` runs
  // again, in place); nothing on host b, no replacement, no JWT.
  expect(planned).toEqual(expect.arrayContaining([`update ${a.name}-compose-file`, `update ${a.name}-compose-up`]));
  for (const c of planned) expect(c).toMatch(new RegExp(`^update ${a.name}(-execution|-compose|-compose-file|-compose-up|-drift-state|-reset|-reset-program|-reset-release)?$`));

  const el = inspect(`${a.name}-execution`);
  expect(el.State.Running).toBe(true);
  expect(el.Config.Image).toBe(nextImage);
  expect(el.Image).toBe(imageId(nextImage));
  expect(await rpc(a, "web3_clientVersion")).toBe("Geth/1.1.0");
  expect(inspect(`${a.name}-consensus`).State.Running).toBe(true);
  expect(containersOf(b.name).map((c) => inspect(c).State.StartedAt)).toEqual(before.bStarts);
});

test("drift: a stopped container, a hand-edited compose file and a loosened JWT mode are found by refresh and put back by up", async () => {
  const [a, b] = fleet.hosts;
  const composeFile = `${a.nodeDir}/compose/docker-compose.yml`;
  const goodCompose = ssh(a, `cat ${composeFile}`);
  ssh(a, `docker stop -t 1 ${a.name}-consensus >/dev/null && sed -i 's/mem_limit: 256m/mem_limit: 999m/' ${composeFile}`);
  ssh(b, `chmod 0644 ${b.nodeDir}/jwt/jwt.hex`);

  const refreshed = await stack.refresh();
  expect(refreshed.summary.resourceChanges?.update).toBe(2);
  await stack.preview();
  expect(stack.changes()).toEqual([`update ${a.name}-drift-state`, `update ${b.name}-drift-state`]);

  await stack.up();
  expect(stack.changes()).toEqual([`update ${a.name}-drift-state`, `update ${b.name}-drift-state`]);
  expect(inspect(`${a.name}-consensus`).State.Running).toBe(true);
  expect(ssh(a, `cat ${composeFile}`)).toBe(goodCompose);
  expect(ssh(b, `stat -c %a ${b.nodeDir}/jwt/jwt.hex`)).toBe("600");
  await waitFor(async () => (await nodeAnswers(a)).genesisTime === clGenesisTime(fleet.iteration), 20_000, `${a.name} consensus answering again`);

  // Repaired means converged: a refresh now finds nothing, and the JWT is still encrypted in state.
  const again = await stack.refresh();
  expect(again.summary.resourceChanges?.update ?? 0).toBe(0);
  expect(stack.stateFile()).not.toContain(ssh(b, `cat ${b.nodeDir}/jwt/jwt.hex`));
});

test("destroy leaves the hosts clean: no containers, no files of ours, no cron entry; identity volumes and key backups are kept", async () => {
  const identity = fleet.hosts.map((h) => ssh(h, `docker exec ${h.name}-execution cat /data/geth/nodekey`));
  await stack.destroy();
  expect(await stack.resourceCount()).toBe(0);
  fleet.hosts.forEach((h, i) => {
    expect(containersOf(h.name)).toEqual([]);
    expect(fs.readdirSync("/etc/cron.d").filter((f) => f.startsWith(`ephemery-${h.name}`))).toEqual([]);
    // Key backups stay on the host (hosts[].validator.keys.backupsToKeep); nothing else of ours does.
    expect(filesUnder(h.nodeDir).filter((f) => !f.startsWith("backups/"))).toEqual([]);
    // The data volumes (chain data and node identity) outlive the stack, as the compose runtime promises.
    expect(volumesOf(h.name).filter((v) => /-(execution|consensus)-data$/.test(v))).toEqual([`${h.name}-consensus-data`, `${h.name}-execution-data`]);
    const mount = inspect(`${h.name}-execution-data`) as { Mountpoint: string };
    expect(fs.readFileSync(path.join(mount.Mountpoint, "geth", "nodekey"), "utf8")).toBe(identity[i]);
  });
  const backups = filesUnder(`${fleet.hosts[0].nodeDir}/backups`);
  for (const k of keys) expect(backups.some((f) => f.endsWith(`${k.pubkey}.json`) || f.includes(k.pubkey))).toBe(true);
  for (const h of fleet.hosts) cleanHost(h);
});
