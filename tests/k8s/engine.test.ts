/**
 * The program itself on the real cluster: `pulumi up / up / destroy` of a kind kubernetes host through the real
 * Pulumi CLI, command provider and Kubernetes provider plugin (scripts/toolchain.sh and scripts/k8s-provider.sh,
 * registered in .toolchain/pulumi-home; tests/e2e/harness.ts's EngineStack), kubectl from scripts/k8s-binaries.sh
 * on the engine's PATH for the node's commands. Stand-in images and the release as in node.test.ts.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LAST_APPLIED } from "../../lib/kubernetes/kubectl";
import { labelsOf, objectNames } from "../../lib/kubernetes/manifests";
import { EngineStack, toolchainEnv } from "../e2e/harness";
import { RPC_CGI, STANDIN } from "../e2e/standins";
import { busyboxRootfs, dockerArchive, k8sBinDir, missingPrerequisites, TestCluster, waitFor } from "../support/kubernetes";
import { releaseFiles } from "../support/releases";

const NS = "eph-engine";
const NODE = "k8se";
const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const image = (v: string) => `ephemery-k8s/client:${v}`;

let cluster: TestCluster;
let stack: EngineStack;
let work: string;
const pv: Record<string, string> = {};

function hostConfig(version: string, kubernetes: Record<string, unknown> = {}) {
  return [{
    name: NODE, kind: "kubernetes",
    kubernetes: { namespace: NS, storageClass: "", imagePullPolicy: "Never", testnetVolumeGiB: 1, ...kubernetes },
    execution: { client: "geth", image: image(version), memoryMiB: 256, p2pPort: 24313, rpcPort: 24555, wsPort: 24556 },
    consensus: { client: "lighthouse", image: image(version), memoryMiB: 256, p2pPort: 24910, quicPort: 24911, beaconApiPort: 24062 },
    validator: { client: "lighthouse", image: image(version), memoryMiB: 256, feeRecipient: FEE },
    monitoring: { enabled: false },
  }];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const podOf = (): any => JSON.parse(cluster.kubectl(["get", "pod", `${NODE}-0`, "-n", NS, "-o", "json"]));
const running = (version: string, notUid?: string) => waitFor(`${NODE}-0 Running on ${image(version)}`, 300_000, () => {
  const p = podOf();
  return p.status.phase === "Running" && p.metadata.uid !== notUid && p.status.containerStatuses?.every((c: { ready: boolean; image: string }) => c.ready && c.image.endsWith(image(version))) ? p : undefined;
});

beforeAll(async () => {
  const missing = missingPrerequisites();
  if (missing) throw new Error(`the Kubernetes tier cannot run: ${missing}`);
  // The SDK asks for the plugin version package.json pins; automatic plugin downloads are off in the toolchain.
  const plugin = path.join(toolchainEnv().PULUMI_HOME ?? "", "plugins", "resource-kubernetes-v4.34.2", "pulumi-resource-kubernetes");
  if (!fs.existsSync(plugin)) throw new Error(`${plugin} is missing: build and register it with: bash scripts/k8s-provider.sh`);
  cluster = new TestCluster();
  await cluster.start();
  for (const v of ["1.0.0", "1.0.1"]) {
    const rootfs = busyboxRootfs(cluster.dir, {
      "usr/local/bin/geth": { content: STANDIN, mode: 0o755 },
      "usr/local/bin/lighthouse": { content: STANDIN, mode: 0o755 },
      "www/cgi-bin/index.cgi": { content: RPC_CGI, mode: 0o755 },
      "etc/standin-version": { content: `${v}\n` },
    });
    cluster.importImage(dockerArchive(rootfs, `docker.io/${image(v)}`, { Entrypoint: ["/bin/sh"] }, cluster.dir));
  }
  // geth and lighthouse ask for 50 and 100 GiB; the PVs say what this machine can give (hostPath ignores it).
  const size: Record<string, number> = { testnet: 1, "execution-data": 50, "consensus-data": 100, "validator-data": 1 };
  for (const t of Object.keys(size)) pv[t] = cluster.persistentVolume(`${NS}-${t}`, { namespace: NS, name: objectNames(NODE).pvc(t) }, size[t]);
  // Stands in for the reset program's `ensure`.
  const rel = path.join(pv.testnet, "releases", "ephemery-7");
  for (const [name, content] of Object.entries(releaseFiles(7))) {
    fs.mkdirSync(path.dirname(path.join(rel, name)), { recursive: true });
    fs.writeFileSync(path.join(rel, name), content);
  }
  fs.symlinkSync("releases/ephemery-7", path.join(pv.testnet, "current"));
  // kubectl for the program's command resources: on the engine's PATH (toolchainEnv starts from ours).
  process.env.PATH = `${k8sBinDir()}:${process.env.PATH}`;
  work = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-k8s-engine-"));
  stack = await EngineStack.create("k8s", { stateDir: path.join(work, "state"), workDir: path.join(work, "work") });
  stack.writeConfig({ "ephemery:hosts": hostConfig("1.0.0"), "ephemery:network": { checkpointSyncUrls: [] } });
  await stack.setSecret("ephemery:kubeconfig", fs.readFileSync(cluster.kubeconfig, "utf8"));
}, 900_000);

afterAll(async () => {
  try { await stack?.remove(); } catch { /* best effort */ }
  if (cluster) await cluster.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 300_000);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const pvcUids = (): Record<string, string> => Object.fromEntries(JSON.parse(cluster.kubectl(["get", "pvc", "-n", NS, "-o", "json"])).items.map((c: any) => [c.metadata.name, c.metadata.uid]));

