/**
 * The Ephemery reset running in the cluster (lib/kubernetes/reset.ts): a node deployed with the engine tier's
 * stand-in client images and its `<node>-reset` CronJob, on a real API server, controller manager (CronJob, Job,
 * StatefulSet controllers) and kubelet. The CronJob runs the real host-scripts/ephemery-reset.sh (RUNTIME
 * kubernetes) in an image made of this machine's bash, curl, GNU tar, coreutils, util-linux and Node.js 22
 * (tests/support/hostBinaryImage.ts, standing in for the pinned node:22-bookworm), talking to the API with its own
 * service-account token and fetching releases from tests/support/releases.ts's ReleaseServer.
 *
 * Where this machine is not a cluster, and what stands in (each said once here):
 * - No kube-proxy, so the `kubernetes` Service's cluster IP routes nowhere: the reset container's
 *   KUBERNETES_SERVICE_HOST/PORT name a TCP forwarder on the pods' bridge gateway address instead (the API
 *   server's certificate names that address). In a real cluster the kubelet's own values work.
 * - The pods' bridge has no gateway (nothing leaves the machine): the test puts POD_GATEWAY on it, and the release
 *   server and the forwarder listen there only, reachable from the pods and this machine.
 * - This machine's shared FORWARD policy is DROP with br_netfilter on, which would drop pod-to-pod frames on the
 *   bridge (the reset pod asks the node's pod for its chain id): one ACCEPT rule for frames within our bridge, as
 *   a real CNI (flannel, kindnet) installs for its pod network, removed by the test.
 * - The clock is real: iteration N is two before the current one, so N+1 and N+2 are due at once.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { allSpecs, buildNodeSpecs } from "../../lib/clients";
import { hostSchema, HostConfig } from "../../lib/config/schema";
import { iterationAt } from "../../lib/ephemery";
import { clientLayout } from "../../lib/keys/layout";
import { applyCommand, kubectlStdin } from "../support/kubectlApply";
import { KubeObject, objectNames, renderNodeManifests, RESET_STATE_ROOT } from "../../lib/kubernetes/manifests";
import { activeDeadlineSec, renderResetManifests, renderResetScript, resetObjectNames } from "../../lib/kubernetes/reset";
import { RPC_CGI, STANDIN } from "../e2e/standins";
import { hostBinaryRootfs } from "../support/hostBinaryImage";
import { busyboxRootfs, dockerArchive, k8sBinDir, missingPrerequisites, POD_GATEWAY, PodNetworkStandIn, runAsync, TestCluster, waitFor } from "../support/kubernetes";
import { buildArchive, ReleaseServer, releaseFiles } from "../support/releases";

const NS = "eph-reset";
const NODE = "rs1";
const POD = `${NODE}-0`;
const JOB_NAMES = resetObjectNames(NODE);
const CLIENT_IMAGE = "ephemery-k8s/client:1.0.0";
const RESET_IMAGE = "ephemery-k8s/reset:1";
// Ports in this engineer's range: the release server and the API forwarder on the bridge gateway; client APIs inside the pod.
const RELEASE_PORT = 31080;
const API_FORWARD_PORT = 31443;
const RPC_PORT = 31545;
const BEACON_PORT = 31052;

const N = iterationAt(Math.floor(Date.now() / 1000)) - 2;

let cluster: TestCluster;
let server: ReleaseServer;
let podNetwork: PodNetworkStandIn | undefined;
const pv: Record<string, string> = {};

function hostConfig(): HostConfig {
  return hostSchema.parse({
    name: NODE, kind: "kubernetes",
    kubernetes: { namespace: NS, storageClass: "", imagePullPolicy: "Never", resetImage: RESET_IMAGE },
    execution: { client: "geth", image: CLIENT_IMAGE, memoryMiB: 256, p2pPort: 31303, rpcPort: RPC_PORT, wsPort: 31546 },
    consensus: { client: "lighthouse", image: CLIENT_IMAGE, memoryMiB: 256, p2pPort: 31900, quicPort: 31901, beaconApiPort: BEACON_PORT, checkpointSyncUrls: [] },
    validator: { client: "lighthouse", image: CLIENT_IMAGE, memoryMiB: 256, feeRecipient: "0x8943545177806ED17B9F23F0a21ee5948eCaa776" },
  });
}

/** The component's objects (components/kubernetesNode.ts renders the same), with the API forwarder standing in for kube-proxy. */
function manifests(): KubeObject[] {
  const h = hostConfig();
  const k = h.kubernetes!;
  const specs = buildNodeSpecs({ node: NODE, host: h, checkpointSyncUrls: [] });
  const keyFiles = clientLayout("lighthouse", [{ pubkey: "a1".repeat(48), keystore: JSON.stringify({ pubkey: "a1".repeat(48), crypto: {}, version: 4 }), password: "pw" }]);
  const node = renderNodeManifests(NODE, allSpecs(specs), {
    namespace: NS, storageClass: "", p2pExposure: k.p2pExposure, imagePullPolicy: "Never",
    volumeGiB: { testnet: 1, execution: 1, consensus: 1, validator: 1 }, dataDir: h.dataDir,
  }, { jwtHex: "5e".repeat(32), keyFiles });
  const reset = renderResetManifests(NODE, {
    namespace: NS, image: k.resetImage, imagePullPolicy: "Never", schedule: h.reset.schedule, enabled: true,
    script: renderResetScript(h, server.network, specs), roles: allSpecs(specs).map((s) => s.role), activeDeadlineSec: activeDeadlineSec(h, server.network, specs),
  });
  const cron = reset.find((o) => o.kind === "CronJob")!;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const container = (cron as any).spec.jobTemplate.spec.template.spec.containers[0];
  container.env = [{ name: "KUBERNETES_SERVICE_HOST", value: POD_GATEWAY }, { name: "KUBERNETES_SERVICE_PORT", value: String(API_FORWARD_PORT) }];
  return [...node.objects, ...reset, ...node.secrets];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const getJson = (args: string[]): any => JSON.parse(cluster.kubectl([...args, "-o", "json"]));
const podOf = () => getJson(["get", "pod", POD, "-n", NS]);
const exec = (container: string, script: string) => cluster.execIn(NS, POD, container, ["/bin/sh", "-c", script]);
const current = () => fs.readlinkSync(path.join(pv.testnet, "current"));
const stateFile = (name: string) => path.join(pv.testnet, path.relative("/ephemery/testnet", RESET_STATE_ROOT), "state", name);
const replicas = () => getJson(["get", "statefulset", NODE, "-n", NS]).spec.replicas;

async function waitRunning(notUid?: string) {
  return waitFor(`${POD} Running`, 240_000, () => {
    const p = podOf();
    const ok = p.status.phase === "Running" && p.metadata.uid !== notUid && p.status.containerStatuses?.length === 3 && p.status.containerStatuses.every((c: { ready: boolean }) => c.ready);
    return ok ? p : undefined;
  }, () => cluster.kubectl(["describe", "pod", POD, "-n", NS]).slice(-2000));
}

/** Every log line of a Job's pod(s), read from the kubelet's log files (kubectl logs needs a reachable kubelet). */
function jobLog(job: string): string {
  const pods = getJson(["get", "pods", "-n", NS, "-l", `job-name=${job}`]).items as { metadata: { name: string; uid: string } }[];
  return pods.map((p) => {
    const dir = path.join(cluster.podLogsDir, `${NS}_${p.metadata.name}_${p.metadata.uid}`, "reset");
    return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), "utf8")).join("") : "";
  }).join("");
}

