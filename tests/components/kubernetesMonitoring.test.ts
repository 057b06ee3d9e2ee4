import { kubeObject, kubeObjects, named, RecordedResource, runProgram } from "../support/mocks";

const KUBECONFIG = "apiVersion: v1\nkind: Config\ncurrent-context: c\nusers: [{name: u, user: {token: sup3r-s3cret-token}}]\n";
const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const HOOK = "https://hooks.example.org/services/T0/B0/w3bh00k-s3cret";

describe("the in-cluster monitoring of a kind kubernetes host under mocks", () => {
  let resources: RecordedResource[];
  beforeAll(async () => {
    ({ resources } = await runProgram({
      "ephemery:hosts": [{
        name: "k8m", kind: "kubernetes", kubernetes: { namespace: "eph" },
        validator: { feeRecipient: FEE },
        monitoring: { receivers: [{ name: "ops", type: "slack", webhookUrlSecret: "slack" }] },
      }],
      "ephemery:kubeconfig": KUBECONFIG,
      "ephemery:alertmanagerSecrets": { slack: HOOK },
    }, { secretKeys: ["ephemery:kubeconfig", "ephemery:alertmanagerSecrets"] }));
  });

  test("the monitoring stack is more objects of the node, and the rollout step waits for both StatefulSets", () => {
    const rollout = named(resources, "k8m-rollout");
    expect(rollout.inputs.create).toContain("rollout status statefulset/'k8m' -n 'eph'");
    expect(rollout.inputs.create).toContain("rollout status statefulset/'k8m-monitoring' -n 'eph'");
    const kinds = kubeObjects(resources, "k8m").map((d) => `${d.kind}/${d.metadata.name}`);
    for (const k of ["StatefulSet/k8m", "StatefulSet/k8m-monitoring", "ConfigMap/k8m-prometheus", "Secret/k8m-alertmanager", "Role/k8m-prometheus", "RoleBinding/k8m-prometheus", "ServiceAccount/k8m-prometheus", "Secret/k8m-grafana", "ConfigMap/k8m-grafana"]) expect(kinds).toContain(k);
    // The node pod serves the reset's metrics.
    const node = kubeObject(resources, "k8m", "StatefulSet", "k8m");
    expect(node.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(["execution", "consensus", "validator", "node-exporter"]);
    expect(named(resources, "k8m-statefulset-k8m-monitoring").dependsOn).toEqual(expect.arrayContaining(["k8m-configmap-k8m-prometheus", "k8m-secret-k8m-alertmanager"]));
  });

  test("the receiver's URL and Grafana's generated password are only in Secrets' data, secret inputs", () => {
    const am = named(resources, "k8m-secret-k8m-alertmanager");
    expect(am.secretInputs).toContain("data");
    expect(Buffer.from(am.inputs.data["alertmanager.yml"], "base64").toString()).toContain(HOOK);
    const grafana = named(resources, "k8m-secret-k8m-grafana");
    expect(grafana.secretInputs).toContain("data");
    expect(Buffer.from(grafana.inputs.data.admin_password, "base64").toString()).toBe("mock-fleet-secret-k8m-grafana-secret-generate");
    expect(JSON.stringify(kubeObjects(resources, "k8m").filter((d) => d.kind !== "Secret"))).not.toContain(HOOK);
    expect(named(resources, "k8m-grafana-secret-generate").inputs.logging).toBe("none");
    for (const r of resources.filter((x) => x.type === "command:local:Command")) for (const field of ["create", "update", "delete", "stdin"]) expect(String(r.inputs[field] ?? "")).not.toContain("w3bh00k");
  });

  test("monitoring.enabled false renders no monitoring objects", async () => {
    const { resources: r } = await runProgram({
      "ephemery:hosts": [{ name: "k8n", kind: "kubernetes", kubernetes: {}, monitoring: { enabled: false } }],
      "ephemery:kubeconfig": KUBECONFIG,
    }, { secretKeys: ["ephemery:kubeconfig"] });
    expect(named(r, "k8n-rollout").inputs.create).not.toContain("k8n-monitoring");
    const objects = kubeObjects(r, "k8n") as { kind: string; metadata: { name: string } }[];
    // The node's own StatefulSet and its reset CronJob remain; nothing of the monitoring stack does.
    expect(objects.filter((d) => d.kind === "StatefulSet").map((d) => d.metadata.name)).toEqual(["k8n"]);
    const node = objects.find((d) => d.kind === "StatefulSet") as unknown as { spec: { template: { spec: { containers: { name: string }[] } } } };
    expect(node.spec.template.spec.containers.map((c) => c.name)).toEqual(["execution", "consensus"]);
    expect(objects.map((d) => d.metadata.name).filter((n) => n.includes("monitoring") || n.includes("prometheus") || n.includes("alertmanager"))).toEqual([]);
    expect(r.some((x) => x.name.includes("grafana"))).toBe(false);
  });
});
