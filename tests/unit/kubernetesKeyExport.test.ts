/**
 * Keys leaving a kind kubernetes node: the export Job and its RBAC (lib/kubernetes/keyExport.ts), the bundled
 * check it runs (lib/kubernetes/keyExportCheck.ts, run here under node as in the Job), and the release step
 * (lib/kubernetes/keyRelease.ts) run by bash against a stand-in kubectl that records its calls and plays a
 * cluster: the pod goes away after the scale to 0, the Job succeeds or fails, the Secret holds the export.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { KEY_TOOLS } from "../../lib/keys/layout";
import { EXPORT_INIT_CONTAINER, EXPORTED_KEY, keyExportChecker, keyExportNames, PUBLISH_CONTAINER, renderKeyExportManifests, renderKeyExportScript, REQUEST_KEY } from "../../lib/kubernetes/keyExport";
import { keptInterchange, KeyExportError, MAX_PUBLISHED_BYTES } from "../../lib/kubernetes/keyExportCheck";
import { releaseCommand, releaseStdin } from "../../lib/kubernetes/keyRelease";
import { kubeconfigLine } from "../../lib/kubernetes/kubectl";
import { toYaml } from "../../lib/kubernetes/manifests";

const GVR = `0x${"ab".repeat(32)}`;
const A = "a1".repeat(48);
const B = "b2".repeat(48);
const C = "c3".repeat(48);
const EXPORT = JSON.stringify({
  metadata: { interchange_format_version: "5", genesis_validators_root: GVR },
  data: [
    { pubkey: `0x${A}`, signed_blocks: [{ slot: "5" }, { slot: "9" }], signed_attestations: [{ source_epoch: "1", target_epoch: "2" }, { source_epoch: "2", target_epoch: "3" }] },
    { pubkey: `0x${B}`, signed_blocks: [{ slot: "7" }], signed_attestations: [] },
  ],
});

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-key-export-")); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function objects(client: "lighthouse" | "lodestar" | "nimbus" = "lighthouse") {
  return renderKeyExportManifests("k1", {
    namespace: "eph", validatorClient: client, validatorImage: client === "nimbus" ? "statusim/nimbus-validator-client:multiarch-v25.9.2" : "sigp/lighthouse:v8.0.0",
    validatorSecurityContext: { runAsUser: 1000 }, image: "node:22.21.1-bookworm", imagePullPolicy: "IfNotPresent", activeDeadlineSec: 900,
    script: "#!/bin/bash\n", checker: "// checker\n",
  });
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const byKind = (kind: string, client?: "lighthouse" | "lodestar" | "nimbus"): any => objects(client).find((o) => o.kind === kind);

describe("the export Job and its RBAC", () => {
  test("the Role may only get and patch the one export Secret", () => {
    expect(byKind("Role").rules).toEqual([{ apiGroups: [""], resources: ["secrets"], resourceNames: ["k1-keys-export"], verbs: ["get", "patch"] }]);
    expect(byKind("RoleBinding").subjects).toEqual([{ kind: "ServiceAccount", name: "k1-keys-export", namespace: "eph" }]);
    expect(byKind("ServiceAccount").automountServiceAccountToken).toBe(false);
    expect(byKind("Secret")).toMatchObject({ metadata: { name: keyExportNames("k1").secret }, data: {} });
  });

  test("the init container runs the client's own export in the VC's image and user with the data PVC; the token reaches the publisher only", () => {
    const job = byKind("Job");
    expect(job.spec).toMatchObject({ suspend: true, backoffLimit: 0, activeDeadlineSeconds: 900 });
    const pod = job.spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    const [init] = pod.initContainers;
    expect(init).toMatchObject({ name: EXPORT_INIT_CONTAINER, image: "sigp/lighthouse:v8.0.0", securityContext: { runAsUser: 1000 } });
    expect(init.command[2]).toContain(`( ${KEY_TOOLS.lighthouse.exportCmd} ) > /export/${EXPORTED_KEY}.tmp`);
    expect(init.volumeMounts.map((m: { name: string }) => m.name)).toEqual(["validator-data", "testnet", "export"]);
    expect(pod.volumes.find((v: { name: string }) => v.name === "validator-data").persistentVolumeClaim.claimName).toBe("validator-data-k1-0");
    const [publish] = pod.containers;
    expect(publish).toMatchObject({ name: PUBLISH_CONTAINER, image: "node:22.21.1-bookworm" });
    const tokenMounts = [...pod.initContainers, ...pod.containers].filter((c: { volumeMounts: { name: string }[] }) => c.volumeMounts.some((m) => m.name === "api-token")).map((c: { name: string }) => c.name);
    expect(tokenMounts).toEqual([PUBLISH_CONTAINER]);
    expect(pod.volumes.find((v: { name: string }) => v.name === "request").secret).toEqual({ secretName: "k1-keys-export", items: [{ key: REQUEST_KEY, path: REQUEST_KEY }], defaultMode: 0o400 });
  });

  test("nimbus exports in its beacon image; lodestar's $ survive Kubernetes' expansion", () => {
    expect(byKind("Job", "nimbus").spec.template.spec.initContainers[0].image).toMatch(/^statusim\/nimbus-eth2:/);
    expect(byKind("Job", "lodestar").spec.template.spec.initContainers[0].command[2]).toContain("$$GVR");
  });

  test("the publisher's script shares kube_api with the reset program and holds only quoted values", () => {
    const script = renderKeyExportScript("k1", "eph");
    expect(script).toContain("kube_api() {");
    expect(script).not.toMatch(/^# @@INCLUDE/m);
    expect(script).toContain("readonly K8S_SECRET='k1-keys-export'");
    const file = path.join(dir, "keys-export");
    fs.writeFileSync(file, script);
    expect(spawnSync("shellcheck", ["--severity=info", file], { encoding: "utf8" }).stdout).toBe("");
  });
});

describe("the check in the Job", () => {
  test("keeps the watermarks of the moving keys only", () => {
    expect(JSON.parse(keptInterchange(EXPORT, [A]))).toEqual({
      metadata: { interchange_format_version: "5", genesis_validators_root: GVR },
      data: [{ pubkey: `0x${A}`, signed_blocks: [{ slot: "9" }], signed_attestations: [{ source_epoch: "2", target_epoch: "3" }] }],
    });
    // A key that never signed: an empty interchange of the same chain.
    expect(JSON.parse(keptInterchange(EXPORT, [C])).data).toEqual([]);
  });

  test.each([
    ["not JSON", "{", [A], /is not JSON/],
    ["not an interchange", '{"x":1}', [A], /not a usable EIP-3076 interchange/],
    ["a bad slot", EXPORT.replace('"slot":"9"', '"slot":"-9"'), [A], /not a usable EIP-3076 interchange.*slot/],
    ["a bad request", EXPORT, ["zz"], /requested pubkey "zz"/],
    ["no request", EXPORT, [], /no pubkeys/],
  ])("refuses %s", (_, text, moving, message) => {
    expect(() => keptInterchange(text, moving)).toThrow(KeyExportError);
    expect(() => keptInterchange(text, moving)).toThrow(message);
  });

  test("the bundle runs under a bare node and writes the Secret's merge patch", () => {
    const js = path.join(dir, "check.js");
    fs.writeFileSync(js, keyExportChecker());
    fs.writeFileSync(path.join(dir, "export.json"), EXPORT);
    fs.writeFileSync(path.join(dir, "request"), `${A},${C}`);
    const run = (exportFile: string) => spawnSync("node", [js, exportFile, path.join(dir, "request"), path.join(dir, "body.json")], { encoding: "utf8", cwd: "/" });
    const ok = run(path.join(dir, "export.json"));
    expect([ok.status, ok.stderr]).toEqual([0, "kept the slashing protection of 2 moving key(s)\n"]);
    const body = JSON.parse(fs.readFileSync(path.join(dir, "body.json"), "utf8"));
    expect(JSON.parse(Buffer.from(body.data[EXPORTED_KEY], "base64").toString()).data.map((r: { pubkey: string }) => r.pubkey)).toEqual([`0x${A}`]);
    expect(Buffer.from(body.data[EXPORTED_KEY], "base64").length).toBeLessThan(MAX_PUBLISHED_BYTES);
    const missing = run(path.join(dir, "nothing.json"));
    expect([missing.status, missing.stderr]).toEqual([1, `keys-export: the export ${path.join(dir, "nothing.json")} is missing\n`]);
  });
});

/**
 * A kubectl that plays the cluster from files in $STATE: the StatefulSet's pubkeys annotation, the pod (present
 * until the scale to 0), the Job's state, the Secret's exported value. Every call is appended to $STATE/calls.
 */
