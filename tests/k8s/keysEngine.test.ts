/**
 * Validator keys on a kind kubernetes host through the program itself: `pulumi up / up` with the real Pulumi CLI
 * and command provider (scripts/toolchain.sh, tests/e2e/harness.ts's EngineStack) on the real cluster (run under
 * the machine-wide cluster lock). Real EIP-2335 keystores; the engine tier's stand-in images and the release as in
 * tests/k8s/node.test.ts.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { objectNames } from "../../lib/kubernetes/manifests";
import { EngineStack } from "../e2e/harness";
import { RPC_CGI, STANDIN } from "../e2e/standins";
import { makeKeys, TestKey, writeKeyDir } from "../keys/fixtures";
import { busyboxRootfs, dockerArchive, k8sBinDir, missingPrerequisites, TestCluster, waitFor } from "../support/kubernetes";
import { releaseFiles } from "../support/releases";

const NS = "eph-keys-engine";
const NODE = "k8sk";
const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const PASSWORD = "k8s engine keys password";
const IMAGE = "ephemery-k8s/keys-engine:1.0.0";

let cluster: TestCluster;
let stack: EngineStack;
let work: string;
let keys: TestKey[];

function hosts() {
  return [{
    name: NODE, kind: "kubernetes",
    kubernetes: { namespace: NS, storageClass: "", imagePullPolicy: "Never", testnetVolumeGiB: 1 },
    // Ports in this engineer's range (inside the pod).
    execution: { client: "geth", image: IMAGE, memoryMiB: 256, p2pPort: 32313, rpcPort: 32555, wsPort: 32556 },
    consensus: { client: "lighthouse", image: IMAGE, memoryMiB: 256, p2pPort: 32410, quicPort: 32411, beaconApiPort: 32062 },
    validator: { client: "lighthouse", image: IMAGE, memoryMiB: 256, feeRecipient: FEE, keys: { path: path.join(work, "keys"), expectedCount: 2 } },
    monitoring: { enabled: false },
  }];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const podOf = (): any => JSON.parse(cluster.kubectl(["get", "pod", `${NODE}-0`, "-n", NS, "-o", "json"]));

beforeAll(async () => {
  const missing = missingPrerequisites();
  if (missing) throw new Error(`the Kubernetes tier cannot run: ${missing}`);
  work = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-k8s-keys-engine-"));
  keys = await makeKeys(2, { kdf: "pbkdf2", password: () => PASSWORD });
  writeKeyDir(keys, path.join(work, "keys"));
  cluster = new TestCluster();
  await cluster.start();
  const rootfs = busyboxRootfs(cluster.dir, {
    "usr/local/bin/geth": { content: STANDIN, mode: 0o755 },
    "usr/local/bin/lighthouse": { content: STANDIN, mode: 0o755 },
    "www/cgi-bin/index.cgi": { content: RPC_CGI, mode: 0o755 },
  });
  cluster.importImage(dockerArchive(rootfs, `docker.io/${IMAGE}`, { Entrypoint: ["/bin/sh"] }, cluster.dir));
  const size: Record<string, number> = { testnet: 1, "execution-data": 50, "consensus-data": 100, "validator-data": 1 };
  const pv: Record<string, string> = {};
  for (const t of Object.keys(size)) pv[t] = cluster.persistentVolume(`${NS}-${t}`, { namespace: NS, name: objectNames(NODE).pvc(t) }, size[t]);
  // Stands in for the reset program's `ensure`.
  const rel = path.join(pv.testnet, "releases", "ephemery-7");
  for (const [name, content] of Object.entries(releaseFiles(7))) {
    fs.mkdirSync(path.dirname(path.join(rel, name)), { recursive: true });
    fs.writeFileSync(path.join(rel, name), content);
  }
  fs.symlinkSync("releases/ephemery-7", path.join(pv.testnet, "current"));
  process.env.PATH = `${k8sBinDir()}:${process.env.PATH}`;
  stack = await EngineStack.create("k8skeys", { stateDir: path.join(work, "state"), workDir: path.join(work, "work") });
  stack.writeConfig({ "ephemery:hosts": hosts(), "ephemery:network": { checkpointSyncUrls: [] } });
  await stack.setSecret("ephemery:kubeconfig", fs.readFileSync(cluster.kubeconfig, "utf8"));
  await stack.setSecret("ephemery:keystorePassword", PASSWORD);
}, 900_000);

afterAll(async () => {
  try { await stack?.remove(); } catch { /* best effort */ }
  if (cluster) await cluster.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 300_000);

describe("pulumi up of a kubernetes host with validator keys", () => {
  let uid = "";
  test("up: the release step runs, the VC gets the keys from the Secret; no keystore or password in state or log", async () => {
    await stack.up();
    const pod = await waitFor(`${NODE}-0 Running`, 300_000, () => {
      const p = podOf();
      return p.status.phase === "Running" && p.status.containerStatuses?.every((c: { ready: boolean }) => c.ready) ? p : undefined;
    });
    uid = pod.metadata.uid;
    const definitions = cluster.execIn(NS, `${NODE}-0`, "validator", ["cat", "/data/keys/lighthouse/validator_definitions.yml"]);
    for (const k of keys) expect(definitions).toContain(k.pubkey);
    const state = stack.stateFile();
    const cipher = JSON.parse(keys[0].json).crypto.cipher.message as string;
    for (const secret of [PASSWORD, cipher, Buffer.from(PASSWORD).toString("base64")]) {
      expect(state).not.toContain(secret);
      expect(stack.log).not.toContain(secret);
    }
    expect(state).toContain(`${NODE}-keys-release`);
    expect(JSON.parse(cluster.kubectl(["get", "statefulset", NODE, "-n", NS, "-o", "json"])).metadata.annotations["ephemery.dev/validator-pubkeys"])
      .toBe(keys.map((k) => k.pubkey).sort().join(","));
  });

  test("a second up changes nothing and leaves the pod alone", async () => {
    await stack.up();
    expect(stack.changes()).toEqual([]);
    expect(podOf().metadata.uid).toBe(uid);
  });
});
