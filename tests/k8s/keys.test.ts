/**
 * Validator keys on a real API server and kubelet (run under the machine-wide cluster lock:
 * `flock /tmp/ephemery-k8s-cluster.lock npx jest -c tests/k8s/jest.config.js tests/k8s/keys.test.ts`).
 * The keys are real EIP-2335 keystores, checked and laid out by the same code as on a host
 * (components/validatorKeys.ts checkedInstallKeys, lib/keys/layout clientLayout), rendered by lib/kubernetes and
 * applied with the component's own kubectl lines. The client images are the engine tier's stand-ins
 * (tests/e2e/standins.ts); here `lighthouse` is a wrapper that, for `slashing-protection import` only, keeps a
 * copy of the file it was given and the time in the data volume, then runs the stand-in: it stands in for
 * lighthouse's import writing its slashing-protection database (the stand-in keeps the file as its database and
 * exports it back).
 *
 * A key moving to a second cluster node in the namespace runs the real release step with its export Job, whose
 * main container (bash, curl, node from this machine: tests/support/hostBinaryImage.ts, standing in for the pinned
 * node:22-bookworm) reaches the API through the pod-network stand-in (tests/support/kubernetes.ts
 * PodNetworkStandIn: no kube-proxy here, so KUBERNETES_SERVICE_HOST/PORT name its forwarder on the bridge gateway).
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkedInstallKeys, mergeReleased } from "../../components/validatorKeys";
import { allSpecs, buildNodeSpecs } from "../../lib/clients";
import { hostSchema, HostConfig } from "../../lib/config/schema";
import { readKeySource } from "../../lib/keys/archive";
import { clientLayout } from "../../lib/keys/layout";
import { kubeconfigLine } from "../../lib/kubernetes/kubectl";
import { applyCommand, kubectlStdin } from "../support/kubectlApply";
import { IMPORTED_LIST, IMPORT_CONTAINER, INTERCHANGE_FILE } from "../../lib/kubernetes/keys";
import { releaseCommand, releaseStdin } from "../../lib/kubernetes/keyRelease";
import { keyExportChecker, keyExportNames, PUBLISH_CONTAINER, renderKeyExportManifests, renderKeyExportScript } from "../../lib/kubernetes/keyExport";
import { KubeObject, objectNames, renderNodeManifests, toYaml } from "../../lib/kubernetes/manifests";
import { RPC_CGI, STANDIN } from "../e2e/standins";
import { makeKeys, TestKey, tempDir, writeKeyDir } from "../keys/fixtures";
import { hostBinaryRootfs } from "../support/hostBinaryImage";
import { busyboxRootfs, dockerArchive, k8sBinDir, missingPrerequisites, POD_GATEWAY, PodNetworkStandIn, runAsync, TestCluster, waitFor } from "../support/kubernetes";
import { releaseFiles } from "../support/releases";

const NS = "eph-keys";
const NODE = "keys1";
const POD = `${NODE}-0`;
const JWT = "6f".repeat(32);
const PASSWORD = "k8s-tier keys test password";
const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const IMAGE = "ephemery-k8s/keys-client:1.0.0";
const RESET_IMAGE = "ephemery-k8s/keys-reset:1";
/** The second cluster node a key moves to, in the same namespace. */
const NODE2 = "keys2";
// The API forwarder on the bridge gateway, in this engineer's range.
const API_FORWARD_PORT = 38443;
const RELEASE = releaseFiles(7);
const GVR = RELEASE["genesis_validators_root.txt"].trim();

const IMPORT_RECORDER = `#!/bin/sh
case "$*" in
  *"slashing-protection import"*)
    for f; do :; done
    cp "$f" /data/standin-imported.json
    date +%s > /data/standin-imported.at ;;
esac
exec /opt/standin/lighthouse "$@"
`;

let cluster: TestCluster;
let podNetwork: PodNetworkStandIn | undefined;
let work: string;
let keys: TestKey[];
let interchange: string;
const pv: Record<string, string> = {};
const pv2: Record<string, string> = {};

