import { ConfigEntry, loadStackConfig, Problem } from "../../lib/config/load";

const KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\n";

function entries(config: Record<string, unknown>, secret: string[] = []): Map<string, ConfigEntry> {
  return new Map(Object.entries(config).map(([k, v]) => [k, { value: v, secret: secret.includes(k) }]));
}
function problemsOf(config: Record<string, unknown>, secret: string[] = []): Problem[] {
  const r = loadStackConfig(entries(config, secret));
  return r.ok ? [] : r.problems;
}
const withKubeconfig = (hosts: unknown[]) => ({ "ephemery:hosts": hosts, "ephemery:kubeconfig": KUBECONFIG });

describe("kind: kubernetes hosts", () => {
  test("an empty kubernetes block and a secret kubeconfig is a valid host, with safe defaults", () => {
    const r = loadStackConfig(entries(withKubeconfig([{ name: "k1", kind: "kubernetes", kubernetes: {} }]), ["ephemery:kubeconfig"]));
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.config.hosts[0].kubernetes).toEqual({ namespace: "ephemery", p2pExposure: "hostPort", imagePullPolicy: "IfNotPresent", retainDataOnDestroy: true, testnetVolumeGiB: 2, resetImage: "node:22.21.1-bookworm" });
    expect(r.secrets.kubeconfig).toBe(KUBECONFIG);
  });

  test("a JSON kubeconfig (which Pulumi hands over parsed) is kept as its text", () => {
    const json = { apiVersion: "v1", kind: "Config", clusters: [] };
    const r = loadStackConfig(entries({ "ephemery:hosts": [{ name: "k1", kind: "kubernetes", kubernetes: {} }], "ephemery:kubeconfig": json }, ["ephemery:kubeconfig"]));
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(JSON.parse(r.secrets.kubeconfig!)).toEqual(json);
  });

  test("a kubeconfig in plain text is refused, and the message never shows it", () => {
    const problems = problemsOf(withKubeconfig([{ name: "k1", kind: "kubernetes", kubernetes: {} }]));
    expect(problems).toEqual([{ path: "ephemery:kubeconfig", message: "is a secret but is stored in plain text; run: pulumi config set --secret ephemery:kubeconfig < ~/.kube/config" }]);
    expect(JSON.stringify(problems)).not.toContain("clusters");
  });

  test("no kubeconfig: says which host and how to set one", () => {
    expect(problemsOf({ "ephemery:hosts": [{ name: "k1", kind: "kubernetes", kubernetes: {} }] })).toEqual([
      { path: "hosts[0].kubernetes", message: 'host "k1" runs on Kubernetes but no kubeconfig is set; run: pulumi config set --secret ephemery:kubeconfig < ~/.kube/config' },
    ]);
  });

  test("a per-host kubeconfig serves its host; one naming no kubernetes host is an error", () => {
    const ok = { "ephemery:hosts": [{ name: "k1", kind: "kubernetes", kubernetes: {} }], "ephemery:kubeconfigs": { k1: KUBECONFIG } };
    expect(problemsOf(ok, ["ephemery:kubeconfigs"])).toEqual([]);
    const stray = { ...ok, "ephemery:kubeconfigs": { k1: KUBECONFIG, k2: KUBECONFIG } };
    expect(problemsOf(stray, ["ephemery:kubeconfigs"])).toEqual([{ path: "ephemery:kubeconfigs.k2", message: "names no kind kubernetes host; they are k1" }]);
  });

  test("wrong shapes are clear errors naming the field", () => {
    const problems = problemsOf(withKubeconfig([
      { name: "k1", kind: "kubernetes" },
      { name: "k4", kind: "kubernetes", address: "203.0.113.1", runtime: "compose", kubernetes: {} },
      { name: "k2", kind: "kubernetes", kubernetes: { namespace: "Bad NS", p2pExposure: "hostNetwork", context: "a b", storageClass: "Fast_SSD" } },
      { name: "k3", kind: "local", kubernetes: {} },
      { name: "k5", kind: "kubernetes", kubernetes: {}, validator: { feeRecipient: `0x${"11".repeat(20)}`, redeposit: { enabled: true, withdrawalAddress: `0x${"22".repeat(20)}` } } },
    ]), ["ephemery:kubeconfig"]);
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
    expect(byPath["hosts[0].kubernetes"]).toMatch(/kind kubernetes needs a kubernetes block/);
    expect(byPath["hosts[2].kubernetes.namespace"]).toMatch(/must be a Kubernetes namespace name/);
    expect(byPath["hosts[2].kubernetes.p2pExposure"]).toBe('"hostNetwork" is not one of hostPort, NodePort, LoadBalancer');
    expect(byPath["hosts[2].kubernetes.context"]).toMatch(/must be a kubeconfig context name/);
    expect(byPath["hosts[2].kubernetes.storageClass"]).toMatch(/must be a StorageClass name/);
    expect(byPath["hosts[1].address"]).toMatch(/a kubernetes host has no address/);
    expect(byPath["hosts[1].runtime"]).toMatch(/runtime does not apply to kind kubernetes/);
    expect(byPath["hosts[3].kubernetes"]).toMatch(/only applies to kind kubernetes, this host is local/);
    expect(byPath["hosts[4].validator.redeposit.enabled"]).toMatch(/re-deposit after a reset does not run on kind kubernetes yet/);
  });

  test("a kubernetes host needs no SSH key", () => {
    const r = loadStackConfig(entries(withKubeconfig([{ name: "k1", kind: "kubernetes", kubernetes: { p2pExposure: "LoadBalancer", storageClass: "" } }]), ["ephemery:kubeconfig"]));
    expect(r.problems).toEqual([]);
  });
});
