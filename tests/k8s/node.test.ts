/**
 * One node rendered by lib/kubernetes, applied and deleted with kubectl (tests/support/kubectlApply.ts; the program
 * creates the same objects as typed @pulumi/kubernetes resources, tests/k8s/engine.test.ts), on a real API server
 * and kubelet. The client images are the engine tier's
 * stand-ins (tests/e2e/standins.ts: a busybox script that runs the entry commands lib/clients generates, keeps a
 * node key in its data volume and answers the RPC / beacon API), imported into containerd; the testnet release
 * is written into the testnet volume by the test, standing in for the reset program's `ensure`.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { allSpecs, buildNodeSpecs } from "../../lib/clients";
import { hostSchema, HostConfig } from "../../lib/config/schema";
import { clientLayout } from "../../lib/keys/layout";
import { applyCommand, deleteCommand, kubectlStdin } from "../support/kubectlApply";
import { objectNames, renderNodeManifests, toYaml } from "../../lib/kubernetes/manifests";
import { RPC_CGI, STANDIN } from "../e2e/standins";
import { busyboxRootfs, dockerArchive, k8sBinDir, missingPrerequisites, TestCluster, waitFor } from "../support/kubernetes";
import { releaseFiles } from "../support/releases";

const NS = "eph-k8s";
const NODE = "k8s1";
const POD = `${NODE}-0`;
const JWT = "5e".repeat(32);
const PASSWORD = "k8s-tier keystore password";
const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const HOSTILE = ["--x=$(HOSTNAME)", "--y=$$", "--z=$(PATH)'\"; touch /tmp/pwned"];
const image = (v: string) => `ephemery-k8s/client:${v}`;

let cluster: TestCluster;
const pv: Record<string, string> = {};

function hostConfig(version: string): HostConfig {
  return hostSchema.parse({
    name: NODE, kind: "kubernetes",
    kubernetes: { namespace: NS, storageClass: "", imagePullPolicy: "Never", retainDataOnDestroy: true },
    // Ports in this machine's test range; hostPorts are recorded by the kubelet, not forwarded (no portmap here).
    execution: { client: "geth", image: image(version), memoryMiB: 256, p2pPort: 24303, rpcPort: 24545, wsPort: 24546, extraArgs: HOSTILE },
    consensus: { client: "lighthouse", image: image(version), memoryMiB: 256, p2pPort: 24900, quicPort: 24901, beaconApiPort: 24052 },
    validator: { client: "lighthouse", image: image(version), memoryMiB: 256, feeRecipient: FEE },
  });
}

function manifests(version: string) {
  const h = hostConfig(version);
  const specs = allSpecs(buildNodeSpecs({ node: NODE, host: h, checkpointSyncUrls: [] }));
  // A keystore-shaped stand-in: the stand-in validator never decrypts it.
  const keyFiles = clientLayout("lighthouse", [{ pubkey: "a1".repeat(48), keystore: JSON.stringify({ pubkey: "a1".repeat(48), crypto: {}, version: 4 }), password: PASSWORD }]);
  const k = h.kubernetes!;
  return renderNodeManifests(NODE, specs, {
    namespace: k.namespace, storageClass: k.storageClass, p2pExposure: k.p2pExposure, imagePullPolicy: k.imagePullPolicy,
    volumeGiB: { testnet: 1, execution: 1, consensus: 1, validator: 1 }, dataDir: h.dataDir,
  }, { jwtHex: JWT, keyFiles });
}

const target = () => ({ namespace: NS, node: NODE, kubectl: path.join(k8sBinDir(), "kubectl") });

/** Runs the component's command line as @pulumi/command would: bash -c, the secrets on stdin. */
function run(script: string, version: string): string {
  const m = manifests(version);
  const r = spawnSync("bash", ["-c", script], { input: kubectlStdin(fs.readFileSync(cluster.kubeconfig, "utf8"), [...m.objects, ...m.secrets]), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kubectl line failed (${r.status}):\n${r.stderr}\n${r.stdout}\n${cluster.kubectl(["describe", "pod", "-n", NS]).slice(-3000)}`);
  return r.stdout;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const getJson = (args: string[]): any => JSON.parse(cluster.kubectl([...args, "-o", "json"]));
const podOf = () => getJson(["get", "pod", POD, "-n", NS]);
const exec = (container: string, script: string) => cluster.execIn(NS, POD, container, ["/bin/sh", "-c", script]);

async function waitRunning(version: string, notUid?: string) {
  return waitFor(`${POD} Running on ${image(version)}`, 300_000, () => {
    const p = podOf();
    const ok = p.status.phase === "Running" && p.metadata.uid !== notUid
      && p.status.containerStatuses?.length === 3 && p.status.containerStatuses.every((c: { ready: boolean; image: string }) => c.ready && c.image.endsWith(image(version)));
    return ok ? p : undefined;
  }, () => cluster.kubectl(["describe", "pod", POD, "-n", NS]).slice(-2500));
}

beforeAll(async () => {
  const missing = missingPrerequisites();
  if (missing) throw new Error(`the Kubernetes tier cannot run: ${missing}`);
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
  // No provisioner here: one hostPath PV per claim the StatefulSet will make, pre-bound to it.
  for (const t of ["testnet", "execution-data", "consensus-data", "validator-data"]) {
    pv[t] = cluster.persistentVolume(`${NS}-${t}`, { namespace: NS, name: objectNames(NODE).pvc(t) }, 1);
  }
  // Stands in for the reset program's `ensure`: a release under releases/, `current` pointing at it.
  const files = releaseFiles(7);
  const rel = path.join(pv.testnet, "releases", "ephemery-7");
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(rel, name)), { recursive: true });
    fs.writeFileSync(path.join(rel, name), content);
  }
  fs.symlinkSync("releases/ephemery-7", path.join(pv.testnet, "current"));
}, 900_000);

afterAll(async () => {
  if (cluster) await cluster.stop();
}, 300_000);

describe("a node on a real Kubernetes API server and kubelet", () => {
  let firstUid = "";
  let nodekey = "";

  test("apply: the pod runs its three clients with the secrets as 0400 files, the testnet read-only, the specs' names on loopback", async () => {
    const out = run(applyCommand(target()), "1.0.0");
    expect(out).toMatch(/statefulset.apps\/k8s1 created/);
    expect(out).toMatch(/secret\/k8s1-jwt created/);
    const pod = await waitRunning("1.0.0");
    firstUid = pod.metadata.uid;

    // Secrets as files, mode 0400, only where the spec mounts them.
    expect(exec("execution", "stat -L -c %a /ephemery/jwt/jwt.hex && cat /ephemery/jwt/jwt.hex").split("\n").slice(0, 2)).toEqual(["400", JWT]);
    expect(exec("consensus", "cat /ephemery/jwt/jwt.hex")).toBe(JWT);
    expect(exec("validator", "[ -e /ephemery/jwt ] && echo has-jwt || echo no-jwt").trim()).toBe("no-jwt");
    const keyMode = exec("validator", "stat -L -c %a /ephemery/validator-keys/current/lighthouse/validator_definitions.yml").trim();
    expect(keyMode).toBe("400");
    expect(exec("validator", "cat /data/keys/lighthouse/validator_definitions.yml")).toContain("a1a1a1");
    // The testnet volume is read-only to the clients, their data volumes are not.
    expect(exec("execution", "touch /ephemery/testnet/x 2>&1 && echo wrote || echo refused").trim()).toMatch(/refused$/);
    expect(exec("execution", "touch /data/x && echo wrote").trim()).toBe("wrote");
    // No secret in any container's environment.
    for (const c of ["execution", "consensus", "validator"]) expect(exec(c, "env")).not.toContain(JWT);

    // The hostile extra args reached geth as written: Kubernetes' $(VAR) expansion did not touch them.
    const argv = exec("execution", "cat /tmp/argv");
    for (const a of HOSTILE) expect(argv).toContain(a);
    expect(exec("execution", "[ -e /tmp/pwned ] && echo pwned || echo clean").trim()).toBe("clean");

    // The specs' container names resolve inside the pod (hostAliases): the CL and VC reach the EL and CL by them.
    const chainId = exec("consensus", `wget -qO- --post-data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}' http://${NODE}-execution:24545/`);
    expect(JSON.parse(chainId).result).toBe(`0x${(39438000 + 7).toString(16)}`);
    const genesis = JSON.parse(exec("validator", `wget -qO- http://${NODE}-consensus:24052/eth/v1/beacon/genesis`));
    expect(genesis.data.genesis_time).toBe(releaseFiles(7)["nodevars_env.txt"].toString().match(/GENESIS_TIME="(\d+)"/)![1]);

    // Node identity lives in the data volume (the PV's directory on the node).
    nodekey = fs.readFileSync(path.join(pv["execution-data"], "geth", "nodekey"), "utf8");
    expect(nodekey).toMatch(/^[0-9a-f]{64}$/);
  });

  test("the objects: p2p on hostPorts only, no secret outside a Secret, PVCs bound to the node's volumes", () => {
    const pod = podOf();
    const hostPorts = pod.spec.containers.flatMap((c: { ports: { hostPort?: number; protocol: string }[] }) => c.ports.filter((p) => p.hostPort).map((p) => `${p.protocol}/${p.hostPort}`));
    expect(hostPorts.sort()).toEqual(["TCP/24303", "TCP/24900", "UDP/24303", "UDP/24900", "UDP/24901"]);
    expect(pod.status.podIP).toMatch(/^10\.247\.24\./);
    const everything = cluster.kubectl(["get", "configmaps,pods,statefulsets,services,persistentvolumeclaims,events", "-n", NS, "-o", "json"]);
    expect(everything).not.toContain(JWT);
    expect(everything).not.toContain(PASSWORD);
    const secret = getJson(["get", "secret", `${NODE}-jwt`, "-n", NS]);
    expect(Buffer.from(secret.data["jwt.hex"], "base64").toString()).toBe(JWT);
    const pvcs = getJson(["get", "pvc", "-n", NS]).items.map((c: { metadata: { name: string }; status: { phase: string } }) => `${c.metadata.name}:${c.status.phase}`);
    expect(pvcs.sort()).toEqual(["consensus-data-k8s1-0:Bound", "execution-data-k8s1-0:Bound", "testnet-k8s1-0:Bound", "validator-data-k8s1-0:Bound"]);
  });

  test("a second apply of the same config changes nothing", async () => {
    const gen = getJson(["get", "statefulset", NODE, "-n", NS]).metadata.generation;
    const m = manifests("1.0.0");
    const diff = spawnSync(path.join(k8sBinDir(), "kubectl"), [`--kubeconfig=${cluster.kubeconfig}`, "diff", "-f", "-"], { input: toYaml([...m.objects, ...m.secrets]), encoding: "utf8" });
    expect(`${diff.stdout}${diff.stderr}`).toBe("");
    const out = run(applyCommand(target()), "1.0.0");
    const lines = out.split("\n").filter((l) => / (unchanged|configured|created|pruned)$/.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.filter((l) => !l.endsWith(" unchanged"))).toEqual([]);
    await new Promise((r) => setTimeout(r, 3000));
    const pod = podOf();
    expect(pod.metadata.uid).toBe(firstUid);
    expect(pod.status.containerStatuses.map((c: { restartCount: number }) => c.restartCount)).toEqual([0, 0, 0]);
    expect(getJson(["get", "statefulset", NODE, "-n", NS]).metadata.generation).toBe(gen);
  });

  test("an image change rolls the pod onto the new image and keeps the node's identity", async () => {
    const out = run(applyCommand(target()), "1.0.1");
    expect(out).toMatch(/statefulset.apps\/k8s1 configured/);
    const pod = await waitRunning("1.0.1", firstUid);
    expect(exec("execution", "cat /etc/standin-version").trim()).toBe("1.0.1");
    expect(fs.readFileSync(path.join(pv["execution-data"], "geth", "nodekey"), "utf8")).toBe(nodekey);
    expect(pod.metadata.uid).not.toBe(firstUid);
  });

  test("destroy removes the workload, Services and Secrets and leaves the identity PVCs and their data", async () => {
    run(deleteCommand(target()), "1.0.1");
    await waitFor("pod gone", 120_000, () => cluster.kubectl(["get", "pods", "-n", NS, "-o", "name"]).trim() === "" || undefined);
    expect(cluster.kubectl(["get", "statefulsets,services,secrets", "-n", NS, "-l", "app.kubernetes.io/instance=k8s1", "-o", "name"]).trim()).toBe("");
    const pvcs = getJson(["get", "pvc", "-n", NS]).items.map((c: { metadata: { name: string }; status: { phase: string } }) => `${c.metadata.name}:${c.status.phase}`);
    expect(pvcs.sort()).toEqual(["consensus-data-k8s1-0:Bound", "execution-data-k8s1-0:Bound", "testnet-k8s1-0:Bound", "validator-data-k8s1-0:Bound"]);
    expect(fs.readFileSync(path.join(pv["execution-data"], "geth", "nodekey"), "utf8")).toBe(nodekey);
  });

  test("deploying again after destroy picks the kept volumes up: same node key", async () => {
    run(applyCommand(target()), "1.0.1");
    await waitRunning("1.0.1");
    expect(exec("execution", "cat /data/geth/nodekey")).toBe(nodekey);
  });
});
