/**
 * The key release step of a kubernetes node (lib/kubernetes/keys.ts has the rest of its keys). Pure.
 */
import { shellQuote } from "../hostScripts";
import { KubectlTarget, kubectlPreamble } from "./kubectl";
import { EXPORT_INIT_CONTAINER, EXPORTED_KEY, keyExportNames, PUBLISH_CONTAINER, REQUEST_KEY } from "./keyExport";
import { PUBKEYS_ANNOTATION } from "./keys";

export interface ReleaseTimeouts {
  /** How long the pod may take to be gone after scaling to 0 (lib/kubernetes/reset.ts stopTimeoutSec). */
  stopSec: number;
  /** How long the export Job may take (its activeDeadlineSeconds, and a minute). */
  exportSec: number;
}

/** What the release reads back from the export Secret at most (base64): the checker keeps it below this. */
export const MAX_READ_BYTES = 1024 * 1024;

/**
 * The `<node>-keys-release` step of a kubernetes node, run before any node of the update applies or installs
 * (components/validatorKeys.ts registry). stdin after the kubeconfig line: one line of the pubkeys this node
 * keeps, one line of the pubkeys other nodes of the stack carry (comma-separated), then the export objects
 * (lib/kubernetes/keyExport.ts) as YAML. Keys leaving to nowhere are removed by the node's own apply, which rolls
 * the pod without them: `released 0`. Keys leaving for another node: the node's StatefulSet is scaled to 0 and
 * its pod awaited gone, the export Job writes their slashing protection into the export Secret, and this prints
 * it as a host's release does, between the BEGIN/END SLASHING PROTECTION lines, then `released <n>`. The
 * pod stays stopped until the node's own apply (after every release) starts it without those keys. On any
 * failure the pod is scaled back to 1 with its keys unchanged (nothing moved yet), the export objects are kept
 * for inspection, and the step fails naming what to do.
 */
