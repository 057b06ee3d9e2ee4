/**
 * Two validator nodes deployed by `pulumi up` (Automation API, the toolchain's CLI, two SSH test hosts whose
 * compose projects share this machine's Docker engine), each real geth + prysm beacon + prysm validator with half
 * the genesis validators through ValidatorKeys, and the monitoring stack from Debian's binaries
 * (scripts/client-images.sh monitoring). Releases N and N+1 come from tests/support/chainRelease.ts on the
 * loopback release server, on a short `ephemery:network.schedule`. In order: the nodes peer and finalize together,
 * their duties show on chain and in the exporter, Prometheus scrapes every client metric the rules use, a stopped
 * geth pages a webhook through Alertmanager and resolves, `ephemery status` shows both synced, the reset to N+1
 * happens with no `pulumi up`, and a second `pulumi up` has nothing to change.
 * The stand-ins that remain are listed in ./pulumiFleet.ts.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import { iterationAt } from "../../lib/ephemery";
import { LOCAL_MONITORING_IMAGES, DEFAULT_IMAGES } from "../../lib/config/images";
import { CONSENSUS_METRICS, EXECUTION_METRICS, select, VALIDATOR_METRICS } from "../../lib/monitoring/clientMetrics";
import { EXPORTER_METRICS } from "../../lib/monitoring/exporterMetrics";
import { clientBinaries, ensureClientImages } from "../support/chainClients";
import { ChainRelease, ChainSchedule, generateChainRelease, scheduleOf } from "../support/chainRelease";
import { makeIdentities, NodeIdentity } from "../support/nodeIdentity";
import { runCli } from "../support/cli";
import { EngineStack, Fleet, networkConfig, REPO, startFleet } from "../e2e/harness";
import { publishChainRelease, waitFor } from "./harness";
import { bridgeGateway, CronStandin, NodeApi, seedIdentities } from "./pulumiFleet";
import { execFileSync } from "child_process";

const SECONDS_PER_SLOT = 3;
const SLOTS_PER_EPOCH = 32;
const VALIDATORS = 8;
/** From generating release N to its EL genesis: time for `pulumi up` of both hosts. */
const LEAD_SEC = 150;
/** N must hold finality, the alert round trip and the status check, with the switch to N+1 after it. */
const PERIOD_SEC = 720;
const FORK = "fulu";
const nowSec = () => Math.floor(Date.now() / 1000);

jest.setTimeout(20 * 60_000);

interface Hook { status: string; alerts: { status: string; labels: Record<string, string> }[]; at: number }

let fleet: Fleet;
let stack: EngineStack;
let nodes: NodeApi[];
let schedule: ChainSchedule;
let n: number;
let releaseN: ChainRelease;
let releaseNext: ChainRelease;
let identities: { el: NodeIdentity; cl: NodeIdentity }[];
let cron: CronStandin;
let hookServer: http.Server;
const hooks: Hook[] = [];
/** What the test measured, printed at the end (and read by bench/chain.ts from the log). */
const half = (i: number) => Array.from({ length: VALIDATORS / 2 }, (_, k) => i * (VALIDATORS / 2) + k);

/** The steps build on each other: after a failed one the rest fail at once instead of waiting out their timeouts. */
let broken: string | undefined;
/** The Docker bridge's gateway: where one node's containers reach the other's published ports. */
let gw: string;
function step(name: string, fn: () => Promise<void>): void {
  test(name, async () => {
    if (broken) throw new Error(`not run: an earlier step failed (${broken})`);
    process.stderr.write(`${new Date().toISOString()} step: ${name}\n`);
    try { await fn(); } catch (e) { broken = name; throw e; }
  });
}

/** Waits, and on timeout names each node's last client log lines. */
async function waitNodes(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  try {
    await waitFor(async () => { try { return await fn(); } catch { return false; } }, timeoutMs, what);
  } catch (e) {
    const logs = nodes.flatMap((nd) => ["execution", "consensus", "validator"].map((r) => `--- ${nd.name}-${r} ---\n${nd.logs(r, 15)}`)).join("\n");
    throw new Error(`${(e as Error).message}\n${logs}`);
  }
}

