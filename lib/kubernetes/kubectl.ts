/**
 * The kubectl lines of a node's commands (components/kubernetesNode.ts runs them through @pulumi/command beside
 * the node's typed @pulumi/kubernetes objects; the k8s tier runs the very same lines against a real cluster):
 * the namespace, the rollout wait, the data delete, and the keys release (lib/kubernetes/keyRelease.ts). Pure.
 *
 * The kubeconfig never reaches argv or the environment: it is the first line of stdin (base64, one line), written
 * by the script to a 0600 temp file that is removed on exit; the rest of stdin is the command's own input. The command text
 * holds only validated names, each shell-quoted.
 */
import { shellQuote } from "../hostScripts";
import { labelsOf } from "./manifests";

export interface KubectlTarget {
  namespace: string;
  node: string;
  context?: string;
  /** kubectl to run (default: `kubectl` on PATH). */
  kubectl?: string;
}

/** The script's start: the kubeconfig from stdin's first line into a 0600 temp file, and `k` running kubectl on it. */
export function kubectlPreamble(t: KubectlTarget): string[] {
  const kubectl = shellQuote(t.kubectl ?? "kubectl");
  const ctx = t.context ? ` --context=${shellQuote(t.context)}` : "";
  return [
    "set -eu",
    "umask 077",
    'kc=$(mktemp "${TMPDIR:-/tmp}/ephemery-kubeconfig.XXXXXX")',
    "trap 'rm -f \"$kc\"' EXIT",
    "IFS= read -r line",
    'printf %s "$line" | base64 -d > "$kc"',
    "unset line",
    `k() { ${kubectl} --kubeconfig="$kc"${ctx} "$@"; }`,
  ];
}

/** The node's objects by label (what the node's commands select). */
export function nodeSelector(t: KubectlTarget): string {
  const l = labelsOf(t.node);
  return shellQuote(`app.kubernetes.io/instance=${l["app.kubernetes.io/instance"]},app.kubernetes.io/managed-by=${l["app.kubernetes.io/managed-by"]}`);
}

/**
 * The node's namespace command: makes the namespace when missing (never a Namespace resource: a namespace may
 * hold several nodes, and deleting it would delete their PVCs), and removes the
 * `kubectl.kubernetes.io/last-applied-configuration` annotation an earlier `kubectl apply` of the node left on
 * its Secrets (it holds their data in plain text). It takes over an older stack's `<node>-apply` command
 * (components/kubernetesNode.ts aliases it), so that stack updates it instead of running its delete.
 */
export function namespaceCommand(t: KubectlTarget): string {
  const ns = shellQuote(t.namespace);
  return [
    ...kubectlPreamble(t),
    ensureNamespaceLine(t),
    // Removing an annotation an object lacks is no error (kubectl's annotate deletes the key from a map).
    `for s in $(k get secrets -n ${ns} -l ${nodeSelector(t)} -o name); do`,
    `  k annotate "$s" -n ${ns} ${shellQuote(`${LAST_APPLIED}-`)} >/dev/null`,
    "done",
  ].join("\n");
}

/** Makes the namespace when missing, labelled as ours; never deletes one. */
export function ensureNamespaceLine(t: KubectlTarget): string {
  const ns = shellQuote(t.namespace);
  return `k get namespace ${ns} -o name >/dev/null 2>&1 || { k create namespace ${ns} && k label namespace ${ns} ${shellQuote("app.kubernetes.io/managed-by=pulumi-ephemery")}; }`;
}

/** `kubectl rollout status` of each StatefulSet, in order. */
export function rolloutLines(t: KubectlTarget, statefulSets: string[], timeoutSec: number): string[] {
  return statefulSets.map((s) => `k rollout status statefulset/${shellQuote(s)} -n ${shellQuote(t.namespace)} --timeout=${timeoutSec}s`);
}

/** The annotation client-side `kubectl apply` writes: the whole applied object, a Secret's data included. */
export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * Waits for the rollout of the node's StatefulSets: the provider's StatefulSet update await of 4.34.2 can return
 * on the previous rollout's status (pulumi/pulumi-kubernetes#3329, fixed by #4094 later; tests/k8s/provider.test.ts).
 */
export function rolloutCommand(t: KubectlTarget, statefulSets: string[], timeoutSec = 600): string {
  return [
    ...kubectlPreamble(t),
    ...rolloutLines(t, statefulSets, timeoutSec),
  ].join("\n");
}

/**
 * Deletes the node's PVCs (its data and identity: node keys, slashing protection) by the node's labels: the
 * delete of the node's data command when retainDataOnDestroy is false, which runs once its StatefulSets are gone.
 * The StatefulSets always render whenDeleted: Retain, so a StatefulSet replaced (a claim template change) keeps them.
 */
export function deleteDataCommand(t: KubectlTarget, timeoutSec = 300): string {
  return [
    ...kubectlPreamble(t),
    `k delete pvc -n ${shellQuote(t.namespace)} -l ${nodeSelector(t)} --ignore-not-found --wait=true --timeout=${timeoutSec}s`,
  ].join("\n");
}

/** stdin of the commands that need only the kubeconfig: its line, ended (`read` fails at EOF without a newline). */
export function kubeconfigStdin(kubeconfig: string): string {
  return `${kubeconfigLine(kubeconfig)}\n`;
}

/** The kubeconfig as stdin's first line (base64: one line whatever it holds). */
export function kubeconfigLine(kubeconfig: string): string {
  return Buffer.from(kubeconfig, "utf8").toString("base64");
}
