/**
 * The kubectl lines that apply and delete one node's manifests (components/kubernetesNode.ts runs them through
 * @pulumi/command; the k8s tier runs the very same lines against a real cluster). Pure.
 *
 * The kubeconfig never reaches argv or the environment: it is the first line of stdin (base64, one line), written
 * by the script to a 0600 temp file that is removed on exit; the rest of stdin is the manifests. The command text
 * holds only validated names, each shell-quoted.
 */
import { shellQuote } from "../hostScripts";
import { KubeObject, labelsOf, toYaml } from "./manifests";

export interface KubectlTarget {
  namespace: string;
  node: string;
  context?: string;
  /** kubectl to run (default: `kubectl` on PATH). */
  kubectl?: string;
  /** Further StatefulSets of the node the apply waits for (its monitoring stack). Default: none. */
  alsoRollOut?: string[];
}

/** Kinds a node's apply owns: what it prunes when they leave the manifests (a p2p Service after an exposure change). */
export const PRUNE_ALLOWLIST = [
  "core/v1/Service", "core/v1/Secret", "apps/v1/StatefulSet",
  // The in-cluster reset (lib/kubernetes/reset.ts); its Jobs and pods go with the CronJob (owner references).
  "batch/v1/CronJob",
  // A keys export Job a failed release step left (lib/kubernetes/keyExport.ts); the CronJob's Jobs are not
  // applied, so prune never takes them.
  "batch/v1/Job",
  // The reset's program and the monitoring stack's files (lib/kubernetes/monitoring.ts), and both their RBAC.
  "core/v1/ConfigMap", "core/v1/ServiceAccount", "rbac.authorization.k8s.io/v1/Role", "rbac.authorization.k8s.io/v1/RoleBinding",
];

/** What delete removes by the node's labels: the kinds apply prunes. */
const DELETE_KINDS = "cronjob,job,statefulset,service,secret,configmap,serviceaccount,role.rbac.authorization.k8s.io,rolebinding.rbac.authorization.k8s.io";

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

function selector(t: KubectlTarget): string {
  const l = labelsOf(t.node);
  return shellQuote(`app.kubernetes.io/instance=${l["app.kubernetes.io/instance"]},app.kubernetes.io/managed-by=${l["app.kubernetes.io/managed-by"]}`);
}

/**
 * Makes the namespace when missing (the label selector that scopes the prune also filters stdin, so the
 * Namespace object itself is never applied from it: a namespace may hold several nodes), applies stdin's
 * manifests, prunes the node's objects that left them, and waits for the StatefulSet's rollout.
 */
export function applyCommand(t: KubectlTarget, rolloutTimeoutSec = 600): string {
  const ns = shellQuote(t.namespace);
  return [
    ...kubectlPreamble(t),
    `k get namespace ${ns} -o name >/dev/null 2>&1 || { k create namespace ${ns} && k label namespace ${ns} ${shellQuote("app.kubernetes.io/managed-by=pulumi-ephemery")}; }`,
    `k apply -f - --prune -l ${selector(t)} ${PRUNE_ALLOWLIST.map((k) => `--prune-allowlist=${k}`).join(" ")}`,
    ...[t.node, ...(t.alsoRollOut ?? [])].map((s) => `k rollout status statefulset/${shellQuote(s)} -n ${shellQuote(t.namespace)} --timeout=${rolloutTimeoutSec}s`),
  ].join("\n");
}

/**
 * Deletes the node's StatefulSet, Services and Secrets (by label, so stdin's manifests are not needed past the
 * kubeconfig). The namespace stays (it may hold other nodes, and deleting it would delete the PVCs); the data
 * PVCs follow the StatefulSet's persistentVolumeClaimRetentionPolicy: kept, or deleted with it.
 */
export function deleteCommand(t: KubectlTarget): string {
  return [
    ...kubectlPreamble(t),
    `k delete ${DELETE_KINDS} -n ${shellQuote(t.namespace)} -l ${selector(t)} --ignore-not-found --wait=true`,
  ].join("\n");
}

/** stdin of both commands: the kubeconfig as one base64 line, then the manifests (Secrets included) as YAML. */
export function kubectlStdin(kubeconfig: string, manifests: KubeObject[]): string {
  return `${kubeconfigLine(kubeconfig)}\n${toYaml(manifests)}`;
}

/** The kubeconfig as stdin's first line (base64: one line whatever it holds). */
export function kubeconfigLine(kubeconfig: string): string {
  return Buffer.from(kubeconfig, "utf8").toString("base64");
}