/** keys1 on ports 32xxx, keys2 on 38xxx (inside the pods; hostPorts are recorded by the kubelet, not forwarded). */
function hostConfig(node = NODE, keyDir = path.join(work, "keys"), expectedCount = 2): HostConfig {
  const base = node === NODE ? 32000 : 38000;
  return hostSchema.parse({
    name: node, kind: "kubernetes",
    kubernetes: { namespace: NS, storageClass: "", imagePullPolicy: "Never", resetImage: RESET_IMAGE },
    execution: { client: "geth", image: IMAGE, memoryMiB: 256, p2pPort: base + 303, rpcPort: base + 545, wsPort: base + 546 },
    consensus: { client: "lighthouse", image: IMAGE, memoryMiB: 256, p2pPort: base + 400, quicPort: base + 401, beaconApiPort: base + 52 },
    validator: { client: "lighthouse", image: IMAGE, memoryMiB: 256, feeRecipient: FEE, keys: { path: keyDir, expectedCount } },
  });
}

async function manifests(node = NODE, keyDir?: string, expectedCount?: number, withInterchange: string | undefined = interchange) {
  const h = hostConfig(node, keyDir, expectedCount);
  const keysCfg = h.validator!.keys!;
  const checked = await checkedInstallKeys(readKeySource(keysCfg.path!), keysCfg, "test", PASSWORD, 1);
  const specs = allSpecs(buildNodeSpecs({ node, host: h, checkpointSyncUrls: [] }));
  const k = h.kubernetes!;
  return renderNodeManifests(node, specs, {
    namespace: k.namespace, storageClass: k.storageClass, p2pExposure: k.p2pExposure, imagePullPolicy: k.imagePullPolicy,
    volumeGiB: { testnet: 1, execution: 1, consensus: 1, validator: 1 }, dataDir: h.dataDir,
  }, { jwtHex: JWT, keyFiles: clientLayout("lighthouse", checked), pubkeys: checked.map((c) => c.pubkey).sort(), interchange: withInterchange });
}

