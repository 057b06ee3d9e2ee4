/** The in-cluster reset's manifests and program values (lib/kubernetes/reset.ts), without a cluster. */
import { allSpecs, buildNodeSpecs } from "../../lib/clients";
import { hostSchema, HostConfig, networkSchema } from "../../lib/config/schema";
import { DEFAULT_IMAGES } from "../../lib/config/images";
import { clientLayout } from "../../lib/keys/layout";
import { planResources } from "../../lib/kubernetes/resources";
import { KubeObject, labelsOf, objectNames, renderNodeManifests } from "../../lib/kubernetes/manifests";
import { activeDeadlineSec, kubernetesResetValues, renderResetManifests, renderResetScript, RESET_POD_PATHS } from "../../lib/kubernetes/reset";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const network = networkSchema.parse({ release: { latestUrl: "http://10.0.0.5:8080/releases/latest", archiveUrl: "http://10.0.0.5:8080/d/{tag}/testnet-all.tar.gz" } });

function host(over: Record<string, unknown> = {}): HostConfig {
  return hostSchema.parse({
    name: "k1", kind: "kubernetes", kubernetes: { namespace: "eph" },
    execution: { rpcPort: 8545 }, consensus: { beaconApiPort: 5052 }, validator: { feeRecipient: FEE }, ...over,
  });
}

