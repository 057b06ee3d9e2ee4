/**
 * One node of the real geth, prysm beacon-chain and prysm validator of the live-chain tier as a `kind: kubernetes`
 * host on the real API server and kubelet: rendered by lib/kubernetes/manifests.ts from the client modules' own
 * ContainerSpecs, applied and deleted with kubectl (tests/support/kubectlApply.ts), on a fresh
 * devnet release from the live-chain tier's generator (tests/support/chainRelease.ts) whose genesis validators'
 * keystores reach the VC through the k8s keys path (checked as `pulumi up` checks them, in the
 * `<node>-validator-keys` Secret, imported into the prysm wallet by the import init container).
 *
 * The images are the very rootfs tarballs scripts/client-images.sh gives Docker (`--tars`), with the same
 * entrypoint, PATH, HOME and working directory. The client settings are the live-chain tier's
 * (tests/support/chainClients.ts chainNodeClients), and the test checks that the argv containerd runs is exactly
 * the argv the compose file of that tier gives Docker for the same ports. The release is written into the testnet
 * volume by the test, standing in for the reset program's `ensure` (tests/k8s/reset.test.ts runs that one).
 *
 * The test reads the clients' APIs at the pod's address through the pod-network stand-in (tests/support/
 * kubernetes.ts PodNetworkStandIn: the bridge's gateway address on this machine). Nothing leaves the machine.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import * as yaml from "js-yaml";
import { checkedInstallKeys } from "../../components/validatorKeys";
import { allSpecs, buildNodeSpecs } from "../../lib/clients";
import { renderCompose, serviceName } from "../../lib/compose";
import { hostSchema, HostConfig } from "../../lib/config/schema";
import { readKeySource } from "../../lib/keys/archive";
import { clientLayout } from "../../lib/keys/layout";
import { applyCommand, deleteCommand, kubectlStdin } from "../support/kubectlApply";
import { IMPORT_CONTAINER } from "../../lib/kubernetes/keys";
import { objectNames, renderNodeManifests } from "../../lib/kubernetes/manifests";
import { chainNodeClients, ChainNodePorts, clientBinaries, ClientBinaries } from "../support/chainClients";
import { ChainRelease, generateChainRelease } from "../support/chainRelease";
import { k8sBinDir, layerArchive, missingPrerequisites, PodNetworkStandIn, TestCluster, waitFor } from "../support/kubernetes";

const REPO = path.join(__dirname, "..", "..");
const NS = "eph-chain";
const NODE = "k8c";
const POD = `${NODE}-0`;
const ROLES = ["execution", "consensus", "validator"] as const;
/** Ports in this file's range (inside the pod's network namespace; hostPorts are recorded, not forwarded). */
const PORTS: ChainNodePorts = {
  elP2p: 39303, rpc: 39545, ws: 39546, elMetrics: 39060,
  clP2p: 39900, quic: 39901, beaconApi: 39052, clMetrics: 39054,
  keymanager: 39500, vcMetrics: 39064,
};
const API_FORWARD_PORT = 39443;
const JWT = "4c".repeat(32);
const VALIDATORS = 4;
const SECONDS_PER_SLOT = 3;
const KEYSTORE_PASSWORD = "k8s chain tier keystore password";
/** EL/CL genesis this far after the release is made: time to apply, start and import the keys before slot 0. */
const GENESIS_LEAD_SEC = 60;
/** Another user of the pod, who must read neither the JWT nor the keys. */
const NOBODY = 65534;

let cluster: TestCluster | undefined;
let podNetwork: PodNetworkStandIn | undefined;
let bins: ClientBinaries;
let work: string;
let release: ChainRelease;
const pv: Record<string, string> = {};

const keySource = () => path.join(work, "keys");

function k8sHost(): HostConfig {
  const clients = chainNodeClients(PORTS);
  return hostSchema.parse({
    name: NODE, kind: "kubernetes",
    kubernetes: { namespace: NS, storageClass: "", imagePullPolicy: "Never" },
    ...clients,
    validator: { ...clients.validator, keys: { path: keySource(), expectedCount: VALIDATORS } },
  });
}