/** The export objects components/kubernetesNode.ts renders for keys1, with the API forwarder standing in for kube-proxy. */
function exportObjects(sts: KubeObject): KubeObject[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const vc = (sts as any).spec.template.spec.containers.find((c: { name: string }) => c.name === "validator");
  const objects = renderKeyExportManifests(NODE, {
    namespace: NS, validatorClient: "lighthouse", validatorImage: vc.image, validatorSecurityContext: vc.securityContext,
    image: RESET_IMAGE, imagePullPolicy: "Never", activeDeadlineSec: 300, script: renderKeyExportScript(NODE, NS), checker: keyExportChecker(),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const job = objects.find((o) => o.kind === "Job") as any;
  const publish = job.spec.template.spec.containers.find((c: { name: string }) => c.name === PUBLISH_CONTAINER);
  publish.env = [{ name: "KUBERNETES_SERVICE_HOST", value: POD_GATEWAY }, { name: "KUBERNETES_SERVICE_PORT", value: String(API_FORWARD_PORT) }];
  return objects;
}

/** Asynchronously: the API forwarder runs in this process and must answer the export Job meanwhile. */
const bashAsync = (script: string, input: string) => runAsync("bash", ["-c", script], input);

/** Stands in for the reset program's `ensure`: a release under releases/, `current` pointing at it. */
function installRelease(testnetPv: string): void {
  const rel = path.join(testnetPv, "releases", "ephemery-7");
  for (const [name, content] of Object.entries(RELEASE)) {
    fs.mkdirSync(path.dirname(path.join(rel, name)), { recursive: true });
    fs.writeFileSync(path.join(rel, name), content);
  }
  fs.symlinkSync("releases/ephemery-7", path.join(testnetPv, "current"));
}

const target = () => ({ namespace: NS, node: NODE, kubectl: path.join(k8sBinDir(), "kubectl") });
const kubeconfig = () => fs.readFileSync(cluster.kubeconfig, "utf8");

function bash(script: string, input: string) {
  return spawnSync("bash", ["-c", script], { input, encoding: "utf8", timeout: 600_000 });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const getJson = (args: string[]): any => JSON.parse(cluster.kubectl([...args, "-o", "json"]));
const podOf = () => getJson(["get", "pod", POD, "-n", NS]);
const exec = (container: string, script: string) => cluster.execIn(NS, POD, container, ["/bin/sh", "-c", script]);

async function waitRunning(notUid?: string, pod = POD) {
  return waitFor(`${pod} Running`, 300_000, () => {
    const p = getJson(["get", "pod", pod, "-n", NS]);
    return p.status.phase === "Running" && p.metadata.uid !== notUid && p.status.containerStatuses?.length === 3 && p.status.containerStatuses.every((c: { ready: boolean }) => c.ready) ? p : undefined;
  }, () => cluster.kubectl(["describe", "pod", pod, "-n", NS]).slice(-2500));
}

beforeAll(async () => {
  const missing = missingPrerequisites();
  if (missing) throw new Error(`the Kubernetes tier cannot run: ${missing}`);
  work = tempDir("ephemery-k8s-keys-");
  keys = await makeKeys(2, { kdf: "pbkdf2", password: () => PASSWORD });
  writeKeyDir(keys, path.join(work, "keys"));
  interchange = JSON.stringify({
    metadata: { interchange_format_version: "5", genesis_validators_root: GVR },
    data: [{ pubkey: `0x${keys[0].pubkey}`, signed_blocks: [{ slot: "81" }], signed_attestations: [{ source_epoch: "2", target_epoch: "3" }] }],
  });
  cluster = new TestCluster();
  await cluster.start();
  podNetwork = new PodNetworkStandIn(API_FORWARD_PORT, "ephemery-k8s-keys-test");
  await podNetwork.start();
  const rootfs = busyboxRootfs(cluster.dir, {
    "usr/local/bin/geth": { content: STANDIN, mode: 0o755 },
    "opt/standin/lighthouse": { content: STANDIN, mode: 0o755 },
    "usr/local/bin/lighthouse": { content: IMPORT_RECORDER, mode: 0o755 },
    "www/cgi-bin/index.cgi": { content: RPC_CGI, mode: 0o755 },
  });
  cluster.importImage(dockerArchive(rootfs, `docker.io/${IMAGE}`, { Entrypoint: ["/bin/sh"] }, cluster.dir));
  // Node.js 22 as scripts/client-images.sh caches it from the npm registry, else the node running this test.
  const cached = path.join(process.env.PULUMI_EPHEMERY_CACHE ?? path.join(os.homedir(), ".cache", "pulumi-ephemery"), "node-22.21.1", "bin", "node");
  const resetRoot = hostBinaryRootfs(path.join(cluster.dir, "keys-reset-rootfs"), ["bash", "sh", "curl", "timeout", "date", "mktemp", "rm", "head", "tr", "cat"], { [fs.existsSync(cached) ? cached : process.execPath]: "usr/bin/node" });
  cluster.importImage(dockerArchive(resetRoot, `docker.io/${RESET_IMAGE}`, { Entrypoint: ["/usr/bin/bash"] }, cluster.dir));
  for (const t of ["testnet", "execution-data", "consensus-data", "validator-data"]) {
    pv[t] = cluster.persistentVolume(`${NS}-${t}`, { namespace: NS, name: objectNames(NODE).pvc(t) }, 1);
    pv2[t] = cluster.persistentVolume(`${NS}-${NODE2}-${t}`, { namespace: NS, name: objectNames(NODE2).pvc(t) }, 1);
  }
  installRelease(pv.testnet);
  installRelease(pv2.testnet);
}, 900_000);

afterAll(async () => {
  await podNetwork?.stop(cluster !== undefined);
  if (cluster) await cluster.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 300_000);

describe("validator keys on a kubernetes node", () => {
  let firstUid = "";

  test("apply: the interchange is imported into the VC's data volume before the VC starts", async () => {
    const m = await manifests();
    const r = bash(applyCommand(target()), kubectlStdin(kubeconfig(), [...m.objects, ...m.secrets]));
    expect([r.status, r.stderr]).toEqual([0, expect.any(String)]);
    const pod = await waitRunning();
    firstUid = pod.metadata.uid;
    const init = pod.status.initContainerStatuses.find((c: { name: string }) => c.name === IMPORT_CONTAINER);
    expect(init.state.terminated.exitCode).toBe(0);
    const vc = pod.status.containerStatuses.find((c: { name: string }) => c.name === "validator");
    expect(Date.parse(init.state.terminated.finishedAt)).toBeLessThanOrEqual(Date.parse(vc.state.running.startedAt));
    // The client's import got the file byte for byte, in the data PVC (the hostPath PV on the node) ...
    expect(fs.readFileSync(path.join(pv["validator-data"], "standin-imported.json"), "utf8")).toBe(interchange);
    // ... and the import is recorded by digest, so a restart does not import it again.
    const digest = crypto.createHash("sha256").update(interchange).digest("hex");
    expect(fs.readFileSync(path.join(pv["validator-data"], IMPORTED_LIST), "utf8")).toBe(`${digest}\n`);
    expect(exec("validator", "cat /data/keys/lighthouse/validator_definitions.yml")).toContain(keys[0].pubkey);
  });

  test("the keys Secret is mounted 0400 into the VC only; no key material in any ConfigMap, env, args or event", () => {
    const ks = `/ephemery/validator-keys/current/lighthouse/keystores/0x${keys[1].pubkey}.json`;
    expect(exec("validator", `stat -L -c %a ${ks}`).trim()).toBe("400");
    expect(exec("validator", `stat -L -c %a /ephemery/validator-keys/current/lighthouse/secrets/0x${keys[1].pubkey}`).trim()).toBe("400");
    expect(exec("validator", `cat /ephemery/validator-keys/current/${INTERCHANGE_FILE}`)).toBe(interchange);
    for (const c of ["execution", "consensus"]) expect(exec(c, "[ -e /ephemery/validator-keys ] && echo has-keys || echo no-keys").trim()).toBe("no-keys");
    const spec = podOf().spec;
    const mountsOf = (cs: { name: string; volumeMounts: { name: string }[] }[]) => cs.filter((c) => c.volumeMounts.some((v) => v.name === "validator-keys")).map((c) => c.name);
    expect(mountsOf(spec.containers)).toEqual(["validator"]);
    expect(mountsOf(spec.initContainers)).toEqual([IMPORT_CONTAINER]);
    const cipher = JSON.parse(keys[0].json).crypto.cipher.message as string;
    const everything = cluster.kubectl(["get", "configmaps,pods,statefulsets,services,persistentvolumeclaims,events", "-n", NS, "-o", "json"]);
    for (const secret of [PASSWORD, cipher, JSON.parse(keys[1].json).crypto.checksum.message]) expect(everything).not.toContain(secret);
    for (const c of ["execution", "consensus", "validator"]) expect(exec(c, "env")).not.toContain(PASSWORD);
    // The public pubkeys are on the StatefulSet, for the next release step.
    expect(getJson(["get", "statefulset", NODE, "-n", NS]).metadata.annotations["ephemery.dev/validator-pubkeys"]).toBe(keys.map((k) => k.pubkey).sort().join(","));
  });

  test("a restarted pod does not import the same interchange again", async () => {
    const at = fs.readFileSync(path.join(pv["validator-data"], "standin-imported.at"), "utf8");
    fs.rmSync(path.join(pv["validator-data"], "standin-imported.json"));
    cluster.kubectl(["delete", "pod", POD, "-n", NS, "--wait=true"]);
    await waitRunning(firstUid);
    expect(fs.existsSync(path.join(pv["validator-data"], "standin-imported.json"))).toBe(false);
    expect(fs.readFileSync(path.join(pv["validator-data"], "standin-imported.at"), "utf8")).toBe(at);
  });

  test("the release step allows keeping or removing keys without stopping the pod", async () => {
    const m = await manifests();
    const release = (keep: string[], elsewhere: string[]) => bash(releaseCommand(target(), { stopSec: 120, exportSec: 360 }, 2), releaseStdin(kubeconfigLine(kubeconfig()), keep, elsewhere, toYaml(exportObjects(m.objects.find((o) => o.kind === "StatefulSet")!))));
    const uid = podOf().metadata.uid;
    const kept = release(keys.map((k) => k.pubkey), [keys[0].pubkey]);
    expect([kept.status, kept.stdout.trim()]).toEqual([0, "released 0"]);
    const removed = release([keys[1].pubkey], []);
    expect([removed.status, removed.stdout.trim()]).toEqual([0, "released 0"]);
    expect(podOf().metadata.uid).toBe(uid);
    // The annotation is read from the cluster: anything but pubkeys stops the release (no globbing of "*").
    const annotation = "ephemery.dev/validator-pubkeys";
    const good = getJson(["get", "statefulset", NODE, "-n", NS]).metadata.annotations[annotation];
    cluster.kubectl(["annotate", "statefulset", NODE, "-n", NS, "--overwrite", `${annotation}=*`]);
    try {
      const tampered = release([], [keys[0].pubkey]);
      expect(podOf().metadata.uid).toBe(uid);
      expect([tampered.status, tampered.stderr.trim()]).toEqual([1, `the annotation ${annotation} of statefulset ${NODE} holds something other than pubkeys; restore it with pulumi up from the last good config, or remove it`]);
    } finally {
      cluster.kubectl(["annotate", "statefulset", NODE, "-n", NS, "--overwrite", `${annotation}=${good}`]);
    }
  });

  test("an interchange of another Ephemery iteration is refused and the VC does not start with it", async () => {
    const other = JSON.stringify({ metadata: { interchange_format_version: "5", genesis_validators_root: `0x${"ee".repeat(32)}` }, data: [] });
    const saved = interchange;
    interchange = other;
    try {
      const m = await manifests();
      // No rollout wait: the pod is expected not to become ready.
      const r = bash(applyCommand(target(), 5), kubectlStdin(kubeconfig(), [...m.objects, ...m.secrets]));
      expect(r.status).not.toBe(0);
      const failed = await waitFor("import refused", 180_000, () => {
        const p = podOf();
        const init = p.status.initContainerStatuses?.find((c: { name: string }) => c.name === IMPORT_CONTAINER);
        const t = init?.lastState?.terminated ?? init?.state?.terminated;
        return p.metadata.uid !== firstUid && t && t.exitCode !== 0 ? p : undefined;
      });
      expect(failed.status.containerStatuses.find((c: { name: string }) => c.name === "validator").state.running).toBeUndefined();
      const logs = spawnSync("sh", ["-c", `cat ${cluster.podLogsDir}/${NS}_${POD}_*/${IMPORT_CONTAINER}/*.log 2>/dev/null`], { encoding: "utf8" }).stdout;
      expect(logs).toContain("another Ephemery iteration); refusing to import");
    } finally {
      interchange = saved;
    }
  });

  test("a key moves to a second cluster node in one release: the source pod stopped, its PVC's export imported by the target; a refused export moves nothing", async () => {
    // keys1 running again with both keys (the previous test left it refusing another iteration's interchange).
    const before = await manifests();
    const again = bash(applyCommand(target()), kubectlStdin(kubeconfig(), [...before.objects, ...before.secrets]));
    expect([again.status, again.stderr]).toEqual([0, expect.any(String)]);
    await waitRunning();
    const releaseKeys0 = () => bashAsync(
      releaseCommand(target(), { stopSec: 120, exportSec: 360 }, 2),
      releaseStdin(kubeconfigLine(kubeconfig()), [keys[1].pubkey], [keys[0].pubkey], toYaml(exportObjects(before.objects.find((o) => o.kind === "StatefulSet")!))),
    );
    // A database the client exports as something that is no interchange: the job's check refuses it, the release
    // fails naming the job, and keys1 runs again with both keys (nothing moved); the job stays for inspection.
    fs.writeFileSync(path.join(pv["validator-data"], "standin-slashing-protection.json"), '{"not":"an interchange"}');
    const uidBefore = podOf().metadata.uid;
    const refused = await releaseKeys0();
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`the export job ${keyExportNames(NODE).job} failed, so the slashing protection was not exported`);
    expect(refused.stderr).toContain(`statefulset ${NODE} was scaled back to 1 with its keys unchanged; nothing was moved`);
    expect(refused.stdout).not.toContain("SLASHING PROTECTION");
    expect(getJson(["get", "job", keyExportNames(NODE).job, "-n", NS]).status.failed).toBe(1);
    await waitRunning(uidBefore);
    expect(getJson(["get", "statefulset", NODE, "-n", NS]).metadata.annotations["ephemery.dev/validator-pubkeys"]).toBe(keys.map((k) => k.pubkey).sort().join(","));
    expect(exec("validator", "cat /data/keys/lighthouse/validator_definitions.yml")).toContain(keys[0].pubkey);

    // Stands in for keys1's VC signing since its import: its database (in its data PVC) holds higher watermarks,
    // for the key that moves and for the one that stays.
    const db = {
      metadata: { interchange_format_version: "5", genesis_validators_root: GVR },
      data: [
        { pubkey: `0x${keys[0].pubkey}`, signed_blocks: [{ slot: "4242" }, { slot: "81" }], signed_attestations: [{ source_epoch: "130", target_epoch: "131" }] },
        { pubkey: `0x${keys[1].pubkey}`, signed_blocks: [{ slot: "17" }], signed_attestations: [] },
      ],
    };
    fs.writeFileSync(path.join(pv["validator-data"], "standin-slashing-protection.json"), JSON.stringify(db));

    // The release step of keys1 as components/kubernetesKeys.ts runs it: keys1 keeps keys[1], keys2 carries keys[0].
    // The failed run's objects are deleted first.
    const release = await releaseKeys0();
    const releasedAt = Math.floor(Date.now() / 1000);
    expect([release.status, release.stderr]).toEqual([0, expect.stringContaining(`1 validator key(s) leave kubernetes node ${NODE}`)]);
    expect(release.stdout.trim().split("\n").pop()).toBe("released 1");
    // The source pod is gone and stays gone until keys1's own apply; the export objects are deleted.
    expect(cluster.kubectl(["get", "pod", POD, "-n", NS, "--ignore-not-found", "-o", "name"]).trim()).toBe("");
    expect(getJson(["get", "statefulset", NODE, "-n", NS]).spec.replicas).toBe(0);
    const names = keyExportNames(NODE);
    await waitFor("export objects deleted", 60_000, () =>
      cluster.kubectl(["get", `job/${names.job}`, `secret/${names.secret}`, `configmap/${names.configMap}`, `role/${names.role}`, `rolebinding/${names.roleBinding}`, `serviceaccount/${names.serviceAccount}`, "-n", NS, "--ignore-not-found", "-o", "name"]).trim() === "" || undefined);

    // The program's own path: the printed block parsed and filtered to keys2's keys (components/validatorKeys.ts).
    const moved = mergeReleased([release.stdout], [keys[0].pubkey]);
    expect(moved).toEqual({ metadata: { interchange_format_version: "5", genesis_validators_root: GVR }, data: [{ pubkey: `0x${keys[0].pubkey}`, signed_blocks: [{ slot: "4242" }], signed_attestations: [{ source_epoch: "130", target_epoch: "131" }] }] });
    expect(release.stdout).not.toContain(keys[1].pubkey);

    writeKeyDir([keys[0]], path.join(work, "keys2"));
    const target2 = { namespace: NS, node: NODE2, kubectl: path.join(k8sBinDir(), "kubectl") };
    const m2 = await manifests(NODE2, path.join(work, "keys2"), 1, JSON.stringify(moved));
    const applied = bash(applyCommand(target2), kubectlStdin(kubeconfig(), [...m2.objects, ...m2.secrets]));
    expect([applied.status, applied.stderr]).toEqual([0, expect.any(String)]);
    await waitRunning(undefined, `${NODE2}-0`);
    // keys2's import got exactly the watermarks exported from keys1's PVC, after keys1's pod was gone.
    expect(JSON.parse(fs.readFileSync(path.join(pv2["validator-data"], "standin-imported.json"), "utf8"))).toEqual(moved);
    expect(Number(fs.readFileSync(path.join(pv2["validator-data"], "standin-imported.at"), "utf8"))).toBeGreaterThanOrEqual(releasedAt - 1);
    expect(cluster.execIn(NS, `${NODE2}-0`, "validator", ["/bin/sh", "-c", "cat /data/keys/lighthouse/validator_definitions.yml"])).toContain(keys[0].pubkey);

    // keys1's own apply: replicas 1 again, without the moved key; its PVC (the database) untouched by the export.
    writeKeyDir([keys[1]], path.join(work, "keys1-after"));
    const m1 = await manifests(NODE, path.join(work, "keys1-after"), 1);
    const rolled = bash(applyCommand(target()), kubectlStdin(kubeconfig(), [...m1.objects, ...m1.secrets]));
    expect([rolled.status, rolled.stderr]).toEqual([0, expect.any(String)]);
    await waitRunning();
    const definitions = exec("validator", "cat /data/keys/lighthouse/validator_definitions.yml");
    expect(definitions).toContain(keys[1].pubkey);
    expect(definitions).not.toContain(keys[0].pubkey);
    expect(JSON.parse(fs.readFileSync(path.join(pv["validator-data"], "standin-slashing-protection.json"), "utf8"))).toEqual(db);
  });
});