function render(h: HostConfig, enabled = true) {
  const specs = buildNodeSpecs({ node: h.name, host: h, checkpointSyncUrls: [] });
  return renderResetManifests(h.name, {
    namespace: "eph", image: h.kubernetes!.resetImage, imagePullPolicy: "IfNotPresent", schedule: h.reset.schedule, enabled,
    script: renderResetScript(h, network, specs), roles: allSpecs(specs).map((s) => s.role), activeDeadlineSec: activeDeadlineSec(h, network, specs),
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const one = (objs: KubeObject[], kind: string): any => {
  const found = objs.filter((o) => o.kind === kind);
  expect(found).toHaveLength(1);
  return found[0];
};

describe("the reset CronJob", () => {
  const objs = render(host());
  const cron = one(objs, "CronJob");
  const job = cron.spec.jobTemplate.spec;
  const pod = job.template.spec;

  test("runs the rendered program every minute, one run at a time, bounded, its retries the next minute's run", () => {
    expect(cron.metadata).toMatchObject({ name: "k1-reset", namespace: "eph" });
    expect(cron.spec).toMatchObject({ schedule: "* * * * *", suspend: false, concurrencyPolicy: "Forbid", startingDeadlineSeconds: 300, successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 3 });
    expect(job.backoffLimit).toBe(0);
    // Longer than a run can take: release query + download + stop + post-switch checks.
    expect(job.activeDeadlineSeconds).toBeGreaterThan(300 + 540);
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.containers).toHaveLength(1);
    expect(pod.containers[0]).toMatchObject({ image: DEFAULT_IMAGES.kubernetesReset, command: ["bash", "/opt/ephemery-reset/ephemery-reset", "run"] });
    expect(pod.containers[0].env).toBeUndefined();
  });

  test("mounts the node's own claims (the StatefulSet's PVC names) and the program read-only", () => {
    const h = host();
    const specs = allSpecs(buildNodeSpecs({ node: "k1", host: h, checkpointSyncUrls: [] }));
    const node = renderNodeManifests("k1", specs, {
      namespace: "eph", p2pExposure: "hostPort", imagePullPolicy: "IfNotPresent",
      volumeGiB: { testnet: 1, execution: 1, consensus: 1, validator: 1 }, dataDir: h.dataDir,
    }, { jwtHex: "ab".repeat(32), keyFiles: clientLayout("lighthouse", []) });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const templates = (one(node.objects, "StatefulSet").spec.volumeClaimTemplates as any[]).map((t) => objectNames("k1").pvc(t.metadata.name));
    const claims = pod.volumes.filter((v: { persistentVolumeClaim?: unknown }) => v.persistentVolumeClaim).map((v: { persistentVolumeClaim: { claimName: string } }) => v.persistentVolumeClaim.claimName);
    expect(claims.sort()).toEqual(templates.sort());
    expect(pod.containers[0].volumeMounts).toEqual([
      { name: "program", mountPath: "/opt/ephemery-reset", readOnly: true },
      { name: "testnet", mountPath: "/ephemery/testnet" },
      { name: "execution-data", mountPath: "/ephemery/volumes/execution-data" },
      { name: "consensus-data", mountPath: "/ephemery/volumes/consensus-data" },
      { name: "validator-data", mountPath: "/ephemery/volumes/validator-data" },
    ]);
    expect(pod.volumes[0]).toEqual({ name: "program", configMap: { name: "k1-reset", defaultMode: 0o555 } });
    // The node's init container waits while a switch is journalled on the testnet claim.
    const init = one(node.objects, "StatefulSet").spec.template.spec.initContainers[0].command.join(" ");
    expect(init).toContain(`[ ! -e ${RESET_POD_PATHS.state}/switch.journal ]`);
  });

  test("stays next to the node's pod when there is one, without needing it (a stopped node must still be reset)", () => {
    expect(pod.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    expect(pod.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual([
      { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: labelsOf("k1") }, topologyKey: "kubernetes.io/hostname" } },
    ]);
    // Its pods are not the node's: the StatefulSet's and the headless Service's selector must not pick them.
    const podLabels = job.template.metadata.labels;
    const selects = Object.entries(labelsOf("k1")).every(([k, v]) => podLabels[k] === v);
    expect(selects).toBe(false);
    // ...yet apply's prune and destroy find the objects by the node's instance label.
    for (const o of objs) expect(o.metadata.labels).toMatchObject({ "app.kubernetes.io/instance": "k1", "app.kubernetes.io/managed-by": "pulumi-ephemery" });
  });

  test("its own service account with a token; the Role allows scaling this StatefulSet and reading its one pod, nothing else", () => {
    expect(pod.serviceAccountName).toBe("k1-reset");
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(one(objs, "ServiceAccount").automountServiceAccountToken).toBe(false);
    expect(one(objs, "Role").rules).toEqual([
      { apiGroups: ["apps"], resources: ["statefulsets/scale"], resourceNames: ["k1"], verbs: ["get", "patch"] },
      { apiGroups: [""], resources: ["pods"], resourceNames: ["k1-0"], verbs: ["get"] },
    ]);
    expect(one(objs, "RoleBinding")).toMatchObject({
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "k1-reset" },
      subjects: [{ kind: "ServiceAccount", name: "k1-reset", namespace: "eph" }],
    });
    // Each is a typed resource of the node (so destroy deletes it, and the CronJob's Jobs and pods with it).
    expect(planResources("k1", objs).map((p) => p.type)).toEqual(["core.v1.ServiceAccount", "rbac.v1.Role", "rbac.v1.RoleBinding", "core.v1.ConfigMap", "batch.v1.CronJob"]);
  });

  test("the ConfigMap holds the host program rendered for the pod: kubernetes runtime, the claims' paths, the pod's address", () => {
    const script: string = one(objs, "ConfigMap").data["ephemery-reset"];
    expect(script).toMatch(/^#!\/usr\/bin\/env bash/);
    expect(script).not.toContain("@@VALUES@@");
    for (const line of [
      "readonly RUNTIME='kubernetes'", "readonly TESTNET_DIR='/ephemery/testnet'", "readonly STATE_DIR='/ephemery/testnet/.ephemery-reset/state'",
      "readonly EL_VOLUME='/ephemery/volumes/execution-data'", "readonly EL_WIPE='geth'", "readonly EL_KEEP='geth/nodekey'",
      "readonly VC_SLASHING_PATHS='validators/slashing_protection.sqlite'", "readonly EL_RPC_URL='http://{pod}:8545'",
      "readonly K8S_NAMESPACE='eph'", "readonly K8S_STATEFULSET='k1'", "readonly K8S_POD='k1-0'", "readonly REDEPOSIT_JS=''",
      "readonly RELEASE_LATEST_URL='http://10.0.0.5:8080/releases/latest'",
    ]) expect(script).toContain(line);
    // The same program a host runs: one copy of the reset logic.
    expect(script).toContain("finish_switch()");
  });

  test("reset.enabled false suspends it; reset.schedule and kubernetes.resetImage are taken as configured", () => {
    const h = host({ reset: { schedule: "*/5 * * * *" }, kubernetes: { namespace: "eph", resetImage: "registry.example/ops/reset:1.2.3" } });
    const c = one(render(h, false), "CronJob");
    expect(c.spec.suspend).toBe(true);
    expect(c.spec.schedule).toBe("*/5 * * * *");
    expect(c.spec.jobTemplate.spec.template.spec.containers[0].image).toBe("registry.example/ops/reset:1.2.3");
    expect(() => host({ kubernetes: { resetImage: "Not An Image;rm" } })).toThrow(/resetImage/);
  });

  test("a node without a validator mounts and names no validator volume", () => {
    const h = hostSchema.parse({ name: "k2", kind: "kubernetes", kubernetes: {} });
    const specs = buildNodeSpecs({ node: "k2", host: h, checkpointSyncUrls: [] });
    expect(kubernetesResetValues(h, network, specs).VC_VOLUME).toBe("");
    const mounts = one(render(h), "CronJob").spec.jobTemplate.spec.template.spec.containers[0].volumeMounts.map((m: { name: string }) => m.name);
    expect(mounts).toEqual(["program", "testnet", "execution-data", "consensus-data"]);
  });
});
