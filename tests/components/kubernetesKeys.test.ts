/**
 * Validator keys on a kind kubernetes host, through the real program (index.ts) under mocks: the same key checks
 * as a host's, the keys only in the keys Secret's data (a secret input), and the key-move ordering shared with SSH hosts.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { loadStackConfig } from "../../lib/config/load";
import { kubeObject, named, RecordedResource, runProgram } from "../support/mocks";
import { makeKeys, TestKey, tempDir, writeKeyDir } from "../keys/fixtures";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const PASSWORD = "k8s keys component password";
const KUBECONFIG = "apiVersion: v1\nkind: Config\ncurrent-context: c\nusers: [{name: u, user: {token: k8s-keys-token}}]\n";
const GVR = `0x${"cd".repeat(32)}`;
const SECRETS = ["ephemery:sshPrivateKey", "ephemery:keystorePassword", "ephemery:kubeconfig"];

let work: string;
let keys: TestKey[];
let dirSsh: string;
let dirK8s: string;

beforeAll(async () => {
  work = tempDir("ephemery-k8s-keys-");
  keys = await makeKeys(3, { kdf: "pbkdf2", password: () => PASSWORD });
  dirSsh = writeKeyDir(keys.slice(0, 1), path.join(work, "ssh"));
  dirK8s = writeKeyDir(keys.slice(1), path.join(work, "k8s"));
  fs.writeFileSync(path.join(dirK8s, "slashing_protection.json"), JSON.stringify({
    metadata: { interchange_format_version: "5", genesis_validators_root: GVR },
    data: [{ pubkey: `0x${keys[1].pubkey}`, signed_blocks: [{ slot: "40" }], signed_attestations: [] }],
  }));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const sshHost = (keysCfg: Record<string, unknown>) => ({ name: "alpha", address: "192.0.2.10", validator: { feeRecipient: FEE, keys: keysCfg } });
const k8sHost = (keysCfg: Record<string, unknown>, name = "k1") => ({
  name, kind: "kubernetes", kubernetes: { namespace: "eph" }, validator: { feeRecipient: FEE, keys: keysCfg },
});
const config = (hosts: unknown[]) => ({
  "ephemery:hosts": hosts, "ephemery:keystorePassword": PASSWORD, "ephemery:kubeconfig": KUBECONFIG,
  "ephemery:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nstand-in, never used under mocks\n-----END OPENSSH PRIVATE KEY-----\n",
});

async function registered(resources: RecordedResource[], name: string): Promise<void> {
  for (let i = 0; i < 300 && !resources.some((r) => r.name === name); i++) await new Promise((r) => setTimeout(r, 100));
}
const secretFiles = (resources: RecordedResource[], node: string): Record<string, string> => {
  const secret = kubeObject(resources, node, "Secret", `${node}-validator-keys`);
  const items: { key: string; path: string }[] = kubeObject(resources, node, "StatefulSet", node).spec.template.spec.volumes.find((v: { name: string }) => v.name === "validator-keys").secret.items;
  return Object.fromEntries(items.map((i) => [i.path, Buffer.from(secret.data[i.key], "base64").toString()]));
};

describe("an SSH host and a kubernetes host with keys", () => {
  let resources: RecordedResource[];
  beforeAll(async () => {
    ({ resources } = await runProgram(config([sshHost({ path: dirSsh }), k8sHost({ path: dirK8s, expectedCount: 2 })]), { secretKeys: SECRETS }));
    await registered(resources, "k1-rollout");
    await registered(resources, "alpha-keys-install");
  }, 60_000);

  test("the kubernetes node's keys carry the facts the keys policies read, with replicas from the rendered StatefulSet", () => {
    expect(named(resources, "k1-keys")).toMatchObject({
      type: "ephemery:kubernetes:ValidatorKeys",
      inputs: { node: "k1", pubkeys: keys.slice(1).map((k) => k.pubkey).sort(), doppelganger: true, moveWaitEpochs: 2, validatorClient: "lighthouse", replicas: 1, workload: "statefulset/eph/k1" },
    });
  });

  test("keystores, passwords and the source's interchange go into the keys Secret's data, a secret input", () => {
    expect(named(resources, "k1-secret-k1-validator-keys").secretInputs).toContain("data");
    // The pod template from the real key set (file names, digest) stays plain: the plan shows its diff.
    expect(named(resources, "k1-statefulset-k1").secretInputs).toEqual([]);
    const files = secretFiles(resources, "k1");
    expect(files[`current/lighthouse/keystores/0x${keys[1].pubkey}.json`]).toBe(keys[1].json);
    expect(files[`current/lighthouse/secrets/0x${keys[2].pubkey}`]).toBe(PASSWORD);
    const sp = JSON.parse(files["current/slashing-protection.json"]);
    expect(sp.metadata.genesis_validators_root).toBe(GVR);
    expect(sp.data.map((d: { pubkey: string }) => d.pubkey)).toEqual([`0x${keys[1].pubkey}`]);
    // No wait: nothing moved in from another node.
    expect(named(resources, "k1-keys-wait").inputs.create).not.toMatch(/sleep/);
    const sts = kubeObject(resources, "k1", "StatefulSet", "k1");
    expect(sts.spec.template.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(["wait-release", "import-slashing-protection"]);
    expect(sts.metadata.annotations["ephemery.dev/validator-pubkeys"]).toBe(keys.slice(1).map((k) => k.pubkey).sort().join(","));
  });

  test("ordering: every node's release runs before the kubernetes node's keys wait (the StatefulSet and keys Secret after it) and the host's install", () => {
    expect(named(resources, "k1-keys-wait").dependsOn).toEqual(expect.arrayContaining(["alpha-keys-release", "k1-keys-release"]));
    for (const name of ["k1-statefulset-k1", "k1-secret-k1-validator-keys"]) expect(named(resources, name).dependsOn).toContain("k1-keys-wait");
    // The host's install waits for every release through the one barrier (components/validatorKeys.ts).
    expect(named(resources, "alpha-keys-install").dependsOn).toContain("key-moves-released");
    expect(named(resources, "key-moves-released").dependsOn).toEqual(expect.arrayContaining(["alpha-keys-release", "k1-keys-release"]));
  });

  test("the kubernetes release knows the keys it keeps and the keys other nodes carry, in secret stdin", () => {
    const release = named(resources, "k1-keys-release");
    expect(release.secretInputs).toContain("stdin");
    const [kc, keep, elsewhere] = (release.inputs.stdin as string).split("\n");
    expect(Buffer.from(kc, "base64").toString()).toBe(KUBECONFIG);
    expect(keep.split(",")).toEqual(keys.slice(1).map((k) => k.pubkey).sort());
    expect(elsewhere).toBe(keys[0].pubkey);
    expect(release.inputs.create).toContain("get statefulset 'k1' -n 'eph'");
  });

  test("no password, keystore or kubeconfig in any plain input", () => {
    const cipher = JSON.parse(keys[1].json).crypto.cipher.message as string;
    for (const r of resources) {
      const plain = JSON.stringify(Object.fromEntries(Object.entries(r.inputs).filter(([k]) => !r.secretInputs.includes(k))));
      expect([r.name, plain.includes(PASSWORD) || plain.includes(cipher) || plain.includes("k8s-keys-token")]).toEqual([r.name, false]);
    }
  });
});

describe("a key moving from an SSH host into the cluster in one up", () => {
  test("the host's exported slashing protection reaches the Secret, and the keys wait sleeps moveWaitEpochs first", async () => {
    // Stands in for alpha's `ephemery-keys release` printing the export of the key that leaves it.
    const exported = { metadata: { interchange_format_version: "5", genesis_validators_root: GVR }, data: [{ pubkey: `0x${keys[0].pubkey}`, signed_blocks: [{ slot: "99" }], signed_attestations: [{ source_epoch: "3", target_epoch: "4" }] }] };
    const stdoutOf = (name: string) => (name === "alpha-keys-release" ? `-----BEGIN SLASHING PROTECTION-----\n${JSON.stringify(exported)}\n-----END SLASHING PROTECTION-----\nreleased 1\n` : undefined);
    const moved = writeKeyDir([keys[0]], path.join(work, "moved"));
    const { resources } = await runProgram(config([sshHost({}), k8sHost({ path: moved })]), { secretKeys: SECRETS, stdoutOf });
    await registered(resources, "k1-rollout");
    const wait = named(resources, "k1-keys-wait");
    expect(wait.inputs.create).toMatch(/\nsleep 768$/);
    const sp = JSON.parse(secretFiles(resources, "k1")["current/slashing-protection.json"]);
    expect(sp.data).toEqual([expect.objectContaining({ pubkey: `0x${keys[0].pubkey}`, signed_blocks: [expect.objectContaining({ slot: "99" })] })]);
    expect(wait.dependsOn).toContain("alpha-keys-release");
    for (const name of ["k1-statefulset-k1", "k1-secret-k1-validator-keys"]) expect(named(resources, name).dependsOn).toContain("k1-keys-wait");
  }, 60_000);
});

describe("a key moving out of a cluster node in one up", () => {
  // Stands in for k1's release step printing what its export Job published (lib/kubernetes/keyRelease.ts).
  const exported = () => ({ metadata: { interchange_format_version: "5", genesis_validators_root: GVR }, data: [{ pubkey: `0x${keys[1].pubkey}`, signed_blocks: [{ slot: "123" }], signed_attestations: [{ source_epoch: "7", target_epoch: "8" }] }] });
  const stdoutOf = (name: string) => (name === "k1-keys-release" ? `-----BEGIN SLASHING PROTECTION-----\n${JSON.stringify(exported())}\n-----END SLASHING PROTECTION-----\nreleased 1\n` : undefined);

  test("to another cluster node: the target's keys wait follows the source's release and sleeps moveWaitEpochs; its Secret gets the export", async () => {
    const stays = writeKeyDir([keys[2]], path.join(work, "stays"));
    const moved = writeKeyDir([keys[1]], path.join(work, "moved-out"));
    const { resources } = await runProgram(config([k8sHost({ path: stays }), k8sHost({ path: moved }, "k2")]), { secretKeys: SECRETS, stdoutOf });
    await registered(resources, "k2-rollout");
    await registered(resources, "k1-rollout");
    const target = named(resources, "k2-keys-wait");
    expect(target.dependsOn).toEqual(expect.arrayContaining(["k1-keys-release", "k2-keys-release"]));
    expect(named(resources, "k2-secret-k2-validator-keys").secretInputs).toContain("data");
    expect(target.inputs.create).toMatch(/\nsleep 768$/);
    const sp = JSON.parse(secretFiles(resources, "k2")["current/slashing-protection.json"]);
    expect(sp).toEqual({ metadata: { interchange_format_version: "5", genesis_validators_root: GVR }, data: [{ pubkey: `0x${keys[1].pubkey}`, signed_blocks: [{ slot: "123" }], signed_attestations: [{ source_epoch: "7", target_epoch: "8" }] }] });
    // The source keeps its own key without a wait; its StatefulSet (replicas 1 again) follows every release too.
    const source = named(resources, "k1-keys-wait");
    expect(source.inputs.create).not.toMatch(/sleep/);
    expect(source.dependsOn).toEqual(expect.arrayContaining(["k1-keys-release", "k2-keys-release"]));
    expect(named(resources, "k1-statefulset-k1").dependsOn).toContain("k1-keys-wait");
    // The source's release knows the key leaves, and carries the export objects it creates while the pod is stopped.
    const release = named(resources, "k1-keys-release");
    const [, keep, elsewhere, ...rest] = (release.inputs.stdin as string).split("\n");
    expect([keep, elsewhere]).toEqual([keys[2].pubkey, keys[1].pubkey]);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const objects = yaml.loadAll(rest.join("\n")) as any[];
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret", "Job"].map((k) => `${k}/k1-keys-export`));
    const job = objects.find((o) => o.kind === "Job");
    const vc = kubeObject(resources, "k1", "StatefulSet", "k1").spec.template.spec.containers.find((c: { name: string }) => c.name === "validator");
    expect(job.spec.template.spec.initContainers[0]).toMatchObject({ image: vc.image, securityContext: vc.securityContext });
    expect(release.inputs.create).toContain("scale statefulset 'k1' -n 'eph' --replicas=0");
  }, 60_000);

  test("to an SSH host: the host's install waits for the barrier, which carries the cluster node's export", async () => {
    const moved = writeKeyDir([keys[1]], path.join(work, "moved-to-host"));
    const stays = writeKeyDir([keys[2]], path.join(work, "stays-2"));
    const { resources } = await runProgram(config([sshHost({ path: moved }), k8sHost({ path: stays })]), { secretKeys: SECRETS, stdoutOf });
    await registered(resources, "alpha-keys-install");
    const install = named(resources, "alpha-keys-install");
    expect(install.dependsOn).toContain("key-moves-released");
    expect(install.inputs.create).toContain("KEYS_MOVE_WAIT_SEC=768 ");
    const barrier = named(resources, "key-moves-released");
    expect(barrier.dependsOn).toEqual(expect.arrayContaining(["alpha-keys-release", "k1-keys-release"]));
    expect(JSON.parse(barrier.inputs.stdin).k1).toEqual(exported());
  }, 60_000);
});

describe("the config check", () => {
  const problems = (hosts: unknown[]) => {
    const entries = new Map(Object.entries(config(hosts)).map(([k, v]) => [k, { value: v, secret: SECRETS.includes(k) }]));
    const r = loadStackConfig(entries);
    return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
  };

  test("validator.keys on a kubernetes host is accepted", () => {
    expect(problems([k8sHost({ path: dirK8s })])).toEqual([]);
  });

  test("one key on a kubernetes node and an SSH host, or on two kubernetes nodes, names both and how to move", () => {
    const dup = writeKeyDir([keys[1]], path.join(work, "dup"));
    expect(problems([k8sHost({ path: dirK8s }), sshHost({ path: dup })])).toEqual([
      expect.stringMatching(new RegExp(`^hosts\\[1\\]\\.validator\\.keys: key 0x${keys[1].pubkey} is also configured on host\\(s\\) k1; .*it is on k1 and alpha\\)\\. To move it.*in the same pulumi up, from or to a kind kubernetes host too`)),
    ]);
    expect(problems([k8sHost({ path: dirK8s }), k8sHost({ path: dup }, "k2")])).toEqual([expect.stringMatching(/it is on k1 and k2/)]);
  });
});
