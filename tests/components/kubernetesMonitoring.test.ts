import * as yaml from "js-yaml";
import { named, RecordedResource, runProgram } from "../support/mocks";

const KUBECONFIG = "apiVersion: v1\nkind: Config\ncurrent-context: c\nusers: [{name: u, user: {token: sup3r-s3cret-token}}]\n";
const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const HOOK = "https://hooks.example.org/services/T0/B0/w3bh00k-s3cret";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const docs = (stdin: string): any[] => yaml.loadAll(stdin.split("\n").slice(1).join("\n"));

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

  test("one apply carries the node and its monitoring stack and waits for both rollouts", () => {
    const apply = named(resources, "k8m-apply");
    expect(apply.inputs.create).toContain("rollout status statefulset/'k8m' -n 'eph'");
    expect(apply.inputs.create).toContain("rollout status statefulset/'k8m-monitoring' -n 'eph'");
    const kinds = docs(apply.inputs.stdin as string).map((d) => `${d.kind}/${d.metadata.name}`);
    for (const k of ["StatefulSet/k8m", "StatefulSet/k8m-monitoring", "ConfigMap/k8m-prometheus", "Secret/k8m-alertmanager", "Role/k8m-prometheus", "RoleBinding/k8m-prometheus", "ServiceAccount/k8m-prometheus", "Secret/k8m-grafana", "ConfigMap/k8m-grafana"]) expect(kinds).toContain(k);
    // The node pod serves the reset's metrics; the plain objects and the applied ones are the same render.
    const node = docs(apply.inputs.stdin as string).find((d) => d.kind === "StatefulSet" && d.metadata.name === "k8m");
    expect(node.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(["execution", "consensus", "validator", "node-exporter"]);
  });

  test("the receiver's URL and Grafana's generated password are only in Secrets, in a secret stdin", () => {
    const apply = named(resources, "k8m-apply");
    expect(apply.secretInputs).toContain("stdin");
    const all = docs(apply.inputs.stdin as string);
    const am = all.find((d) => d.kind === "Secret" && d.metadata.name === "k8m-alertmanager");
    expect(Buffer.from(am.data["alertmanager.yml"], "base64").toString()).toContain(HOOK);
    const grafana = all.find((d) => d.kind === "Secret" && d.metadata.name === "k8m-grafana");
    expect(Buffer.from(grafana.data.admin_password, "base64").toString()).toBe("mock-fleet-secret-k8m-grafana-secret-generate");
    expect(JSON.stringify(all.filter((d) => d.kind !== "Secret"))).not.toContain(HOOK);
    expect(named(resources, "k8m-grafana-secret-generate").inputs.logging).toBe("none");
    for (const field of ["create", "update", "delete"]) expect(apply.inputs[field]).not.toContain("w3bh00k");
  });

  test("monitoring.enabled false renders no monitoring objects", async () => {
    const { resources: r } = await runProgram({
      "ephemery:hosts": [{ name: "k8n", kind: "kubernetes", kubernetes: {}, monitoring: { enabled: false } }],
      "ephemery:kubeconfig": KUBECONFIG,
    }, { secretKeys: ["ephemery:kubeconfig"] });
    const apply = named(r, "k8n-apply");
    expect(apply.inputs.create).not.toContain("k8n-monitoring");
    const objects = docs(apply.inputs.stdin as string) as { kind: string; metadata: { name: string } }[];
    // The node's own StatefulSet and its reset CronJob remain; nothing of the monitoring stack does.
    expect(objects.filter((d) => d.kind === "StatefulSet").map((d) => d.metadata.name)).toEqual(["k8n"]);
    const node = objects.find((d) => d.kind === "StatefulSet") as unknown as { spec: { template: { spec: { containers: { name: string }[] } } } };
    expect(node.spec.template.spec.containers.map((c) => c.name)).toEqual(["execution", "consensus"]);
    expect(objects.map((d) => d.metadata.name).filter((n) => n.includes("monitoring") || n.includes("prometheus") || n.includes("alertmanager"))).toEqual([]);
    expect(r.some((x) => x.name.includes("grafana"))).toBe(false);
  });
});