/** The same node as the live-chain tier runs it on Docker (tests/chain/harness.ts ChainNode): compose runtime. */
function dockerHost(): HostConfig {
  return hostSchema.parse({ name: NODE, kind: "local", dataDir: work, runtime: "compose", ...chainNodeClients(PORTS) });
}

async function manifests() {
  const h = k8sHost();
  const keysCfg = h.validator!.keys!;
  // The component's key path (components/kubernetesKeys.ts): the workstation checks, then the client's layout.
  const checked = await checkedInstallKeys(readKeySource(keysCfg.path!), keysCfg, `validator.keys of host "${NODE}"`, KEYSTORE_PASSWORD, 1);
  const specs = allSpecs(buildNodeSpecs({ node: NODE, host: h, checkpointSyncUrls: [] }));
  const k = h.kubernetes!;
  return renderNodeManifests(NODE, specs, {
    namespace: k.namespace, storageClass: k.storageClass, p2pExposure: k.p2pExposure, imagePullPolicy: k.imagePullPolicy,
    volumeGiB: { testnet: 1, execution: 1, consensus: 1, validator: 1 }, dataDir: h.dataDir,
  }, { jwtHex: JWT, keyFiles: clientLayout("prysm", checked), pubkeys: checked.map((c) => c.pubkey).sort() });
}

const target = () => ({ namespace: NS, node: NODE, kubectl: path.join(k8sBinDir(), "kubectl") });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const getJson = (args: string[]): any => JSON.parse(cluster!.kubectl([...args, "-o", "json"]));
const podOf = () => getJson(["get", "pod", POD, "-n", NS]);
const exec = (container: string, script: string, user?: number) => cluster!.execIn(NS, POD, container, ["/bin/sh", "-c", script], user);

/**
 * The last lines of every container log file the kubelet wrote for the node's pods (kubectl logs needs a kubelet
 * reachable from the API server, which this one is not).
 */
function podLogs(lines = 40): string {
  if (!cluster || !fs.existsSync(cluster.podLogsDir)) return "";
  const out: string[] = [];
  for (const pod of fs.readdirSync(cluster.podLogsDir).filter((d) => d.startsWith(`${NS}_${POD}_`))) {
    for (const container of fs.readdirSync(path.join(cluster.podLogsDir, pod))) {
      const dir = path.join(cluster.podLogsDir, pod, container);
      for (const f of fs.readdirSync(dir).sort()) {
        const text = fs.readFileSync(path.join(dir, f), "utf8").split("\n").slice(-lines).join("\n");
        out.push(`--- ${pod}/${container}/${f} ---\n${text}`);
      }
    }
  }
  return out.join("\n");
}

/** The kubelet's log of one container of the current pod (CRI format: time, stream, tag, line). */
function containerLog(container: string): string {
  const uid = podOf().metadata.uid;
  const dir = path.join(cluster!.podLogsDir, `${NS}_${POD}_${uid}`, container);
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort().map((f) => fs.readFileSync(path.join(dir, f), "utf8")).join("") : "";
}

/** A test body whose failure message ends with the pod's log files (the clients say why they stopped). */
const withLogs = (body: () => unknown) => async () => {
  try {
    await body();
  } catch (e) {
    if (e instanceof Error) e.message += `\n${podLogs()}`;
    throw e;
  }
};

/** What a timed-out wait adds to its message (withLogs adds the log files). */
const describePod = () => spawnSync(path.join(k8sBinDir(), "kubectl"), [`--kubeconfig=${cluster!.kubeconfig}`, "describe", "pod", POD, "-n", NS], { encoding: "utf8" }).stdout?.slice(-2500) ?? "";