/** Waits for a Job to finish; returns whether it succeeded and its log. */
async function jobResult(job: string, timeoutMs = 300_000): Promise<{ ok: boolean; log: string }> {
  const status = await waitFor(`job ${job} finished`, timeoutMs, () => {
    const s = getJson(["get", "job", job, "-n", NS]).status;
    return s.succeeded ? "ok" : s.failed ? "failed" : undefined;
  }, () => `${cluster.kubectl(["describe", "job", job, "-n", NS]).slice(-1500)}\n${jobLog(job).slice(-3000)}`);
  // The log file is complete once the container has exited.
  await new Promise((r) => setTimeout(r, 500));
  return { ok: status === "ok", log: jobLog(job) };
}

let manualJobs = 0;
/** A run of the CronJob's own template now (`kubectl create job --from=cronjob/...`), with `env` added when given. */
function runJob(env: Record<string, string> = {}): string {
  const name = `${JOB_NAMES.cronJob}-manual-${++manualJobs}`;
  const job = JSON.parse(cluster.kubectl(["create", "job", name, `--from=cronjob/${JOB_NAMES.cronJob}`, "-n", NS, "--dry-run=client", "-o", "json"]));
  const c = job.spec.template.spec.containers[0];
  c.env = [...(c.env ?? []), ...Object.entries(env).map(([n, value]) => ({ name: n, value }))];
  cluster.kubectl(["create", "-f", "-"], JSON.stringify(job));
  return name;
}