describe("pulumi up of a kind kubernetes host on a real cluster", () => {
  let uid = "";
  test("up: one typed resource per object, the pod runs; the state holds neither the kubeconfig nor the JWT in plain text", async () => {
    // The JWT Secret as an earlier `kubectl apply` of the node left it (client-side: its data in last-applied);
    // the provider's forced server-side apply takes it over and the namespace command strips that annotation.
    cluster.kubectl(["create", "namespace", NS]);
    cluster.kubectl(["apply", "-f", "-"], JSON.stringify({
      apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: `${NODE}-jwt`, namespace: NS, labels: labelsOf(NODE) },
      data: { "jwt.hex": Buffer.from("00".repeat(32)).toString("base64") },
    }));
    await stack.up();
    uid = (await running("1.0.0")).metadata.uid;
    const secret = JSON.parse(cluster.kubectl(["get", "secret", `${NODE}-jwt`, "-n", NS, "-o", "json"]));
    const jwt = Buffer.from(secret.data["jwt.hex"], "base64").toString();
    expect(jwt).toMatch(/^[0-9a-f]{64}$/);
    expect(jwt).not.toBe("00".repeat(32));
    expect(secret.metadata.annotations?.[LAST_APPLIED]).toBeUndefined();
    const created = stack.changes();
    for (const r of [`create ${NODE}-statefulset-${NODE}`, `create ${NODE}-secret-${NODE}-jwt`, `create ${NODE}-service-${NODE}`, `create ${NODE}-cronjob-${NODE}-reset`, `create ${NODE}-configmap-${NODE}-reset`, `create ${NODE}-namespace`, `create ${NODE}-rollout`]) {
      expect(created).toContain(r);
    }
    const state = stack.stateFile();
    const kubeconfig = fs.readFileSync(cluster.kubeconfig, "utf8");
    expect(state).not.toContain(jwt);
    expect(state).not.toContain(Buffer.from(jwt).toString("base64"));
    expect(state).not.toContain(JSON.parse(kubeconfig).users[0].user["client-key-data"]);
    expect(state).not.toContain(Buffer.from(kubeconfig).toString("base64").slice(0, 40));
    expect(stack.log).not.toContain(jwt);
  });

  test("a second up changes nothing and leaves the pod alone", async () => {
    await stack.up();
    expect(stack.changes()).toEqual([]);
    expect(podOf().metadata.uid).toBe(uid);
  });

  test("an image change is an update of the StatefulSet (and the reset's program, which names the images), waited for by the rollout step, and rolls the pod", async () => {
    stack.writeConfig({ "ephemery:hosts": hostConfig("1.0.1") });
    await stack.up();
    expect(stack.changes()).toEqual([`update ${NODE}-configmap-${NODE}-reset`, `update ${NODE}-rollout`, `update ${NODE}-statefulset-${NODE}`]);
    // The rollout step waited: the new pod is already there when up returns.
    const p = podOf();
    expect(p.metadata.uid).not.toBe(uid);
    uid = (await running("1.0.1", uid)).metadata.uid;
  });

  test("a claim template change replaces the StatefulSet (the old pod gone first) and keeps every PVC, even with retainDataOnDestroy false", async () => {
    const before = pvcUids();
    const key = fs.readFileSync(path.join(pv["execution-data"], "geth", "nodekey"), "utf8");
    stack.writeConfig({ "ephemery:hosts": hostConfig("1.0.1", { retainDataOnDestroy: false, testnetVolumeGiB: 2 }) });
    await stack.up();
    const sts = `${NODE}-statefulset-${NODE}`;
    const ops = stack.steps.filter((s) => s.urn.endsWith(`::${sts}`)).map((s) => s.op);
    // Delete before create: one name, and the provider's delete waits for the pod to be gone.
    expect(ops.indexOf("delete-replaced")).toBeGreaterThanOrEqual(0);
    expect(ops.indexOf("delete-replaced")).toBeLessThan(ops.indexOf("create-replacement"));
    expect(stack.changes()).toContain(`update ${NODE}-data`);
    await running("1.0.1", uid);
    expect(pvcUids()).toEqual(before);
    expect(fs.readFileSync(path.join(pv["execution-data"], "geth", "nodekey"), "utf8")).toBe(key);
  });

  test("destroy removes the workload and keeps the data PVCs", async () => {
    // retainDataOnDestroy back on (the default): an update of the data step, nothing deleted.
    stack.writeConfig({ "ephemery:hosts": hostConfig("1.0.1", { testnetVolumeGiB: 2 }) });
    await stack.up();
    expect(stack.changes()).toEqual([`update ${NODE}-data`]);
    await stack.destroy();
    await waitFor("pod gone", 120_000, () => cluster.kubectl(["get", "pods", "-n", NS, "-o", "name"]).trim() === "" || undefined);
    expect(cluster.kubectl(["get", "statefulsets,secrets,configmaps,services,cronjobs,serviceaccounts,roles,rolebindings", "-n", NS, "-l", `app.kubernetes.io/instance=${NODE}`, "-o", "name"]).trim()).toBe("");
    const pvcs = JSON.parse(cluster.kubectl(["get", "pvc", "-n", NS, "-o", "json"])).items.map((c: { metadata: { name: string } }) => c.metadata.name).sort();
    expect(pvcs).toEqual([`consensus-data-${NODE}-0`, `execution-data-${NODE}-0`, `testnet-${NODE}-0`, `validator-data-${NODE}-0`]);
    expect(fs.readFileSync(path.join(pv["execution-data"], "geth", "nodekey"), "utf8")).toMatch(/^[0-9a-f]{64}$/);
    // The namespace stays: it may hold other nodes.
    expect(cluster.kubectl(["get", "namespace", NS, "-o", "name"]).trim()).toBe(`namespace/${NS}`);
  });
});