/** A bounded GET/POST to the pod's address, read as JSON (at most 4 MiB). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function podApi(port: number, p: string, body?: unknown): Promise<any> {
  const res = await fetch(`http://${podOf().status.podIP}:${port}${p}`, {
    method: body ? "POST" : "GET", headers: body ? { "content-type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  if (text.length > 4 * 1024 * 1024) throw new Error(`${p}: answer over 4 MiB`);
  if (!res.ok) throw new Error(`${p}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}
async function rpc<T>(method: string, params: unknown[] = []): Promise<T> {
  const r = await podApi(PORTS.rpc, "/", { jsonrpc: "2.0", id: 1, method, params });
  if (r.error) throw new Error(`${method}: ${JSON.stringify(r.error)}`);
  return r.result as T;
}
const beacon = (p: string) => podApi(PORTS.beaconApi, p);
const headSlot = async () => Number((await beacon("/eth/v1/beacon/headers/head")).data.header.message.slot);
const blockNumber = async () => Number.parseInt(await rpc<string>("eth_blockNumber"), 16);

/** scripts/client-images.sh's rootfs tarballs as image archives, tagged as containerd names the specs' images. */
function clientImages(dir: string): string[] {
  const tars = spawnSync("bash", [path.join(REPO, "scripts", "client-images.sh"), "--tars", "geth", "prysm"], { encoding: "utf8", timeout: 600_000 });
  if (tars.status !== 0) throw new Error(`scripts/client-images.sh --tars geth prysm failed:\n${tars.stderr.slice(-2000)}`);
  const lines = tars.stdout.split("\n").filter(Boolean);
  if (lines.length !== 3) throw new Error(`scripts/client-images.sh --tars geth prysm printed ${lines.length} images, not 3:\n${tars.stdout}`);
  return lines.map((line) => {
    const [ref, tar, entrypoint] = line.split(" ");
    // The image config client-images.sh gives `docker import` (ENTRYPOINT, ENV PATH and HOME, WORKDIR /).
    const config = { Entrypoint: JSON.parse(entrypoint), Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"], WorkingDir: "/" };
    // What the kubelet asks containerd for: a reference without a registry is Docker Hub's.
    const named = ref.split("/")[0].includes(".") ? ref : `docker.io/${ref}`;
    return layerArchive(tar, named, config, dir);
  });
}

beforeAll(async () => {
  const missing = missingPrerequisites();
  if (missing) throw new Error(`the Kubernetes tier cannot run: ${missing}`);
  // Before client-images.sh, which would otherwise build the clients (11 min): .ci/run builds them first.
  bins = clientBinaries();
  work = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-k8s-chain-"));
  cluster = new TestCluster();
  podNetwork = new PodNetworkStandIn(API_FORWARD_PORT, "ephemery-k8s-chain-test");
  await podNetwork.start();
  await cluster.start();
  for (const img of clientImages(cluster.dir)) cluster.importImage(img);
  for (const t of ["testnet", "execution-data", "consensus-data", "validator-data"]) {
    pv[t] = cluster.persistentVolume(`${NS}-${t}`, { namespace: NS, name: objectNames(NODE).pvc(t) }, 1);
  }

  // A fresh one-node devnet starting shortly, as tests/chain/chain.test.ts makes it (no genesis delay: prysmctl
  // stamps genesis.json with the CL genesis time).
  const iteration = 1;
  const elGenesis = Math.floor(Date.now() / 1000) + GENESIS_LEAD_SEC;
  release = await generateChainRelease({
    iteration, schedule: { baseTime: elGenesis - iteration * 600, periodSec: 600, genesisDelaySec: 0, chainIdBase: 39438000 },
    validators: VALIDATORS, secondsPerSlot: SECONDS_PER_SLOT, prysmctl: bins.prysmctl, geth: bins.geth, fork: "fulu", keystorePassword: KEYSTORE_PASSWORD,
  });
  const rel = path.join(pv.testnet, "releases", `ephemery-${iteration}`);
  fs.mkdirSync(rel, { recursive: true });
  for (const [name, content] of Object.entries(release.files)) fs.writeFileSync(path.join(rel, name), content);
  fs.symlinkSync(`releases/ephemery-${iteration}`, path.join(pv.testnet, "current"));
  fs.mkdirSync(keySource());
  for (const k of release.keys) fs.writeFileSync(path.join(keySource(), `keystore-m_12381_3600_${k.index}_0_0-1700000000.json`), k.keystore);
}, 600_000);

afterAll(async () => {
  await podNetwork?.stop(cluster !== undefined);
  if (cluster) await cluster.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 300_000);

describe("real geth and prysm as a kubernetes node", () => {
  test("apply: the import init container fills the prysm wallet, then geth, beacon-chain and validator run", withLogs(async () => {
    const m = await manifests();
    const r = spawnSync("bash", ["-c", applyCommand(target(), 240)], { input: kubectlStdin(fs.readFileSync(cluster!.kubeconfig, "utf8"), [...m.objects, ...m.secrets]), encoding: "utf8", timeout: 300_000 });
    if (r.status !== 0) throw new Error(`the apply line failed (${r.status}):\n${r.stderr}\n${describePod()}`);
    const pod = await waitFor(`${POD} Running`, 120_000, () => {
      const p = podOf();
      return p.status.phase === "Running" && p.status.containerStatuses?.length === 3 && p.status.containerStatuses.every((c: { state: { running?: unknown } }) => c.state.running) ? p : undefined;
    }, describePod);
    const init = Object.fromEntries(pod.status.initContainerStatuses.map((c: { name: string; state: { terminated?: { exitCode: number } } }) => [c.name, c.state.terminated?.exitCode]));
    expect(init).toEqual({ "wait-release": 0, [IMPORT_CONTAINER]: 0 });
    expect(pod.status.containerStatuses.map((c: { restartCount: number }) => c.restartCount)).toEqual([0, 0, 0]);
    // prysm's accounts import put every genesis key into the wallet on the VC's data volume (the local keymanager's
    // <wallet>/direct/accounts/all-accounts.keystore.json: validator/keymanager/local/keymanager.go, types.go, v7.0.0).
    expect(fs.existsSync(path.join(pv["validator-data"], "wallet", "direct", "accounts", "all-accounts.keystore.json"))).toBe(true);
    // The VC serves them: its keymanager API, with the token where KEY_TOOLS.prysm.apiTokenPath says, lists them all.
    const token = await waitFor("the keymanager token", 60_000, () => {
      const f = path.join(pv["validator-data"], "wallet", "auth-token");
      return fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n")[0].trim() || undefined : undefined;
    }, describePod);
    const listed = await waitFor("the keymanager API", 60_000, async () => {
      const res = await fetch(`http://${podOf().status.podIP}:${PORTS.keymanager}/eth/v1/keystores`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
      return res.ok ? (await res.json()) as { data: { validating_pubkey: string }[] } : undefined;
    }, describePod);
    expect(listed.data.map((k) => k.validating_pubkey.toLowerCase()).sort()).toEqual(release.keys.map((k) => `0x${k.pubkey}`).sort());
  }));

  test("each client runs as its rendered uid; the JWT and keys are 0400 files it reads and another uid cannot", withLogs(() => {
    const spec = podOf().spec;
    for (const role of ROLES) {
      const c = spec.containers.find((x: { name: string }) => x.name === role);
      const uid = exec(role, "awk '/^Uid:/ {print $2}' /proc/1/status").trim();
      expect({ role, uid }).toEqual({ role, uid: String(c.securityContext.runAsUser) });
      // The client itself is PID 1 of its container (the entry scripts exec it).
      expect({ role, exe: exec(role, "readlink /proc/1/exe").trim() }).toEqual({ role, exe: { execution: "/usr/local/bin/geth", consensus: "/app/cmd/beacon-chain/beacon-chain", validator: "/app/cmd/validator/validator" }[role] });
    }
    // That uid runs and reads what is meant for everyone in the pod (the release), so its refusals below are the modes'.
    expect(exec("execution", "cat /ephemery/testnet/current/config.yaml >/dev/null && id -u", NOBODY).trim()).toBe(String(NOBODY));
    for (const role of ["execution", "consensus"]) {
      expect(exec(role, "stat -L -c '%a %u' /ephemery/jwt/jwt.hex").trim()).toBe("400 0");
      expect(exec(role, "cat /ephemery/jwt/jwt.hex")).toBe(JWT);
      expect(exec(role, `cat /ephemery/jwt/jwt.hex 2>&1 >/dev/null && echo read || echo refused`, NOBODY).trim()).toMatch(/refused$/);
    }
    const keysDir = "/ephemery/validator-keys/current/prysm";
    const pk = release.keys[0].pubkey;
    for (const f of ["wallet-password.txt", `passwords/0x${pk}.txt`]) {
      expect(exec("validator", `stat -L -c '%a %u' ${keysDir}/${f}`).trim()).toBe("400 0");
      expect(exec("validator", `cat ${keysDir}/${f} 2>&1 >/dev/null && echo read || echo refused`, NOBODY).trim()).toMatch(/refused$/);
    }
    const keystores = exec("validator", `ls ${keysDir}/keystores`).trim().split("\n");
    expect(keystores).toHaveLength(VALIDATORS);
    for (const k of keystores) expect(exec("validator", `stat -L -c '%a %u' ${keysDir}/keystores/${k}`).trim()).toBe("400 0");
    // The wallet the VC signs from is its own, in its data volume, which no other container mounts.
    expect(exec("validator", "stat -c '%u' /data/wallet/direct/accounts/all-accounts.keystore.json").trim()).toBe("0");
    for (const role of ["execution", "consensus"]) expect(exec(role, "[ -e /data/wallet ] && echo has-wallet || echo no-wallet").trim()).toBe("no-wallet");
    // Mounts: the JWT in the EL and CL only, the keys in the VC only, the testnet read-only everywhere.
    expect(exec("validator", "[ -e /ephemery/jwt ] && echo has-jwt || echo no-jwt").trim()).toBe("no-jwt");
    for (const role of ["execution", "consensus"]) expect(exec(role, "[ -e /ephemery/validator-keys ] && echo has-keys || echo no-keys").trim()).toBe("no-keys");
    for (const role of ROLES) expect(exec(role, "touch /ephemery/testnet/x 2>&1 && echo wrote || echo refused").trim()).toMatch(/refused$/);
    for (const role of ROLES) expect(exec(role, "env")).not.toContain(JWT);
    expect(exec("validator", "env")).not.toContain(KEYSTORE_PASSWORD);
  }));

  test("the argv containerd runs is exactly the argv the live-chain tier's compose file gives Docker", withLogs(() => {
    const compose = yaml.load(renderCompose(NODE, allSpecs(buildNodeSpecs({ node: NODE, host: dockerHost(), checkpointSyncUrls: [] })))) as { services: Record<string, { entrypoint?: string[]; command?: string[]; user?: string }> };
    // Compose turns `$$` back into `$`, as Kubernetes does in command/args.
    const unescape = (v: string) => v.replace(/\$\$/g, "$");
    for (const role of ROLES) {
      const svc = compose.services[serviceName(`${NODE}-${role}`, NODE)];
      const docker = [...(svc.entrypoint ?? []), ...(svc.command ?? []).map(unescape)];
      const oci = cluster!.containerSpec(NS, POD, role).process;
      expect({ role, argv: oci.args }).toEqual({ role, argv: docker });
      expect({ role, user: `${oci.user.uid}:${oci.user.gid}` }).toEqual({ role, user: svc.user });
    }
    // The lone-node flags reached prysm as the tier writes them, through the entry script's "$@".
    const beaconArgv = exec("consensus", "tr '\\0' '\\n' < /proc/1/cmdline").split("\n");
    expect(beaconArgv).toEqual(expect.arrayContaining(["--min-sync-peers=0", "--sync-from=head", `--execution-endpoint=http://${NODE}-execution:8551`]));
  }));

  test("the EL and CL answer at the pod's address on the release's chain", withLogs(async () => {
    const genesis = await waitFor("the beacon API", 90_000, async () => (await beacon("/eth/v1/beacon/genesis")).data, describePod);
    expect(genesis).toMatchObject({ genesis_time: String(release.clGenesisTime), genesis_validators_root: release.genesisValidatorsRoot });
    expect(Number.parseInt(await rpc<string>("eth_chainId"), 16)).toBe(release.chainId);
    expect((await rpc<{ hash: string }>("eth_getBlockByNumber", ["0x0", false])).hash).toBe(release.elGenesisHash);
    // The CL reached geth's engine API by the spec's name (hostAliases: loopback in the pod).
    expect(exec("consensus", `grep -c '${NODE}-execution' /etc/hosts`).trim()).toBe("1");
  }));

  test("the chain advances: blocks proposed by the VC, EL head and CL head slot growing", withLogs(async () => {
    const wait = Math.max(0, release.clGenesisTime - Math.floor(Date.now() / 1000));
    const first = await waitFor("CL head slot 2 and EL block 2", (wait + 90) * 1000, async () => ((await headSlot()) >= 2 && (await blockNumber()) >= 2) || undefined, describePod);
    expect(first).toBe(true);
    const [slot0, block0] = [await headSlot(), await blockNumber()];
    await waitFor("the heads to grow by 2", 60_000, async () => ((await headSlot()) >= slot0 + 2 && (await blockNumber()) >= block0 + 2) || undefined, describePod);
    const head = (await beacon("/eth/v2/beacon/blocks/head")).data.message;
    expect(Number(head.proposer_index)).toBeLessThan(VALIDATORS);
    // The payload pays the VC's --suggested-fee-recipient (the beacon node has none of its own), and the VC
    // logged its proposals (prysm v7.0.0 validator/client/propose.go "Submitted new block").
    const el = await rpc<{ miner: string; number: string }>("eth_getBlockByNumber", [`0x${Number(head.body.execution_payload.block_number).toString(16)}`, false]);
    expect(el.miner.toLowerCase()).toBe(k8sHost().validator!.feeRecipient.toLowerCase());
    const proposals = containerLog("validator").split("\n").filter((l) => l.includes("Submitted new block"));
    expect(proposals.length).toBeGreaterThanOrEqual(2);
  }));

  test("destroy removes the pod, its containers, the StatefulSet, Services and Secrets; the identity PVCs stay", withLogs(async () => {
    const script = deleteCommand(target());
    const r = spawnSync("bash", ["-c", script], { input: kubectlStdin(fs.readFileSync(cluster!.kubeconfig, "utf8"), []), encoding: "utf8", timeout: 240_000 });
    expect({ status: r.status, stderr: r.status === 0 ? "" : r.stderr }).toEqual({ status: 0, stderr: "" });
    await waitFor("pod gone", 120_000, () => cluster!.kubectl(["get", "pods", "-n", NS, "-o", "name"]).trim() === "" || undefined, describePod);
    expect(cluster!.kubectl(["get", "statefulsets,services,secrets", "-n", NS, "-l", `app.kubernetes.io/instance=${NODE}`, "-o", "name"]).trim()).toBe("");
    // No process of the pod is left: no running task of any of its containers (the sandbox's included).
    const running = () => {
      const ids = new Set(cluster!.ctr(["-n", "k8s.io", "containers", "ls", "-q", `labels."io.kubernetes.pod.namespace"==${NS}`]).split("\n").filter(Boolean));
      return cluster!.ctr(["-n", "k8s.io", "tasks", "ls"]).split("\n").slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => ids.has(f[0]) && f[2] === "RUNNING").map((f) => f[0]);
    };
    await waitFor("the pod's tasks gone", 60_000, () => running().length === 0 || undefined, () => running().join("\n"));
    const pvcs = getJson(["get", "pvc", "-n", NS]).items.map((c: { metadata: { name: string } }) => c.metadata.name).sort();
    expect(pvcs).toEqual(["consensus-data-k8c-0", "execution-data-k8c-0", "testnet-k8c-0", "validator-data-k8c-0"]);
  }));
});
