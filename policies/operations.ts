/**
 * Operations: every node survives resets on its own, every validator is watched, and checkpoint state comes
 * over https.
 */
import { asArray, CLIENT_TYPES, Facts, indexByUrn, KEYS_TYPE, label, MONITORING_TYPE, nodeOf, NODE_TYPE, RESET_TYPE, ResourceRule, StackRule, Violation } from "./common";

function nodesOfType(resources: Facts[], type: string, byUrn: Map<string, Facts>): Map<string, Facts[]> {
  const out = new Map<string, Facts[]>();
  for (const r of resources.filter((x) => x.type === type)) {
    const node = nodeOf(r, byUrn);
    if (node !== undefined) out.set(node, [...(out.get(node) ?? []), r]);
  }
  return out;
}

export const nodeHasResetJob: StackRule = {
  name: "node-has-reset-job",
  description: "Checks whether every node has an enabled reset job that carries it across Ephemery's 28-day resets.",
  check(resources) {
    const byUrn = indexByUrn(resources);
    const resets = nodesOfType(resources, RESET_TYPE, byUrn);
    const out: Violation[] = [];
    for (const n of resources.filter((r) => r.type === NODE_TYPE)) {
      const node = nodeOf(n, byUrn) ?? n.name;
      const jobs = resets.get(node) ?? [];
      if (jobs.length === 0) {
        out.push({ urn: n.urn, message: `Node "${node}" must have a reset job, or it stops at the next Ephemery reset. Keep hosts[].reset.enabled true (the default).` });
      } else if (jobs.every((j) => j.props.enabled === false)) {
        out.push({ urn: jobs[0].urn, message: `The reset job of node "${node}" must be enabled, or the node stops at the next Ephemery reset. Set hosts[].reset.enabled to true.` });
      }
    }
    return out;
  },
};

/** Whether a monitoring stack's `alerts` input means alerting is on (a flag or a rule count). */
function hasAlerts(m: Facts): boolean {
  const a = m.props.alerts;
  return a === true || (typeof a === "number" && a > 0) || (Array.isArray(a) && a.length > 0);
}

export const validatorsHaveAlerting: StackRule = {
  name: "validators-have-alerting",
  description: "Checks whether every node that runs validators also runs monitoring with alert rules.",
  check(resources) {
    const byUrn = indexByUrn(resources);
    const monitoring = nodesOfType(resources, MONITORING_TYPE, byUrn);
    const validatorNodes = new Map<string, string>();
    for (const r of resources) {
      const runsValidators = (r.type === NODE_TYPE && r.props.validator === true) || r.type === CLIENT_TYPES.validator || r.type === KEYS_TYPE;
      const node = runsValidators ? nodeOf(r, byUrn) : undefined;
      if (node !== undefined && !validatorNodes.has(node)) validatorNodes.set(node, r.urn);
    }
    const out: Violation[] = [];
    for (const [node, urn] of validatorNodes) {
      const stacks = monitoring.get(node) ?? [];
      if (stacks.length === 0) {
        out.push({ urn, message: `Node "${node}" runs validators, so it must run monitoring with alerts: a missed attestation goes unnoticed otherwise. Set hosts[].monitoring.enabled to true.` });
      } else if (!stacks.some(hasAlerts)) {
        out.push({ urn: stacks[0].urn, message: `The monitoring of validator node "${node}" must have alert rules. Turn its alerts back on (hosts[].monitoring).` });
      }
    }
    return out;
  },
};

export interface CheckpointConfig {
  allowLoopbackHttp: boolean;
}

// A value starting with `$` is the start script's own variable (read from the testnet dir), not a URL.
const CHECKPOINT_FLAGS = /--(checkpoint-sync-url|checkpointSyncUrl|trusted-node-url|genesis-beacon-api-url)[= ]+["']?([^\s"'$][^\s"']*)/g;

/** Checkpoint providers a resource names: node settings, or flags in a consensus client's command. */
export function checkpointUrls(r: Facts): string[] {
  const urls = asArray<string>(r.props.checkpointSyncUrls).filter((u) => typeof u === "string");
  if (r.type === CLIENT_TYPES.consensus) {
    for (const part of asArray<string>(r.props.command)) {
      if (typeof part === "string") for (const m of part.matchAll(CHECKPOINT_FLAGS)) urls.push(m[2]);
    }
  }
  return [...new Set(urls)];
}

function isLoopbackUrl(u: string): boolean {
  return /^http:\/\/(localhost|127\.[0-9.]+|\[::1\])(:\d+)?(\/|$)/.test(u);
}

export const checkpointSyncUsesHttps: ResourceRule<CheckpointConfig> = {
  name: "checkpoint-sync-uses-https",
  description: "Checks whether checkpoint-sync providers are reached over https.",
  config: {
    allowLoopbackHttp: { type: "boolean", default: true, description: "Accept http:// on loopback (a provider tunnelled or served on the host itself)." },
  },
  check(r, config) {
    return checkpointUrls(r)
      .filter((u) => !u.startsWith("https://") && !(config.allowLoopbackHttp && isLoopbackUrl(u)))
      .map((u) => `The checkpoint-sync URL "${u}" of ${label(r)} must use https: a forged checkpoint over plain http puts the node on the wrong chain. ` +
        `Use the provider's https address in network.checkpointSyncUrls or hosts[].consensus.checkpointSyncUrls.`);
  },
};