beforeAll(async () => {
  ensureClientImages();
  execFileSync("bash", [path.join(REPO, "scripts", "client-images.sh"), "monitoring"], { stdio: "pipe", timeout: 3_600_000 });
  const bins = clientBinaries();
  fleet = await startFleet(2, DEFAULT_IMAGES.geth);
  nodes = fleet.hosts.map((h) => new NodeApi(h));
  gw = bridgeGateway();

  // The webhook receiver: Alertmanager runs in a container, so it listens where containers reach this machine.
  hookServer = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => {
      try { hooks.push({ ...JSON.parse(body), at: Date.now() }); } catch { /* not an Alertmanager post */ }
      res.writeHead(200); res.end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, gw, r));
  const hookUrl = `http://${gw}:${(hookServer.address() as net.AddressInfo).port}/alerts/${crypto.randomBytes(12).toString("hex")}`;

  identities = fleet.hosts.map((h) => {
    const [el, cl] = makeIdentities([{ ip: gw, tcp: h.ports.elP2p, udp: h.ports.elP2p }, { ip: gw, tcp: h.ports.clP2p, udp: h.ports.clP2p }]);
    return { el, cl };
  });
  for (const [i, h] of fleet.hosts.entries()) seedIdentities(h.name, DEFAULT_IMAGES.prysmBeacon, identities[i].el, identities[i].cl);

  n = iterationAt(nowSec());
  const elN = nowSec() + LEAD_SEC;
  schedule = { baseTime: elN - n * PERIOD_SEC, periodSec: PERIOD_SEC, genesisDelaySec: 0, chainIdBase: 39438000 };
  const password = crypto.randomBytes(18).toString("base64url");
  const common = {
    schedule, validators: VALIDATORS, secondsPerSlot: SECONDS_PER_SLOT, prysmctl: bins.prysmctl, geth: bins.geth, fork: FORK as "fulu", keystorePassword: password,
    bootEnrs: identities.map((x) => x.cl.enr), bootEnodes: identities.map((x) => x.el.enode),
  };
  [releaseN, releaseNext] = await Promise.all([generateChainRelease({ ...common, iteration: n }), generateChainRelease({ ...common, iteration: n + 1 })]);
  publishChainRelease(fleet.server, releaseN);

  for (const [i, h] of fleet.hosts.entries()) {
    const keysDir = path.join(fleet.root, `keys-${i}`);
    fs.mkdirSync(keysDir, { recursive: true, mode: 0o700 });
    for (const k of half(i).map((x) => releaseN.keys[x])) fs.writeFileSync(path.join(keysDir, `keystore-m_12381_3600_${k.index}_0_0-1700000000.json`), k.keystore, { mode: 0o600 });
    const p = h.ports;
    h.config = {
      ...h.config,
      // geth in a bridge network puts 127.0.0.1 in its own record, which discovery peers refuse ("invalid IP in
      // response record: loopback address from non-loopback host", go-ethereum v1.16.7 p2p/netutil/net.go CheckRelayIP, p2p/discover/v4_udp.go): the
      // node is told the address the other node reaches it at (publicIp), as an operator behind NAT gives the public one.
      publicIp: gw,
      execution: { client: "geth", p2pPort: p.elP2p, rpcPort: p.rpc, wsPort: p.ws, metricsPort: p.elMetrics },
      // Two nodes: one peer is all a node can have; prysm's default (3) would hold a late starter in initial sync.
      consensus: { client: "prysm", p2pPort: p.clP2p, quicPort: p.quic, beaconApiPort: p.beacon, metricsPort: p.clMetrics, extraArgs: ["--min-sync-peers=1"] },
      // Doppelganger protection stays on (the policy pack requires it): prysm checks once at start (validator/client/validator.go CheckDoppelGanger).
      validator: {
        client: "prysm", feeRecipient: `0x${"ee".repeat(20)}`, graffiti: h.name, keymanagerPort: p.keymanager, metricsPort: p.vcMetrics,
        keys: { path: keysDir, expectedCount: VALIDATORS / 2 },
      },
      monitoring: {
        enabled: true, grafana: false, images: { ...LOCAL_MONITORING_IMAGES },
        prometheusPort: p.prometheus, alertmanagerPort: p.alertmanager, grafanaPort: p.grafana, nodeExporterPort: p.nodeExporter, validatorExporterPort: p.validatorExporter,
        scrapeIntervalSec: 5,
        alerts: { clientTargetDownMinutes: 1, executionMinPeers: 1, consensusMinPeers: 1, resetWindowBeforeMinutes: 0, resetWindowAfterMinutes: 1 },
        receivers: [{ name: "hook", type: "webhook", urlSecret: "hook" }],
        groupWaitSec: 0, groupIntervalMinutes: 1, repeatIntervalHours: 1,
      },
      reset: { enabled: true, schedule: "* * * * *" },
    };
  }
  stack = await EngineStack.create(`chain-${fleet.runId}`, { stateDir: path.join(REPO, ".pulumi-state", "chain"), workDir: path.join(fleet.root, "work") });
  await stack.setSecret("ephemery:sshPrivateKey", fleet.privateKey);
  await stack.setSecret("ephemery:keystorePassword", password);
  await stack.stack.setConfig("ephemery:alertmanagerSecrets.hook", { value: hookUrl, secret: true }, true);
  stack.writeConfig({ "ephemery:network": { ...networkConfig(fleet.server), schedule }, "ephemery:hosts": fleet.hosts.map((h) => h.config) });
  cron = new CronStandin(fleet.hosts);
});