/**
 * The program asks the release source at most every few minutes (a back-off after a failed or overdue answer) or
 * hours (no release due): the test stands in for that time passing by removing the two records.
 */
const forgetBackoff = () => {
  fs.rmSync(stateFile("query-backoff"), { force: true });
  fs.rmSync(stateFile("last-check"), { force: true });
};

beforeAll(async () => {
  const missing = missingPrerequisites();
  if (missing) throw new Error(`the Kubernetes tier cannot run: ${missing}`);
  cluster = new TestCluster();
  await cluster.start();

  podNetwork = new PodNetworkStandIn(API_FORWARD_PORT, "ephemery-k8s-reset-test");
  await podNetwork.start();
  server = new ReleaseServer();
  await server.start(POD_GATEWAY, RELEASE_PORT);

  const clientRoot = busyboxRootfs(cluster.dir, {
    "usr/local/bin/geth": { content: STANDIN, mode: 0o755 },
    "usr/local/bin/lighthouse": { content: STANDIN, mode: 0o755 },
    "www/cgi-bin/index.cgi": { content: RPC_CGI, mode: 0o755 },
    "etc/standin-version": { content: "1.0.0\n" },
  });
  cluster.importImage(dockerArchive(clientRoot, `docker.io/${CLIENT_IMAGE}`, { Entrypoint: ["/bin/sh"] }, cluster.dir));
  // Node.js 22 as scripts/client-images.sh caches it from the npm registry, else the node running this test.
  const cached = path.join(process.env.PULUMI_EPHEMERY_CACHE ?? path.join(os.homedir(), ".cache", "pulumi-ephemery"), "node-22.21.1", "bin", "node");
  const nodeBin = fs.existsSync(cached) ? cached : process.execPath;
  const resetRoot = hostBinaryRootfs(path.join(cluster.dir, "reset-rootfs"), [
    "bash", "sh", "curl", "tar", "gzip", "flock", "timeout", "date", "mktemp", "dirname", "cmp", "sync", "chmod", "mv", "rm", "cp", "ln",
    "head", "tail", "tr", "mkdir", "cat", "stat", "grep", "sed", "wc", "readlink", "realpath", "ls", "diff", "sort", "sleep", "touch", "env",
  ], { [nodeBin]: "usr/bin/node" });
  cluster.importImage(dockerArchive(resetRoot, `docker.io/${RESET_IMAGE}`, { Entrypoint: ["/usr/bin/bash"] }, cluster.dir));

  for (const t of ["testnet", "execution-data", "consensus-data", "validator-data"]) {
    pv[t] = cluster.persistentVolume(`${NS}-${t}`, { namespace: NS, name: objectNames(NODE).pvc(t) }, 1);
  }
  server.publish(N);
}, 900_000);

afterAll(async () => {
  await podNetwork?.stop(cluster !== undefined);
  if (cluster) await cluster.stop();
  await server?.stop();
}, 300_000);