export function releaseCommand(t: KubectlTarget, timeouts: ReleaseTimeouts, moveWaitEpochs: number): string {
  const ns = shellQuote(t.namespace);
  const sts = shellQuote(t.node);
  const pod = `${t.node}-0`;
  const names = keyExportNames(t.node);
  const job = shellQuote(names.job);
  const secret = shellQuote(names.secret);
  const exportObjects = ["job", "configmap", "secret", "rolebinding.rbac.authorization.k8s.io", "role.rbac.authorization.k8s.io", "serviceaccount"].map((k) => shellQuote(`${k}/${names.job}`)).join(" ");
  const fallback = `or move the keys by hand (README, Validator keys on Kubernetes: the manual fallback, ${moveWaitEpochs} epochs apart)`;
  return [
    ...kubectlPreamble(t),
    "IFS= read -r keep || keep=''",
    "IFS= read -r elsewhere || elsewhere=''",
    'objects=$(mktemp "${TMPDIR:-/tmp}/ephemery-keys-export.XXXXXX")',
    "trap 'rm -f \"$kc\" \"$objects\"' EXIT",
    'cat > "$objects"',
    `live=$(k get statefulset ${sts} -n ${ns} --ignore-not-found -o ${shellQuote(`jsonpath={.metadata.annotations.${PUBKEYS_ANNOTATION.replace(/\./g, "\\.")}}`)})`,
    'moving=""',
    'count=0',
    // The annotation comes from the cluster: split without globbing, and every word must be a pubkey.
    "set -f",
    'for pk in $(printf %s "$live" | tr , " "); do',
    `  case "$pk" in *[!0-9a-f]*|"") echo "the annotation ${PUBKEYS_ANNOTATION} of statefulset ${t.node} holds something other than pubkeys; restore it with pulumi up from the last good config, or remove it" >&2; exit 1 ;; esac`,
    `  [ "\${#pk}" -eq 96 ] || { echo "the annotation ${PUBKEYS_ANNOTATION} of statefulset ${t.node} holds a word that is not a 48-byte pubkey; restore it with pulumi up from the last good config, or remove it" >&2; exit 1; }`,
    '  case ",$keep," in *",$pk,"*) continue ;; esac',
    '  case ",$elsewhere," in *",$pk,"*) moving="${moving:+$moving,}$pk"; count=$((count + 1)) ;; esac',
    "done",
    'if [ -z "$moving" ]; then echo "released 0"; exit 0; fi',
    `[ -s "$objects" ] || { echo "the release step of kubernetes node ${t.node} got no export objects in its stdin; run pulumi up again with this version of the program" >&2; exit 1; }`,
    `echo "$count validator key(s) leave kubernetes node ${t.node} for another node: stopping its validator and exporting their slashing protection" >&2`,
    // Nothing has moved when this runs: the keys' Secret is unchanged, so the pod may run again as it was.
    "fail() {",
    `  echo "keys release of kubernetes node ${t.node}: $1" >&2`,
    `  if k scale statefulset ${sts} -n ${ns} --replicas=1 >/dev/null; then echo "statefulset ${t.node} was scaled back to 1 with its keys unchanged; nothing was moved" >&2; else echo "statefulset ${t.node} could not be scaled back to 1: run kubectl scale statefulset ${t.node} -n ${t.namespace} --replicas=1" >&2; fi`,
    "  exit 1",
    "}",
    `k delete ${exportObjects} -n ${ns} --ignore-not-found --wait=true >/dev/null || fail "the export objects of an earlier run (${names.job}) could not be deleted; delete them with kubectl, then run pulumi up again"`,
    `k scale statefulset ${sts} -n ${ns} --replicas=0 >/dev/null || { echo "could not scale statefulset ${t.node} to 0; nothing was changed" >&2; exit 1; }`,
    `deadline=$(( $(date +%s) + ${timeouts.stopSec} ))`,
    `while [ -n "$(k get pod ${shellQuote(pod)} -n ${ns} --ignore-not-found -o name)" ]; do`,
    `  [ "$(date +%s)" -lt "$deadline" ] || fail "pod ${t.namespace}/${pod} is still there ${timeouts.stopSec}s after scaling statefulset ${t.node} to 0, so its slashing protection cannot be exported; find what holds it (kubectl describe pod ${pod} -n ${t.namespace}), then run pulumi up again"`,
    "  sleep 2",
    "done",
    `k apply -f "$objects" >/dev/null || fail "the export objects (${names.job}) could not be created; check that the kubeconfig may create Jobs, Secrets, ConfigMaps and RBAC in namespace ${t.namespace}, then run pulumi up again"`,
    // The request (public pubkeys, validated above) before the Job starts: its pod mounts it.
    `k patch secret ${secret} -n ${ns} --type=merge -p "{\\"stringData\\":{\\"${REQUEST_KEY}\\":\\"$moving\\"}}" >/dev/null || fail "the export request could not be written into secret ${names.secret}"`,
    `k patch job ${job} -n ${ns} --type=merge -p '{"spec":{"suspend":false}}' >/dev/null || fail "the export job ${names.job} could not be started"`,
    `deadline=$(( $(date +%s) + ${timeouts.exportSec} ))`,
    "while :; do",
    `  state=$(k get job ${job} -n ${ns} -o ${shellQuote("jsonpath={.status.succeeded}/{.status.failed}")}) || state=unknown`,
    '  case "$state" in',
    "    1/*) break ;;",
    `    */[1-9]*) fail "the export job ${names.job} failed, so the slashing protection was not exported (see kubectl logs job/${names.job} -n ${t.namespace} -c ${EXPORT_INIT_CONTAINER}, and -c ${PUBLISH_CONTAINER}); fix the cause and run pulumi up again, ${fallback}" ;;`,
    "  esac",
    `  [ "$(date +%s)" -lt "$deadline" ] || fail "the export job ${names.job} did not finish within ${timeouts.exportSec}s (kubectl describe job ${names.job} -n ${t.namespace}); fix the cause and run pulumi up again, ${fallback}"`,
    "  sleep 2",
    "done",
    `exported=$(k get secret ${secret} -n ${ns} -o ${shellQuote(`jsonpath={.data.${EXPORTED_KEY.replace(/\./g, "\\.")}}`)} | head -c ${MAX_READ_BYTES + 1}) || fail "secret ${names.secret} could not be read back"`,
    `[ "\${#exported}" -le ${MAX_READ_BYTES} ] || fail "secret ${names.secret} holds more than ${MAX_READ_BYTES} bytes of slashing protection; it was not read"`,
    `case "$exported" in ""|*[!A-Za-z0-9+/=]*) fail "secret ${names.secret} holds no slashing protection (or not base64) after the export job succeeded; run pulumi up again, ${fallback}" ;; esac`,
    `json=$(printf %s "$exported" | base64 -d) || fail "the slashing protection in secret ${names.secret} is not base64"`,
    // Checked in the job (keyExportCheck.ts) and again by the program, which parses the block below (parseReleased).
    `case "$json" in "{"*"}") ;; *) fail "the slashing protection in secret ${names.secret} is not a JSON object; run pulumi up again, ${fallback}" ;; esac`,
    `k delete ${exportObjects} -n ${ns} --ignore-not-found --wait=false >/dev/null || echo "warning: the export objects ${names.job} could not be deleted; the next release deletes them" >&2`,
    'echo "-----BEGIN SLASHING PROTECTION-----"',
    'printf \'%s\\n\' "$json"',
    'echo "-----END SLASHING PROTECTION-----"',
    'echo "released $count"',
  ].join("\n");
}

/** stdin of releaseCommand: the kubeconfig line, the kept pubkeys, the pubkeys carried elsewhere, the export objects. */
export function releaseStdin(kubeconfigLine: string, keep: string[], elsewhere: string[], exportObjectsYaml: string): string {
  return `${kubeconfigLine}\n${keep.join(",")}\n${elsewhere.join(",")}\n${exportObjectsYaml}`;
}
