/**
 * The key release step of a kubernetes node (lib/kubernetes/keys.ts has the rest of its keys). Pure.
 */
import { shellQuote } from "../hostScripts";
import { KubectlTarget, kubectlPreamble } from "./kubectl";
import { INTERCHANGE_FILE, PUBKEYS_ANNOTATION } from "./keys";

/**
 * The `<node>-keys-release` step of a kubernetes node, run before any node of the update applies or installs
 * (components/validatorKeys.ts registry). stdin after the kubeconfig line: one line of the pubkeys this node
 * keeps, one line of the pubkeys other nodes of the stack carry (comma-separated). Keys leaving this node for
 * another are refused: its slashing protection lives in the VC's data PVC and is not carried over (yet), so
 * the move must be done in two steps. Keys leaving to nowhere are removed by the node's own apply, which rolls
 * the pod without them. Prints `released 0` like the host's release (no slashing-protection block).
 */
export function releaseCommand(t: KubectlTarget, moveWaitEpochs: number): string {
  const ns = shellQuote(t.namespace);
  const sts = shellQuote(t.node);
  return [
    ...kubectlPreamble(t),
    "IFS= read -r keep || keep=''",
    "IFS= read -r elsewhere || elsewhere=''",
    `live=$(k get statefulset ${sts} -n ${ns} --ignore-not-found -o ${shellQuote(`jsonpath={.metadata.annotations.${PUBKEYS_ANNOTATION.replace(/\./g, "\\.")}}`)})`,
    'moving=""',
    // The annotation comes from the cluster: split without globbing, and every word must be a pubkey.
    "set -f",
    'for pk in $(printf %s "$live" | tr , " "); do',
    `  case "$pk" in *[!0-9a-f]*|"") echo "the annotation ${PUBKEYS_ANNOTATION} of statefulset ${t.node} holds something other than pubkeys; restore it with pulumi up from the last good config, or remove it" >&2; exit 1 ;; esac`,
    `  [ "\${#pk}" -eq 96 ] || { echo "the annotation ${PUBKEYS_ANNOTATION} of statefulset ${t.node} holds a word that is not a 48-byte pubkey; restore it with pulumi up from the last good config, or remove it" >&2; exit 1; }`,
    '  case ",$keep," in *",$pk,"*) continue ;; esac',
    '  case ",$elsewhere," in *",$pk,"*) moving="$moving 0x$pk" ;; esac',
    "done",
    'if [ -n "$moving" ]; then',
    `  echo "validator key(s)$moving leave kubernetes node ${t.node} for another node in this update. Their slashing protection is in ${t.node}'s validator data volume and is not carried over in one pulumi up, so this move is refused and nothing was changed. Move them in two steps: (1) take them out of both nodes' keys (remove them from ${t.node}, do not add them to the other node yet) and run pulumi up; (2) export ${t.node}'s slashing protection (the validator client's own export, e.g. kubectl exec ${t.node}-0 -c validator), put it into the new node's key source as ${INTERCHANGE_FILE}, wait at least ${moveWaitEpochs} epochs (${moveWaitEpochs * 384} s) after step 1, add the keys to the new node and run pulumi up" >&2`,
    "  exit 1",
    "fi",
    'echo "released 0"',
  ].join("\n");
}

/** stdin of releaseCommand: the kubeconfig line, the kept pubkeys, the pubkeys carried elsewhere. */
export function releaseStdin(kubeconfigLine: string, keep: string[], elsewhere: string[]): string {
  return `${kubeconfigLine}\n${keep.join(",")}\n${elsewhere.join(",")}\n`;
}