describe("the Ephemery reset as a CronJob in a real cluster", () => {
  let uid = "";
  let nodekey = "";

  test("deploy: the CronJob fetches and verifies iteration N, the pod starts on it; the client pod holds no token", async () => {
    // The component's kubectl line: apply, then wait for the rollout, which only the CronJob's first run unblocks.
    // Asynchronously: the release server and the API forwarder run in this process and must answer meanwhile.
    const r = await runAsync("bash", ["-c", applyCommand({ namespace: NS, node: NODE, kubectl: path.join(k8sBinDir(), "kubectl") })],
      kubectlStdin(fs.readFileSync(cluster.kubeconfig, "utf8"), manifests()));
    if (r.status !== 0) throw new Error(`apply failed:\n${r.stderr}\n${r.stdout}\n${cluster.kubectl(["get", "jobs,pods", "-n", NS])}`);
    expect(r.stdout).toMatch(/cronjob.batch\/rs1-reset created/);
    const pod = await waitRunning();
    uid = pod.metadata.uid;

    expect(current()).toBe(`releases/ephemery-${N}`);
    expect(fs.readFileSync(stateFile("iteration"), "utf8").trim()).toBe(String(N));
    // The scheduled job (not a manual one) did it, and succeeded.
    const jobs = getJson(["get", "jobs", "-n", NS]).items.filter((j: { metadata: { ownerReferences?: { kind: string }[] } }) => j.metadata.ownerReferences?.[0]?.kind === "CronJob");
    expect(jobs.length).toBeGreaterThanOrEqual(1);
    const first = await jobResult(jobs[0].metadata.name);
    expect(first.log).toContain(`staged ephemery-${N}: verified`);
    expect(first.log).toMatch(new RegExp(`check passed: EL eth_chainId = ${39438000 + N}`));
    expect(first.ok).toBe(true);

    const chainId = JSON.parse(exec("consensus", `wget -qO- --post-data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}' http://${NODE}-execution:${RPC_PORT}/`));
    expect(chainId.result).toBe(`0x${(39438000 + N).toString(16)}`);
    // The client pod mounts no service-account token; only the reset pod does.
    expect(JSON.stringify(pod.spec)).not.toContain("serviceaccount");
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    nodekey = fs.readFileSync(path.join(pv["execution-data"], "geth", "nodekey"), "utf8");
    expect(nodekey).toMatch(/^[0-9a-f]{64}$/);
    // What the validator keeps across a reset, and the slashing protection a reset archives.
    fs.mkdirSync(path.join(pv["validator-data"], "validators"), { recursive: true });
    fs.writeFileSync(path.join(pv["validator-data"], "validators", "operator-notes.txt"), "kept\n");
    fs.writeFileSync(path.join(pv["validator-data"], "validators", "slashing_protection.sqlite"), `slashing protection of ${N}\n`);
    // From here the test starts runs itself, so each step is one run.
    cluster.kubectl(["patch", "cronjob", JOB_NAMES.cronJob, "-n", NS, "--type=merge", "-p", '{"spec":{"suspend":true}}']);
    await waitFor("no scheduled run active", 120_000, () => (getJson(["get", "cronjob", JOB_NAMES.cronJob, "-n", NS]).status.active ?? []).length === 0 || undefined);
  });

  test("N+1 published: the run scales to 0, wipes chain data, keeps identity and validator data, switches and scales back", async () => {
    server.publish(N + 1);
    forgetBackoff();
    const { ok, log } = await jobResult(runJob());
    expect(log).toContain("stopping the node's pod (statefulset rs1 to 0 replicas)");
    expect(log).toMatch(/execution: wiped \[geth\] in volume \/ephemery\/volumes\/execution-data, kept \[geth\/nodekey\]/);
    expect(log).toContain("starting the node's pod (statefulset rs1 to 1 replica)");
    expect(log).toContain(`switched to ephemery-${N + 1}`);
    expect(ok).toBe(true);
    const pod = await waitRunning(uid);
    uid = pod.metadata.uid;
    expect(replicas()).toBe(1);
    expect(current()).toBe(`releases/ephemery-${N + 1}`);

    // The new pod runs on N+1: geth's init wrote N+1's genesis into the wiped chain data (it refuses another genesis).
    const chainId = JSON.parse(exec("consensus", `wget -qO- --post-data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}' http://${NODE}-execution:${RPC_PORT}/`));
    expect(chainId.result).toBe(`0x${(39438000 + N + 1).toString(16)}`);
    const genesis = JSON.parse(exec("validator", `wget -qO- http://${NODE}-consensus:${BEACON_PORT}/eth/v1/beacon/genesis`));
    expect(genesis.data.genesis_time).toBe(/GENESIS_TIME="(\d+)"/.exec(releaseFiles(N + 1)["nodevars_env.txt"])![1]);
    expect(exec("execution", "cat /ephemery/testnet/current/retention.vars")).toContain(`CHAIN_ID="${39438000 + N + 1}"`);
    // Identity and validator data kept, slashing protection of the old chain archived (not deleted).
    expect(fs.readFileSync(path.join(pv["execution-data"], "geth", "nodekey"), "utf8")).toBe(nodekey);
    expect(fs.readFileSync(path.join(pv["validator-data"], "validators", "operator-notes.txt"), "utf8")).toBe("kept\n");
    expect(fs.existsSync(path.join(pv["validator-data"], "validators", "slashing_protection.sqlite"))).toBe(false);
    const archived = path.join(pv.testnet, ".ephemery-reset", "archive", `ephemery-${N}`, "lighthouse-slashing-protection", "validators", "slashing_protection.sqlite");
    expect(fs.readFileSync(archived, "utf8")).toBe(`slashing protection of ${N}\n`);
    expect(fs.existsSync(stateFile("switch.journal"))).toBe(false);
  });

  test("a run killed mid-switch leaves the pod stopped and journalled; the next run rolls forward", async () => {
    server.publish(N + 2);
    forgetBackoff();
    const killed = runJob({ EPHEMERY_RESET_PAUSE_AT: "wiped-execution" });
    await waitFor("the run to pause after wiping the execution data", 180_000, () => jobLog(killed).includes("paused at wiped-execution") || undefined, () => jobLog(killed).slice(-2000));
    // Killed outright (SIGKILL, no grace): as a node failure or an OOM kill would.
    cluster.kubectl(["delete", "job", killed, "-n", NS, "--wait=false"]);
    cluster.kubectl(["delete", "pods", "-n", NS, "-l", `job-name=${killed}`, "--grace-period=0", "--force"]);
    await waitFor("the killed run's pod gone", 60_000, () => getJson(["get", "pods", "-n", NS, "-l", `job-name=${killed}`]).items.length === 0 || undefined);
    expect(replicas()).toBe(0);
    expect(fs.readFileSync(stateFile("switch.journal"), "utf8")).toContain("PHASE=wiped-execution");
    expect(current()).toBe(`releases/ephemery-${N + 1}`);
    // A pod scaled up by anyone now waits in its init container while the switch is journalled.
    cluster.kubectl(["scale", "statefulset", NODE, "-n", NS, "--replicas=1"]);
    await waitFor("the pod created", 60_000, () => { try { return podOf().status.initContainerStatuses?.[0]?.state?.running ? true : undefined; } catch { return undefined; } });
    await new Promise((r) => setTimeout(r, 6000));
    expect(podOf().status.phase).toBe("Pending");

    const { ok, log } = await jobResult(runJob());
    expect(log).toContain(`resuming the switch to ephemery-${N + 2} from phase wiped-execution`);
    expect(ok).toBe(true);
    const pod = await waitRunning(uid);
    uid = pod.metadata.uid;
    expect(current()).toBe(`releases/ephemery-${N + 2}`);
    expect(JSON.parse(exec("consensus", `wget -qO- --post-data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}' http://${NODE}-execution:${RPC_PORT}/`)).result).toBe(`0x${(39438000 + N + 2).toString(16)}`);
    expect(fs.readFileSync(path.join(pv["execution-data"], "geth", "nodekey"), "utf8")).toBe(nodekey);
  });

  test.each([
    ["a hostile archive (a member climbing out with ../)", () => buildArchive(releaseFiles(N + 3), { outsideFile: "escaped.txt" }), /rejected ephemery-\d+: unsafe or broken archive/],
    ["a release whose genesis_validators_root is not its genesis state's", () => buildArchive({ ...releaseFiles(N + 3), "genesis_validators_root.txt": `0x${"ee".repeat(32)}\n` }), /rejected ephemery-\d+: its files do not agree/],
  ])("%s is refused and the node stays running on N+2", async (_what, archive, refusal) => {
    server.publish(N + 3, archive());
    forgetBackoff();
    const { ok, log } = await jobResult(runJob());
    expect(ok).toBe(false);
    expect(log).toMatch(refusal);
    expect(log).not.toContain("stopping the node's pod");
    const pod = podOf();
    expect(pod.metadata.uid).toBe(uid);
    expect(pod.status.containerStatuses.map((c: { restartCount: number }) => c.restartCount)).toEqual([0, 0, 0]);
    expect(replicas()).toBe(1);
    expect(current()).toBe(`releases/ephemery-${N + 2}`);
    expect(fs.existsSync(path.join(pv.testnet, "releases", `ephemery-${N + 3}`))).toBe(false);
    expect(fs.existsSync(path.join(pv.testnet, "escaped.txt"))).toBe(false);
  });
});