afterAll(async () => {
  await cron?.stop();
  if (stack) {
    try { if (await stack.resourceCount() > 0) await stack.destroy(); } catch { /* the hosts are cleaned below either way */ }
    await stack.remove().catch(() => undefined);
  }
  await fleet?.stop();
  await new Promise((r) => hookServer?.close(r));
});

step("pulumi up deploys both nodes: geth, prysm beacon and validator, the monitoring stack, the reset job", async () => {
  const result = await stack.up().catch((e: Error) => { throw new Error(`${e.message.slice(0, 4000)}\n--- pulumi output ---\n${stack.log.slice(-6000)}`); });
  expect(result.summary.result).toBe("succeeded");
  // The passphrase-encrypted state never holds the webhook URL, the keystore password or the SSH key in clear.
  const state = stack.stateFile();
  expect(state).not.toContain(fs.readFileSync(fleet.hosts[0].ssh.privateKeyFile, "utf8").split("\n")[1]);
  expect(state).not.toContain("/alerts/");
  for (const h of fleet.hosts) {
    const running = execFileSync("docker", ["ps", "--filter", `label=ephemery.node=${h.name}`, "--format", "{{.Names}}"], { encoding: "utf8" }).split("\n").filter(Boolean).sort();
    expect(running).toEqual(expect.arrayContaining([`${h.name}-execution`, `${h.name}-consensus`, `${h.name}-validator`, `${h.name}-prometheus`, `${h.name}-alertmanager`]));
    expect(fs.readFileSync(path.join(h.nodeDir, "testnet", "current", "retention.vars"), "utf8")).toContain(`ITERATION_NUMBER="${n}"`);
  }
  // The installed cron entry runs (what crond will do every minute from now on).
  expect(await Promise.all(fleet.hosts.map((h) => cron.runOnce(h)))).toEqual([0, 0]);
  cron.start();
});

step("the nodes run the pre-made identities and peer with each other on both layers", async () => {
  await waitNodes(async () => (await nodes[0].chainId()) === releaseN.chainId && (await nodes[1].chainId()) === releaseN.chainId, 180_000, "both ELs on N's chain id");
  // publicIp is what each client advertises: geth's enode and prysm's libp2p addresses carry it.
  for (const [i, nd] of nodes.entries()) expect(nd.enode()).toMatch(new RegExp(`^enode://${identities[i].el.pubkey}@${gw.replace(/\./g, "\\.")}:${fleet.hosts[i].ports.elP2p}\\b`));
  let peerIds: string[] = [];
  let advertised: string[][] = [];
  await waitNodes(async () => {
    const ids = await Promise.all(nodes.map((nd) => nd.identity()));
    peerIds = ids.map((x) => x.peer_id);
    advertised = ids.map((x) => x.p2p_addresses);
    return true;
  }, 180_000, "both beacon APIs");
  for (const [i, h] of fleet.hosts.entries()) expect(advertised[i]).toContainEqual(expect.stringContaining(`/ip4/${gw}/tcp/${h.ports.clP2p}`));
  await waitNodes(async () => (await nodes[0].connectedPeerIds()).includes(peerIds[1]) && (await nodes[1].connectedPeerIds()).includes(peerIds[0]), 300_000, "each beacon node connected to the other");
  await waitNodes(async () => {
    const a = nodes[0].elPeers().some((e) => e.includes(identities[1].el.pubkey));
    const b = nodes[1].elPeers().some((e) => e.includes(identities[0].el.pubkey));
    return a && b && Number.parseInt(await nodes[0].rpc<string>("net_peerCount"), 16) >= 1;
  }, 300_000, "each geth peered with the other (admin.peers, net_peerCount)");
});

