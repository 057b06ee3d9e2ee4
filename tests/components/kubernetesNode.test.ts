import { kubeObject, kubeObjects, named, RecordedResource, runProgram } from "../support/mocks";

const KUBECONFIG = "apiVersion: v1\nkind: Config\ncurrent-context: c\nusers: [{name: u, user: {token: sup3r-s3cret-token}}]\n";
const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const JWT_B64 = Buffer.from("ab".repeat(32)).toString("base64");
const host = (kubernetes: Record<string, unknown>) => ({
  name: "k8s1", kind: "kubernetes",
  kubernetes: { namespace: "eph", context: "prod@cluster", p2pExposure: "NodePort", ...kubernetes },
  execution: { p2pPort: 30303 }, consensus: { p2pPort: 31000, quicPort: 31001 },
  validator: { feeRecipient: FEE },
});

describe("a kind kubernetes host under mocks", () => {
  let resources: RecordedResource[];
  let outputs: Record<string, any>;
  beforeAll(async () => {
    ({ resources, outputs } = await runProgram({ "ephemery:hosts": [host({})], "ephemery:kubeconfig": KUBECONFIG }, { secretKeys: ["ephemery:kubeconfig"] }));
  });

  test("one typed @pulumi/kubernetes resource per object, through the node's provider; nothing over SSH or Docker", () => {
    const types = new Set(resources.map((r) => r.type));
    expect([...types].filter((t) => !t.startsWith("kubernetes:")).sort()).toEqual(["command:local:Command", "ephemery:kubernetes:KubernetesNode", "pulumi:providers:kubernetes", "pulumi:pulumi:Stack"]);
    const k8sResources = resources.filter((r) => r.type.startsWith("kubernetes:"));
    expect(k8sResources.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
      "kubernetes:apps/v1:StatefulSet k8s1-statefulset-k8s1",
      "kubernetes:apps/v1:StatefulSet k8s1-statefulset-k8s1-monitoring",
      "kubernetes:batch/v1:CronJob k8s1-cronjob-k8s1-reset",
      "kubernetes:core/v1:ConfigMap k8s1-configmap-k8s1-grafana",
      "kubernetes:core/v1:ConfigMap k8s1-configmap-k8s1-prometheus",
      "kubernetes:core/v1:ConfigMap k8s1-configmap-k8s1-reset",
      "kubernetes:core/v1:Secret k8s1-secret-k8s1-alertmanager",
      "kubernetes:core/v1:Secret k8s1-secret-k8s1-grafana",
      "kubernetes:core/v1:Secret k8s1-secret-k8s1-jwt",
      "kubernetes:core/v1:Secret k8s1-secret-k8s1-validator-keys",
      "kubernetes:core/v1:Service k8s1-service-k8s1",
      "kubernetes:core/v1:Service k8s1-service-k8s1-monitoring",
      "kubernetes:core/v1:Service k8s1-service-k8s1-p2p",
      "kubernetes:core/v1:ServiceAccount k8s1-serviceaccount-k8s1-prometheus",
      "kubernetes:core/v1:ServiceAccount k8s1-serviceaccount-k8s1-reset",
      "kubernetes:rbac.authorization.k8s.io/v1:Role k8s1-role-k8s1-prometheus",
      "kubernetes:rbac.authorization.k8s.io/v1:Role k8s1-role-k8s1-reset",
      "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding k8s1-rolebinding-k8s1-prometheus",
      "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding k8s1-rolebinding-k8s1-reset",
    ]);
    // No Namespace resource: a namespace may hold several nodes, and its delete would delete their PVCs.
    expect(kubeObjects(resources, "k8s1").some((o) => o.kind === "Namespace")).toBe(false);
    for (const r of k8sResources) {
      expect([r.name, r.provider]).toEqual([r.name, expect.stringMatching(/::k8s1-provider::/)]);
      const a = r.inputs.metadata.annotations;
      expect([r.name, a["pulumi.com/patchForce"], a["pulumi.com/skipAwait"]]).toEqual([r.name, "true", r.inputs.kind === "StatefulSet" ? undefined : "true"]);
      expect(r.dependsOn).toContain("k8s1-namespace");
    }
  });

  test("the provider: the kubeconfig a secret, the host's context, server-side apply, ConfigMaps and Secrets updated in place", () => {
    const p = named(resources, "k8s1-provider");
    expect(p.secretInputs).toContain("kubeconfig");
    expect(p.inputs).toMatchObject({ kubeconfig: KUBECONFIG, context: "prod@cluster", enableServerSideApply: "true", enableConfigMapMutable: "true", enableSecretMutable: "true" });
  });

  test("the namespace command: created when missing, kubeconfig only in a secret, newline-ended stdin; it takes over the old apply", () => {
    const ns = named(resources, "k8s1-namespace");
    expect(ns.inputs.create).toContain("k create namespace 'eph'");
    expect(ns.inputs.create).toContain("--context='prod@cluster'");
    expect(ns.inputs.create).toContain("annotate \"$s\" -n 'eph' 'kubectl.kubernetes.io/last-applied-configuration-'");
    expect(ns.inputs.update).toBe(ns.inputs.create);
    expect(ns.inputs.delete).toBeUndefined();
    expect(ns.secretInputs).toContain("stdin");
    expect(ns.inputs.stdin).toBe(`${Buffer.from(KUBECONFIG).toString("base64")}\n`);
  });

  test("the JWT is only in its Secret's data, a secret input; no command line holds a secret", () => {
    const jwt = resources.find((r) => r.name === "k8s1-secret-k8s1-jwt")!;
    expect(jwt.secretInputs).toContain("data");
    expect(jwt.inputs.data).toEqual({ "jwt.hex": JWT_B64 });
    for (const r of resources.filter((x) => x.type === "command:local:Command")) {
      for (const field of ["create", "update", "delete"]) {
        const v = String(r.inputs[field] ?? "");
        expect([r.name, field, v.includes("sup3r-s3cret-token") || v.includes(Buffer.from(KUBECONFIG).toString("base64")) || v.includes(JWT_B64)]).toEqual([r.name, field, false]);
      }
    }
    expect(named(resources, "k8s1-jwt-generate").inputs.logging).toBe("none");
    // Nothing secret in any plain input of a Kubernetes object.
    for (const r of resources.filter((x) => x.type.startsWith("kubernetes:"))) {
      const plain = JSON.stringify(Object.fromEntries(Object.entries(r.inputs).filter(([k]) => !r.secretInputs.includes(k))));
      expect([r.name, plain.includes(JWT_B64) || plain.includes("ab".repeat(32))]).toEqual([r.name, false]);
    }
  });

  test("the objects are the renderer's: NodePort Service on the clients' own ports, the validator's empty key set", () => {
    const p2p = kubeObject(resources, "k8s1", "Service", "k8s1-p2p");
    expect(p2p.spec.type).toBe("NodePort");
    expect(p2p.spec.ports.map((p: { nodePort: number }) => p.nodePort)).toContain(31001);
    const sts = kubeObject(resources, "k8s1", "StatefulSet", "k8s1");
    expect(sts.spec.replicas).toBe(1);
    expect(sts.spec.template.spec.volumes.find((v: { name: string }) => v.name === "validator-keys").secret.items.map((i: { path: string }) => i.path)).toContain("current/lighthouse/validator_definitions.yml");
  });

  test("workloads wait for their configuration; the StatefulSets for the data step; the rollout wait for the StatefulSets", () => {
    for (const name of ["k8s1-statefulset-k8s1", "k8s1-statefulset-k8s1-monitoring", "k8s1-cronjob-k8s1-reset"]) {
      expect(named(resources, name).dependsOn).toEqual(expect.arrayContaining(["k8s1-secret-k8s1-jwt", "k8s1-configmap-k8s1-reset", "k8s1-serviceaccount-k8s1-reset"]));
    }
    expect(named(resources, "k8s1-statefulset-k8s1").dependsOn).toContain("k8s1-data");
    const rollout = named(resources, "k8s1-rollout");
    expect(rollout.dependsOn).toEqual(expect.arrayContaining(["k8s1-statefulset-k8s1", "k8s1-statefulset-k8s1-monitoring"]));
    expect(rollout.inputs.create).toContain("rollout status statefulset/'k8s1' -n 'eph' --timeout=600s");
    expect(rollout.inputs.create).toContain("rollout status statefulset/'k8s1-monitoring' -n 'eph'");
    // Each StatefulSet's uid and generation: a changed one makes the rollout step an update that waits again.
    expect(rollout.inputs.create).toMatch(/^# statefulset k8s1: uid \S+, generation \S+\n# statefulset k8s1-monitoring: uid /);
    // retainDataOnDestroy (the default): the data step deletes nothing.
    expect(named(resources, "k8s1-data").inputs.delete).toBeUndefined();
  });

  test("the reset CronJob, its RBAC and program are objects of the node; the program holds no secret", () => {
    const kinds = kubeObjects(resources, "k8s1").map((d) => `${d.kind}/${d.metadata.name}`);
    for (const k of ["CronJob/k8s1-reset", "ConfigMap/k8s1-reset", "ServiceAccount/k8s1-reset", "Role/k8s1-reset", "RoleBinding/k8s1-reset"]) expect(kinds).toContain(k);
    const program = kubeObject(resources, "k8s1", "ConfigMap", "k8s1-reset").data["ephemery-reset"] as string;
    expect(program).toContain("readonly RUNTIME='kubernetes'");
    expect(program).not.toContain("sup3r-s3cret-token");
    expect(program).not.toContain("ab".repeat(32));
    expect(program).not.toContain(JWT_B64);
  });

  test("the stack output names the namespace and clients, nothing secret", () => {
    expect(outputs.hosts).toEqual([expect.objectContaining({ name: "k8s1", kind: "kubernetes", namespace: "eph", statefulSet: "k8s1" })]);
    expect(JSON.stringify(outputs)).not.toContain("sup3r");
  });

  test("retainDataOnDestroy false: the StatefulSets still keep their PVCs; the data step's delete removes them, after the StatefulSets", async () => {
    const { resources: r } = await runProgram({ "ephemery:hosts": [host({ retainDataOnDestroy: false })], "ephemery:kubeconfig": KUBECONFIG }, { secretKeys: ["ephemery:kubeconfig"] });
    for (const name of ["k8s1", "k8s1-monitoring"]) expect(kubeObject(r, "k8s1", "StatefulSet", name).spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    const data = named(r, "k8s1-data");
    expect(data.inputs.delete).toContain("k delete pvc -n 'eph' -l 'app.kubernetes.io/instance=k8s1,app.kubernetes.io/managed-by=pulumi-ephemery'");
    expect(data.secretInputs).toContain("stdin");
    // Deleted after them: they depend on it, and Pulumi deletes dependents first.
    expect(named(r, "k8s1-statefulset-k8s1").dependsOn).toContain("k8s1-data");
    expect(named(r, "k8s1-statefulset-k8s1-monitoring").dependsOn).toContain("k8s1-data");
  });

  test("a NodePort outside the range fails the program with what to change", async () => {
    await expect(runProgram({
      "ephemery:hosts": [{ name: "k8s2", kind: "kubernetes", kubernetes: { p2pExposure: "NodePort" } }],
      "ephemery:kubeconfig": KUBECONFIG,
    }, { secretKeys: ["ephemery:kubeconfig"] })).rejects.toThrow(/k8s2: consensus p2p port 9000 is outside the NodePort range 30000-32767/);
  });
});
