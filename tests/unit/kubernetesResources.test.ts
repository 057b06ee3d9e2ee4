import { spawnSync } from "child_process";
import { deleteDataCommand, kubeconfigStdin, namespaceCommand, rolloutCommand } from "../../lib/kubernetes/kubectl";
import { KubeObject } from "../../lib/kubernetes/manifests";
import { KubernetesResourceError, planResources, resourceName, RESOURCE_TYPES, withProviderAnnotations } from "../../lib/kubernetes/resources";

const obj = (apiVersion: string, kind: string, name: string, annotations?: Record<string, string>): KubeObject => ({ apiVersion, kind, metadata: { name, namespace: "eph", ...(annotations ? { annotations } : {}) } });

describe("the typed resources of a node's objects", () => {
  test("names are <node>-<kind>-<name>, lower-case; the Namespace is left out", () => {
    const plan = planResources("n1", [obj("v1", "Namespace", "eph"), obj("apps/v1", "StatefulSet", "n1"), obj("v1", "Secret", "n1-jwt"), obj("rbac.authorization.k8s.io/v1", "RoleBinding", "n1-reset")]);
    expect(plan.map((p) => [p.resourceName, p.type])).toEqual([
      ["n1-statefulset-n1", "apps.v1.StatefulSet"], ["n1-secret-n1-jwt", "core.v1.Secret"], ["n1-rolebinding-n1-reset", "rbac.v1.RoleBinding"],
    ]);
    expect(resourceName("N1", obj("v1", "ConfigMap", "x"))).toBe("n1-configmap-x");
  });

  test("patchForce on every object, skipAwait on all but StatefulSets; the object's own annotations kept, the input untouched", () => {
    const sts = obj("apps/v1", "StatefulSet", "n1", { "ephemery.dev/validator-pubkeys": "ab" });
    expect(withProviderAnnotations(sts).metadata.annotations).toEqual({ "ephemery.dev/validator-pubkeys": "ab", "pulumi.com/patchForce": "true" });
    expect(withProviderAnnotations(obj("v1", "Service", "n1")).metadata.annotations).toEqual({ "pulumi.com/patchForce": "true", "pulumi.com/skipAwait": "true" });
    expect(sts.metadata.annotations).toEqual({ "ephemery.dev/validator-pubkeys": "ab" });
  });

  test("an unmapped kind or two objects of one name are refused, naming them", () => {
    expect(() => planResources("n1", [obj("batch/v1", "Job", "n1-x")])).toThrow(KubernetesResourceError);
    expect(() => planResources("n1", [obj("batch/v1", "Job", "n1-x")])).toThrow(/batch\/v1 Job "n1-x"/);
    expect(() => planResources("n1", [obj("v1", "Secret", "a"), obj("v1", "Secret", "a")])).toThrow(/n1-secret-a/);
  });

  test("every mapped type is a class of @pulumi/kubernetes", () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const k8s = require("@pulumi/kubernetes");
    for (const t of Object.values(RESOURCE_TYPES)) expect([t, typeof t.split(".").reduce((o: any, k) => o?.[k], k8s)]).toEqual([t, "function"]);
  });
});

describe("the node's kubectl commands", () => {
  const t = { namespace: "eph", node: "n1", context: "c@x", kubectl: "/bin/echo" };

  test("each reads the kubeconfig from a newline-ended first line; without the newline `read` would fail", () => {
    const stdin = kubeconfigStdin("apiVersion: v1\nkind: Config\n");
    expect(stdin.endsWith("\n")).toBe(true);
    expect(stdin.split("\n")).toHaveLength(2);
    for (const script of [namespaceCommand(t), rolloutCommand(t, ["n1", "n1-monitoring"]), deleteDataCommand(t)]) {
      // kubectl stands in as echo: the script runs to the end only when stdin's first line was read.
      const r = spawnSync("bash", ["-c", script], { input: stdin, encoding: "utf8" });
      expect([r.status, r.stderr]).toEqual([0, ""]);
      const bad = spawnSync("bash", ["-c", script], { input: stdin.trimEnd(), encoding: "utf8" });
      expect(bad.status).not.toBe(0);
    }
  });

  test("the rollout waits for each StatefulSet; the data delete removes the node's PVCs by its labels", () => {
    expect(rolloutCommand(t, ["n1", "n1-monitoring"])).toContain("k rollout status statefulset/'n1' -n 'eph' --timeout=600s\nk rollout status statefulset/'n1-monitoring' -n 'eph' --timeout=600s");
    expect(deleteDataCommand(t)).toContain("k delete pvc -n 'eph' -l 'app.kubernetes.io/instance=n1,app.kubernetes.io/managed-by=pulumi-ephemery' --ignore-not-found --wait=true");
    expect(namespaceCommand(t)).toContain("--context='c@x'");
  });
});