step("the EL head grows, the CL finalizes and both nodes agree on the finalized checkpoint", async () => {
  const s = scheduleOf(schedule);
  // N+1 appears long before its genesis, as upstream's releases do: the reset program asks the source every
  // POLL_INTERVAL_SEC (300 s) before a switch is due, so it is staged well ahead.
  publishChainRelease(fleet.server, releaseNext);
  await waitNodes(async () => (await nodes[0].blockNumber()) >= 2 && (await nodes[1].blockNumber()) >= 2, 300_000, "EL block 2 on both nodes");
  const before = await nodes[0].blockNumber();
  await waitNodes(async () => (await nodes[0].blockNumber()) > before && (await nodes[1].blockNumber()) > before, 60_000, "the EL head to grow");
  const deadline = (s.elGenesis(n + 1) - 240 - nowSec()) * 1000;
  await waitNodes(async () => {
    const [a, b] = await Promise.all(nodes.map((nd) => nd.finality()));
    return Number(a.finalized.epoch) > 0 && a.finalized.epoch === b.finalized.epoch && a.finalized.root === b.finalized.root;
  }, Math.max(deadline, 60_000), "a common finalized checkpoint above epoch 0 on both nodes");
  const fin = await nodes[1].finality();
  // The other node's block at the finalized epoch's first slot is the same block.
  const slot = Number(fin.finalized.epoch) * SLOTS_PER_EPOCH;
  const root = async (nd: NodeApi) => (await nd.beacon(`/eth/v1/beacon/blocks/${slot}/root`)).data.root;
  expect(await root(nodes[0])).toBe(await root(nodes[1]));
});

step("both validators' duties show on chain and in the validator-performance exporter", async () => {
  for (const [i, nd] of nodes.entries()) {
    const genesis = await nd.balances(half(i), "genesis");
    await waitNodes(async () => (await nd.balances(half(i))).every((b, k) => b > genesis[k]), 120_000, `every validator of ${nd.name} above its genesis balance`);
    // Liveness of the previous epoch: each of the host's validators attested.
    const epoch = Math.floor((await nd.headSlot()) / SLOTS_PER_EPOCH) - 1;
    const live = (await nd.beaconPost(`/eth/v1/validator/liveness/${epoch}`, half(i).map(String))).data as { index: string; is_live: boolean }[];
    expect(live.map((x) => [Number(x.index), x.is_live])).toEqual(half(i).map((x) => [x, true]));
  }
  for (const nd of nodes) {
    await waitNodes(async () => {
      const monitored = await nd.query(`${EXPORTER_METRICS.validatorsMonitored}{job="exporter"}`);
      const duties = await nd.query(`sum(${EXPORTER_METRICS.attestationDuties}{job="exporter"})`);
      return Number(monitored[0]?.value[1]) === VALIDATORS / 2 && Number(duties[0]?.value[1]) > 0;
    }, 240_000, `${nd.name}'s exporter reporting its ${VALIDATORS / 2} validators and their attestation duties`);
  }
});

step("Prometheus on each node scrapes every target and every client metric the rules and dashboards use", async () => {
  const el = EXECUTION_METRICS.geth;
  const cl = CONSENSUS_METRICS.prysm;
  const exprs = [
    select(el.head, "execution"), select(el.peers, "execution"),
    select(cl.head, "consensus"), select(cl.finalizedEpoch, "consensus"), select(cl.peers, "consensus"), select(cl.syncDistance, "consensus"),
    select(VALIDATOR_METRICS.prysm.beaconReachable, "validator"),
  ];
  for (const nd of nodes) {
    await waitNodes(async () => {
      const targets = (await nd.prometheus("/api/v1/targets?state=active")).data.activeTargets as { health: string }[];
      return targets.length >= 5 && targets.every((t) => t.health === "up");
    }, 120_000, `every Prometheus target of ${nd.name} up`);
    const empty: string[] = [];
    for (const e of exprs) if ((await nd.query(e)).length === 0) empty.push(e);
    expect(empty).toEqual([]);
  }
});

step("a stopped geth pages the webhook receiver through Alertmanager, and its start resolves the alert", async () => {
  const b = nodes[1];
  const isOurs = (h: Hook, status: string) => h.status === status && h.alerts.some((a) => a.labels.alertname === "ClientTargetDown" && a.labels.job === "execution" && a.labels.node === b.name && a.status === status);
  execFileSync("docker", ["stop", "-t", "30", `${b.name}-execution`]);
  try {
    await waitFor(() => hooks.some((h) => isOurs(h, "firing")), 240_000, "ClientTargetDown (execution) firing at the webhook");
  } finally {
    execFileSync("docker", ["start", `${b.name}-execution`]);
  }
  const t1 = Date.now();
  await waitFor(() => hooks.some((h) => h.at > t1 && isOurs(h, "resolved")), 240_000, "ClientTargetDown (execution) resolved at the webhook");
});

