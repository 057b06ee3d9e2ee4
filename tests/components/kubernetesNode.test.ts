import { named, RecordedResource, runProgram } from "../support/mocks";

const KUBECONFIG = "apiVersion: v1\nkind: Config\ncurrent-context: c\nusers: [{name: u, user: {token: sup3r-s3cret-token}}]\n";
const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";

describe("a kind kubernetes host under mocks", () => {
  let resources: RecordedResource[];
  let outputs: Record<string, any>;
  beforeAll(async () => {
    ({ resources, outputs } = await runProgram({
      "ephemery:hosts": [{
        name: "k8s1", kind: "kubernetes",
        kubernetes: { namespace: "eph", context: "prod@cluster", p2pExposure: "NodePort" },
        execution: { p2pPort: 30303 }, consensus: { p2pPort: 31000, quicPort: 31001 },
        validator: { feeRecipient: FEE },
      }],
      "ephemery:kubeconfig": KUBECONFIG,
    }, { secretKeys: ["ephemery:kubeconfig"] }));
  });

  test("one kubectl command applies the node; nothing reaches the cluster node over SSH or Docker", () => {
    const types = new Set(resources.map((r) => r.type));
    expect([...types].sort()).toEqual(["command:local:Command", "ephemery:kubernetes:KubernetesNode", "pulumi:pulumi:Stack"]);
    const apply = named(resources, "k8s1-apply");
    expect(apply.dependsOn).toContain("k8s1-jwt-generate");
    expect(apply.inputs.create).toContain("apply -f - --prune");
    expect(apply.inputs.create).toContain("--context='prod@cluster'");
    expect(apply.inputs.create).toContain("rollout status statefulset/'k8s1' -n 'eph'");
    expect(apply.inputs.delete).toContain("delete cronjob,job,statefulset,service,secret,configmap,serviceaccount,role.rbac.authorization.k8s.io,rolebinding.rbac.authorization.k8s.io -n 'eph'");
    expect(apply.inputs.update).toBe(apply.inputs.create);
  });

  test("the kubeconfig and JWT travel only in stdin, a secret; never in the command line", () => {
    const apply = named(resources, "k8s1-apply");
    expect(apply.secretInputs).toContain("stdin");
    const [first, ...rest] = (apply.inputs.stdin as string).split("\n");
    expect(Buffer.from(first, "base64").toString()).toBe(KUBECONFIG);
    // The mock's generated JWT, inside the jwt Secret (base64 in `data`).
    expect(rest.join("\n")).toContain(`jwt.hex: ${Buffer.from("ab".repeat(32)).toString("base64")}`);
    for (const field of ["create", "update", "delete"]) {
      expect(apply.inputs[field]).not.toContain("sup3r-s3cret-token");
      expect(apply.inputs[field]).not.toContain(first);
      expect(apply.inputs[field]).not.toContain(Buffer.from("ab".repeat(32)).toString("base64"));
    }
    expect(named(resources, "k8s1-jwt-generate").inputs.logging).toBe("none");
  });

  test("the manifests are the renderer's: NodePort Service on the clients' own ports", () => {
    const stdin = named(resources, "k8s1-apply").inputs.stdin as string;
    expect(stdin).toContain("type: NodePort");
    expect(stdin).toMatch(/nodePort: 31001/);
    // The validator starts with lighthouse's empty key set, as a host's does before the first install.
    expect(stdin).toContain("path: current/lighthouse/validator_definitions.yml");
  });

  test("the reset CronJob, its RBAC and program ride in the same apply; the program holds no secret", () => {
    const docs = (named(resources, "k8s1-apply").inputs.stdin as string).split("\n").slice(1).join("\n").split(/^---$/m).map((d) => require("js-yaml").load(d));
    const kinds = docs.map((d: { kind: string; metadata: { name: string } }) => `${d.kind}/${d.metadata.name}`);
    for (const k of ["CronJob/k8s1-reset", "ConfigMap/k8s1-reset", "ServiceAccount/k8s1-reset", "Role/k8s1-reset", "RoleBinding/k8s1-reset"]) expect(kinds).toContain(k);
    const program = docs.find((d: { kind: string }) => d.kind === "ConfigMap").data["ephemery-reset"] as string;
    expect(program).toContain("readonly RUNTIME='kubernetes'");
    expect(program).not.toContain("sup3r-s3cret-token");
    expect(program).not.toContain("ab".repeat(32));
    expect(program).not.toContain(Buffer.from("ab".repeat(32)).toString("base64"));
  });

  test("the stack output names the namespace and clients, nothing secret", () => {
    expect(outputs.hosts).toEqual([expect.objectContaining({ name: "k8s1", kind: "kubernetes", namespace: "eph", statefulSet: "k8s1" })]);
    expect(JSON.stringify(outputs)).not.toContain("sup3r");
  });

  test("a NodePort outside the range fails the program with what to change", async () => {
    await expect(runProgram({
      "ephemery:hosts": [{ name: "k8s2", kind: "kubernetes", kubernetes: { p2pExposure: "NodePort" } }],
      "ephemery:kubeconfig": KUBECONFIG,
    }, { secretKeys: ["ephemery:kubeconfig"] })).rejects.toThrow(/k8s2: consensus p2p port 9000 is outside the NodePort range 30000-32767/);
  });
});
