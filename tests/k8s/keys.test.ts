/**
 * Validator keys on a real API server and kubelet (run under the machine-wide cluster lock:
 * `flock /tmp/ephemery-k8s-cluster.lock npx jest -c tests/k8s/jest.config.js tests/k8s/keys.test.ts`).
 * The keys are real EIP-2335 keystores, checked and laid out by the same code as on a host
 * (components/validatorKeys.ts checkedInstallKeys, lib/keys/layout clientLayout), rendered by lib/kubernetes and
 * applied with the component's own kubectl lines. The client images are the engine tier's stand-ins
 * (tests/e2e/standins.ts); here `lighthouse` is a wrapper that, for `slashing-protection import` only, keeps a
 * copy of the file it was given and the time in the data volume, then runs the stand-in: it stands in for
 * lighthouse's import writing its slashing-protection database.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { checkedInstallKeys } from "../../components/validatorKeys";
import { allSpecs, buildNodeSpecs } from "../../lib/clients";
import { hostSchema, HostConfig } from "../../lib/config/schema";
import { readKeySource } from "../../lib/keys/archive";
import { clientLayout } from "../../lib/keys/layout";
import { applyCommand, kubeconfigLine, kubectlStdin } from "../../lib/kubernetes/kubectl";
import { IMPORTED_LIST, IMPORT_CONTAINER, INTERCHANGE_FILE } from "../../lib/kubernetes/keys";
import { releaseCommand, releaseStdin } from "../../lib/kubernetes/keyRelease";
import { objectNames, renderNodeManifests } from "../../lib/kubernetes/manifests";
import { RPC_CGI, STANDIN } from "../e2e/standins";
import { makeKeys, TestKey, tempDir, writeKeyDir } from "../keys/fixtures";
import { busyboxRootfs, dockerArchive, k8sBinDir, missingPrerequisites, TestCluster, waitFor } from "../support/kubernetes";
import { releaseFiles } from "../support/releases";

const NS = "eph-keys";
const NODE = "keys1";
const POD = `${NODE}-0`;
const JWT = "6f".repeat(32);
const PASSWORD = "k8s-tier keys test password";
const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const IMAGE = "ephemery-k8s/keys-client:1.0.0";
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
let work: string;
let keys: TestKey[];
let interchange: string;
const pv: Record<string, string> = {};

function hostConfig(): HostConfig {
  return hostSchema.parse({
    name: NODE, kind: "kubernetes",
    kubernetes: { namespace: NS, storageClass: "", imagePullPolicy: "Never" },
    // Ports in this engineer's range (inside the pod; hostPorts are recorded by the kubelet, not forwarded).
    execution: { client: "geth", image: IMAGE, memoryMiB: 256, p2pPort: 32303, rpcPort: 32545, wsPort: 32546 },
    consensus: { client: "lighthouse", image: IMAGE, memoryMiB: 256, p2pPort: 32400, quicPort: 32401, beaconApiPort: 32052 },
    validator: { client: "lighthouse", image: IMAGE, memoryMiB: 256, feeRecipient: FEE, keys: { path: path.join(work, "keys"), expectedCount: 2 } },
  });
}

async function manifests() {
  const h = hostConfig();
  const keysCfg = h.validator!.keys!;
  const checked = await checkedInstallKeys(readKeySource(keysCfg.path!), keysCfg, "test", PASSWORD, 1);
  const specs = allSpecs(buildNodeSpecs({ node: NODE, host: h, checkpointSyncUrls: [] }));
  const k = h.kubernetes!;
  return renderNodeManifests(NODE, specs, {
    namespace: k.namespace, storageClass: k.storageClass, p2pExposure: k.p2pExposure, imagePullPolicy: k.imagePullPolicy,
    retainDataOnDestroy: true, volumeGiB: { testnet: 1, execution: 1, consensus: 1, validator: 1 }, dataDir: h.dataDir,
  }, { jwtHex: JWT, keyFiles: clientLayout("lighthouse", checked), pubkeys: checked.map((c) => c.pubkey).sort(), interchange });
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

async function waitRunning(notUid?: string) {
  return waitFor(`${POD} Running`, 300_000, () => {
    const p = podOf();
    return p.status.phase === "Running" && p.metadata.uid !== notUid && p.status.containerStatuses?.length === 3 && p.status.containerStatuses.every((c: { ready: boolean }) => c.ready) ? p : undefined;
  }, () => cluster.kubectl(["describe", "pod", POD, "-n", NS]).slice(-2500));
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
  const rootfs = busyboxRootfs(cluster.dir, {
    "usr/local/bin/geth": { content: STANDIN, mode: 0o755 },
    "opt/standin/lighthouse": { content: STANDIN, mode: 0o755 },
    "usr/local/bin/lighthouse": { content: IMPORT_RECORDER, mode: 0o755 },
    "www/cgi-bin/index.cgi": { content: RPC_CGI, mode: 0o755 },
  });
  cluster.importImage(dockerArchive(rootfs, `docker.io/${IMAGE}`, { Entrypoint: ["/bin/sh"] }, cluster.dir));
  for (const t of ["testnet", "execution-data", "consensus-data", "validator-data"]) {
    pv[t] = cluster.persistentVolume(`${NS}-${t}`, { namespace: NS, name: objectNames(NODE).pvc(t) }, 1);
  }
  // Stands in for the reset program's `ensure`: a release under releases/, `current` pointing at it.
  const rel = path.join(pv.testnet, "releases", "ephemery-7");
  for (const [name, content] of Object.entries(RELEASE)) {
    fs.mkdirSync(path.dirname(path.join(rel, name)), { recursive: true });
    fs.writeFileSync(path.join(rel, name), content);
  }
  fs.symlinkSync("releases/ephemery-7", path.join(pv.testnet, "current"));
}, 900_000);

afterAll(async () => {
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

  test("the release step refuses keys leaving the cluster node for another node, and allows keeping or removing them", () => {
    const release = (keep: string[], elsewhere: string[]) => bash(releaseCommand(target(), 2), releaseStdin(kubeconfigLine(kubeconfig()), keep, elsewhere));
    const kept = release(keys.map((k) => k.pubkey), [keys[0].pubkey]);
    expect([kept.status, kept.stdout.trim()]).toEqual([0, "released 0"]);
    const removed = release([keys[1].pubkey], []);
    expect([removed.status, removed.stdout.trim()]).toEqual([0, "released 0"]);
    const moved = release([keys[1].pubkey], [keys[0].pubkey]);
    expect(moved.status).toBe(1);
    expect(moved.stderr).toContain(`validator key(s) 0x${keys[0].pubkey} leave kubernetes node ${NODE} for another node`);
    expect(moved.stderr).toMatch(/Move them in two steps: \(1\).*\(2\) export/);
    expect(moved.stderr).not.toContain(keys[1].pubkey);
    // The annotation is read from the cluster: anything but pubkeys stops the release (no globbing of "*").
    const annotation = "ephemery.dev/validator-pubkeys";
    const good = getJson(["get", "statefulset", NODE, "-n", NS]).metadata.annotations[annotation];
    cluster.kubectl(["annotate", "statefulset", NODE, "-n", NS, "--overwrite", `${annotation}=*`]);
    try {
      const tampered = release([], [keys[0].pubkey]);
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
});
