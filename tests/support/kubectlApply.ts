/**
 * `kubectl apply --prune` of a node's rendered objects, for the k8s tier's renderer tests (node, keys, monitoring,
 * reset, chain): they check what the renderers produce on a real cluster in seconds, without the Pulumi engine.
 * The program itself creates one typed @pulumi/kubernetes resource per object (components/kubernetesNode.ts);
 * tests/k8s/engine.test.ts and keysEngine.test.ts test that path. This is also how the program applied nodes
 * before it did (issue #17), which tests/k8s/engine.test.ts uses to stand in for a node an older stack applied.
 */
import { shellQuote } from "../../lib/hostScripts";
import { ensureNamespaceLine, KubectlTarget, kubeconfigLine, kubectlPreamble, nodeSelector, rolloutLines } from "../../lib/kubernetes/kubectl";
import { KubeObject, toYaml } from "../../lib/kubernetes/manifests";

export interface ApplyTarget extends KubectlTarget {
  /** Further StatefulSets of the node to wait for (its monitoring stack). Default: none. */
  alsoRollOut?: string[];
}

/** The kinds a node's objects take: what prune may remove when they leave the manifests. */
export const PRUNE_ALLOWLIST = [
  "core/v1/Service", "core/v1/Secret", "apps/v1/StatefulSet", "batch/v1/CronJob", "batch/v1/Job",
  "core/v1/ConfigMap", "core/v1/ServiceAccount", "rbac.authorization.k8s.io/v1/Role", "rbac.authorization.k8s.io/v1/RoleBinding",
];

const DELETE_KINDS = "cronjob,job,statefulset,service,secret,configmap,serviceaccount,role.rbac.authorization.k8s.io,rolebinding.rbac.authorization.k8s.io";

/** Makes the namespace when missing, applies stdin's objects, prunes the node's objects that left them, waits for the rollout. */
export function applyCommand(t: ApplyTarget, rolloutTimeoutSec = 600): string {
  return [
    ...kubectlPreamble(t),
    ensureNamespaceLine(t),
    `k apply -f - --prune -l ${nodeSelector(t)} ${PRUNE_ALLOWLIST.map((k) => `--prune-allowlist=${k}`).join(" ")}`,
    ...rolloutLines(t, [t.node, ...(t.alsoRollOut ?? [])], rolloutTimeoutSec),
  ].join("\n");
}

/** Deletes the node's objects by label; the namespace and the PVCs stay (whenDeleted: Retain). */
export function deleteCommand(t: KubectlTarget): string {
  return [
    ...kubectlPreamble(t),
    `k delete ${DELETE_KINDS} -n ${shellQuote(t.namespace)} -l ${nodeSelector(t)} --ignore-not-found --wait=true`,
  ].join("\n");
}

/** stdin of both: the kubeconfig as one base64 line, then the objects (Secrets included) as YAML. */
export function kubectlStdin(kubeconfig: string, manifests: KubeObject[]): string {
  return `${kubeconfigLine(kubeconfig)}\n${toYaml(manifests)}`;
}