const FAKE_KUBECTL = `#!/bin/bash
set -eu
shift # --kubeconfig
echo "$*" >> "$STATE/calls"
case "$1 $2" in
  "get statefulset") cat "$STATE/annotation" ;;
  "scale statefulset") case "$*" in *--replicas=0*) [ "$(cat "$STATE/pod")" = stuck ] || rm -f "$STATE/pod" ;; *--replicas=1*) touch "$STATE/scaled-back" ;; esac ;;
  "get pod") if [ -e "$STATE/pod" ]; then echo pod/k1-0; fi ;;
  "apply -f") cp "$3" "$STATE/applied" ;;
  "patch secret") echo "$*" > "$STATE/request" ;;
  "get job") cat "$STATE/job" ;;
  "get secret") cat "$STATE/exported" ;;
esac
`;

describe("the release step of a cluster node whose keys leave", () => {
  const kubectl = () => path.join(dir, "kubectl");
  function release(state: Record<string, string>, keep: string[], elsewhere: string[]) {
    fs.writeFileSync(kubectl(), FAKE_KUBECTL, { mode: 0o755 });
    const st = fs.mkdtempSync(path.join(dir, "state-"));
    for (const [k, v] of Object.entries(state)) fs.writeFileSync(path.join(st, k), v);
    const cmd = releaseCommand({ namespace: "eph", node: "k1", kubectl: kubectl() }, { stopSec: 4, exportSec: 4 }, 2);
    const r = spawnSync("bash", ["-c", cmd], { input: releaseStdin(kubeconfigLine("kc"), keep, elsewhere, toYaml(objects())), encoding: "utf8", env: { ...process.env, STATE: st } });
    const calls = fs.readFileSync(path.join(st, "calls"), "utf8").trim().split("\n").map((c) => c.split(" ").slice(0, 2).join(" "));
    return { ...r, calls, st };
  }
  const exported = Buffer.from(keptInterchange(EXPORT, [A])).toString("base64");
  const cluster = { annotation: `${A},${B}`, pod: "running", job: "1/", exported };

  test("stops the pod, runs the export, prints the moving keys' slashing protection as a host's release, cleans up", () => {
    const r = release(cluster, [B], [A]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`-----BEGIN SLASHING PROTECTION-----\n${keptInterchange(EXPORT, [A])}\n-----END SLASHING PROTECTION-----\nreleased 1\n`);
    // Order: old objects gone, pod stopped and gone, objects created, request written, job started, read, deleted.
    expect(r.calls).toEqual(["get statefulset", "delete job/k1-keys-export", "scale statefulset", "get pod", "apply -f", "patch secret", "patch job", "get job", "get secret", "delete job/k1-keys-export"]);
    expect(fs.readFileSync(path.join(r.st, "request"), "utf8")).toContain(`{"stringData":{"${REQUEST_KEY}":"${A}"}}`);
    expect(fs.readFileSync(path.join(r.st, "applied"), "utf8")).toContain("kind: Job");
  });

  test("keys kept or removed: nothing stops, released 0", () => {
    const r = release(cluster, [B], []);
    expect([r.status, r.stdout, r.calls]).toEqual([0, "released 0\n", ["get statefulset"]]);
  });

  test("a pod that does not stop: refused, named, scaled back", () => {
    const r = release({ ...cluster, pod: "stuck" }, [B], [A]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("pod eph/k1-0 is still there 4s after scaling statefulset k1 to 0");
    expect(r.stderr).toContain("statefulset k1 was scaled back to 1 with its keys unchanged; nothing was moved");
    expect(r.calls).not.toContain("apply -f");
    expect(r.stdout).not.toContain("SLASHING");
  });

  test("a failed export job: the fallback named, scaled back, nothing printed", () => {
    const r = release({ ...cluster, job: "/1" }, [B], [A]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`the export job k1-keys-export failed, so the slashing protection was not exported (see kubectl logs job/k1-keys-export -n eph -c ${EXPORT_INIT_CONTAINER}`);
    expect(r.stderr).toContain("the manual fallback");
    expect(fs.existsSync(path.join(r.st, "scaled-back"))).toBe(true);
    expect(r.stdout).toBe("");
  });

  test.each([
    ["empty", ""],
    ["not base64", "{not-base64}"],
    ["not an object", Buffer.from("[1]").toString("base64")],
  ])("a Secret that is %s after the job: refused, scaled back", (_, value) => {
    const r = release({ ...cluster, exported: value }, [B], [A]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/secret k1-keys-export holds no slashing protection|is not a JSON object|not base64/);
    expect(fs.existsSync(path.join(r.st, "scaled-back"))).toBe(true);
  });
});