step("ephemery status reports both nodes synced on iteration N", async () => {
  const known = path.join(fleet.root, "known_hosts");
  fs.writeFileSync(known, "");
  await waitNodes(async () => {
    const r = await runCli(["status", "--file", stack.configFile, "--identity", fleet.hosts[0].ssh.privateKeyFile, "--known-hosts", known, "--accept-new-host-keys", "--json"]);
    const hosts = JSON.parse(r.stdout).hosts as any[];
    return hosts.length === 2 && hosts.every((h) => h.reachable && h.iteration.installed === n && h.execution.syncing === false && h.consensus.isSyncing === false);
  }, 120_000, "ephemery status: both hosts reachable, synced, on iteration N");
});

step("the reset: N+1 is staged by both nodes, and at its genesis both switch with no pulumi up", async () => {
  const s = scheduleOf(schedule);
  const next = n + 1;
  const before = await Promise.all(nodes.map((nd) => nd.identity()));
  for (const h of fleet.hosts) {
    await waitFor(() => fs.existsSync(path.join(h.nodeDir, "testnet", "releases", `ephemery-${next}`, "genesis.ssz"))
      && /ephemery_release_staged\S* 1\b/.test(fs.readFileSync(path.join(h.nodeDir, "node-exporter", "ephemery.prom"), "utf8")), Math.max((s.elGenesis(next) - nowSec()) * 1000, 10_000), `${h.name} staging ${next}`);
  }
  expect(await nodes[0].chainId()).toBe(releaseN.chainId);

  await waitNodes(async () => (await nodes[0].chainId()) === releaseNext.chainId && (await nodes[1].chainId()) === releaseNext.chainId, (s.elGenesis(next) - nowSec()) * 1000 + 300_000, "both nodes on N+1's chain id");
  // The switch restarts the beacon nodes on N+1's genesis state: their API answers again shortly after.
  await waitNodes(async () => (await Promise.all(nodes.map((nd) => nd.beacon("/eth/v1/beacon/genesis")))).every((g) => g.data.genesis_time === String(releaseNext.clGenesisTime)), 240_000, "both beacon APIs on N+1's genesis");
  for (const [i, nd] of nodes.entries()) {
    const genesis = (await nd.beacon("/eth/v1/beacon/genesis")).data;
    expect(genesis).toMatchObject({ genesis_time: String(releaseNext.clGenesisTime), genesis_validators_root: releaseNext.genesisValidatorsRoot });
    expect(fs.readFileSync(path.join(fleet.hosts[i].nodeDir, "testnet", "checkpoint-sync-url"), "utf8")).toBe("");
    expect(fs.statSync(path.join(fleet.hosts[i].nodeDir, "archive", `ephemery-${n}`, "prysm-slashing-protection", "validator.db")).size).toBeGreaterThan(0);
  }
  await waitNodes(async () => (await nodes[0].blockNumber()) >= 1 && (await nodes[1].blockNumber()) >= 1, 240_000, "N+1's first block on both nodes");
  for (const nd of nodes) expect((await nd.rpc<{ hash: string }>("eth_getBlockByNumber", ["0x0", false])).hash).toBe(releaseNext.elGenesisHash);

  // Same identities on the new chain, and the nodes find each other again from the same boot files.
  for (const [i, nd] of nodes.entries()) {
    expect(nd.enode()).toMatch(new RegExp(`^enode://${identities[i].el.pubkey}@`));
    expect((await nd.identity()).peer_id).toBe(before[i].peer_id);
  }
  await waitNodes(async () => (await nodes[0].connectedPeerIds()).includes(before[1].peer_id) && (await nodes[1].connectedPeerIds()).includes(before[0].peer_id), 180_000, "the beacon nodes connected again on N+1");

  // The same keys attest on N+1: a fresh slashing-protection DB lets them sign its low slots again.
  for (const [i, nd] of nodes.entries()) {
    const genesis = await nd.balances(half(i), "genesis");
    await waitNodes(async () => (await nd.balances(half(i))).every((b, k) => b > genesis[k]), 240_000, `${nd.name}'s validators earning on N+1`);
  }
  await waitNodes(async () => {
    const [a, b] = await Promise.all(nodes.map((nd) => nd.finality()));
    return Number(a.finalized.epoch) > 0 && a.finalized.root === b.finalized.root;
  }, 600_000, "N+1 finalized on both nodes");
});

step("a second pulumi up after the reset has nothing to change", async () => {
  await cron.stop();
  const result = await stack.up();
  expect(result.summary.result).toBe("succeeded");
  expect(stack.changes()).toEqual([]);
});
