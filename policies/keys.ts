/**
 * Keys: a validator key signs from one place only. Reads `ephemery:keys:ValidatorKeys` (hosts) and
 * `ephemery:kubernetes:ValidatorKeys` (kind kubernetes nodes, which add `replicas` and `workload`), both
 * `{node, pubkeys, doppelganger, moveWaitEpochs, validatorClient}`, and the planned StatefulSets themselves
 * (`kubernetes:apps/v1:StatefulSet`, their `ephemery.dev/validator-pubkeys` annotation and `spec.replicas`):
 * what the cluster will run, whoever rendered it.
 */
import { PUBKEYS_ANNOTATION } from "../lib/kubernetes/keys";
import { asArray, Facts, KEYS_TYPES, KUBERNETES_KEYS_TYPE, label, nodeOf, indexByUrn, ResourceRule, StackRule, Violation } from "./common";

export const STATEFULSET_TYPE = "kubernetes:apps/v1:StatefulSet";

/** The pubkeys a planned StatefulSet's pods sign with (its annotation); none for any other resource. */
export function statefulSetPubkeys(r: Facts): string[] {
  if (r.type !== STATEFULSET_TYPE) return [];
  const v = r.props.metadata?.annotations?.[PUBKEYS_ANNOTATION];
  return typeof v === "string" ? v.split(",").filter((k) => k.trim() !== "") : [];
}

function workloadOf(r: Facts): string {
  return `statefulset/${r.props.metadata?.namespace ?? "default"}/${r.props.metadata?.name ?? r.name}`;
}

/** Lower-case hex without 0x, so `0xAB..` and `ab..` are the same key. */
export function normalizePubkey(key: string): string {
  return key.trim().toLowerCase().replace(/^0x/, "");
}

function short(key: string): string {
  return `0x${key.slice(0, 12)}…`;
}

export const validatorKeyOnOneHost: StackRule = {
  name: "validator-key-on-one-host",
  description: "Checks whether every validator pubkey is installed on at most one host of the stack.",
  check(resources) {
    const byUrn = indexByUrn(resources);
    const firstHost = new Map<string, { node: string; resource: Facts }>();
    const reported = new Set<string>();
    const out: Violation[] = [];
    // A kind kubernetes node says its keys twice (its keys facts and its StatefulSet): one node, one place.
    const holders = resources.filter((x) => KEYS_TYPES.includes(x.type) || statefulSetPubkeys(x).length > 0);
    for (const r of holders) {
      const node = nodeOf(r, byUrn) ?? (r.type === STATEFULSET_TYPE ? workloadOf(r) : r.name);
      const pubkeys = r.type === STATEFULSET_TYPE ? statefulSetPubkeys(r) : asArray<string>(r.props.pubkeys);
      for (const key of new Set(pubkeys.map(normalizePubkey))) {
        const first = firstHost.get(key);
        if (!first) {
          firstHost.set(key, { node, resource: r });
        } else if (first.node !== node && !reported.has(`${key} ${first.node} ${node}`)) {
          reported.add(`${key} ${first.node} ${node}`);
          out.push({
            urn: r.urn,
            message: `Validator key ${short(key)} must be installed on one host only: it is on "${first.node}" and "${node}" (${label(r)}). ` +
              `Remove it from one host's keys (hosts[].validator.keys), or move it with \`ephemery keys move\`, which waits before it signs again.` +
              ([r.type, first.resource.type].some((t) => t === KUBERNETES_KEYS_TYPE || t === STATEFULSET_TYPE)
                ? " A key leaves a kind kubernetes node the same way, in one pulumi up: its release step stops the pod and exports the slashing protection from the validator's data volume (README: Validator keys on Kubernetes)."
                : ""),
          });
        }
      }
    }
    return out;
  },
};

export interface ForeignKeysConfig {
  ownedElsewhere: Record<string, string[]>;
}

export const validatorKeyNotOwnedElsewhere: ResourceRule<ForeignKeysConfig> = {
  name: "validator-key-not-owned-elsewhere",
  description: "Checks whether the stack installs validator pubkeys that another stack or machine already runs.",
  types: KEYS_TYPES,
  config: {
    ownedElsewhere: {
      type: "object",
      additionalProperties: { type: "array", items: { type: "string" } },
      default: {},
      description: "Pubkeys that run elsewhere, by owner (for example another stack's name, filled from its `pubkeys` output).",
    },
  },
  check(r, config) {
    const owners = new Map<string, string>();
    for (const [owner, keys] of Object.entries(config.ownedElsewhere)) for (const k of keys) owners.set(normalizePubkey(k), owner);
    const out: string[] = [];
    for (const key of new Set(asArray<string>(r.props.pubkeys).map(normalizePubkey))) {
      const owner = owners.get(key);
      if (owner) {
        out.push(`Validator key ${short(key)} must not be installed on "${r.props.node}": "${owner}" runs it. ` +
          `Stop and remove it there first (and wait at least 2 epochs), then drop it from the ownedElsewhere policy config.`);
      }
    }
    return out;
  },
};

export const doppelgangerProtectionOn: ResourceRule = {
  name: "doppelganger-protection-on",
  description: "Checks whether every validator client starts with doppelganger protection.",
  types: KEYS_TYPES,
  check(r) {
    return r.props.doppelganger === false
      ? [`Doppelganger protection must be on for the validator keys on "${r.props.node}". Set hosts[].validator.doppelganger to true (the default).`]
      : [];
  },
};

export interface MoveWaitConfig {
  minMoveWaitEpochs: number;
}

export const keyMoveWaitsEnough: ResourceRule<MoveWaitConfig> = {
  name: "key-move-waits-enough",
  description: "Checks whether a validator key moved between hosts waits enough epochs before it signs again.",
  types: KEYS_TYPES,
  config: {
    minMoveWaitEpochs: { type: "integer", minimum: 0, default: 2, description: "Fewest epochs a moved key must wait (Ephemery: 32 slots of 12 s per epoch)." },
  },
  check(r, config) {
    const wait = r.props.moveWaitEpochs;
    return typeof wait === "number" && wait < config.minMoveWaitEpochs
      ? [`A moved validator key must wait at least ${config.minMoveWaitEpochs} epochs before it signs on "${r.props.node}"; it waits ${wait}. ` +
        `Raise hosts[].validator.keys.moveWaitEpochs to ${config.minMoveWaitEpochs} or more.`]
      : [];
  },
};

export const validatorKeysSingleReplica: ResourceRule = {
  name: "validator-keys-single-replica",
  description: "Checks whether a kind kubernetes node with validator keys runs them in a StatefulSet of exactly one replica.",
  types: [KUBERNETES_KEYS_TYPE, STATEFULSET_TYPE],
  check(r) {
    const sts = r.type === STATEFULSET_TYPE;
    // The planned StatefulSet's own spec, or the node's keys facts (what the renderer wrote).
    // A StatefulSet without replicas runs 1 (the API server's default).
    const replicas = sts ? r.props.spec?.replicas ?? 1 : r.props.replicas;
    const keys = sts ? statefulSetPubkeys(r).length : asArray(r.props.pubkeys).length;
    const node = sts ? r.props.metadata?.name ?? r.name : r.props.node;
    const workload = sts ? workloadOf(r) : r.props.workload ?? "unknown";
    // Unknown during a preview only when the plan computes it; the renderer always writes a number.
    return keys > 0 && replicas !== 1
      ? [`The ${keys} validator key(s) of "${node}" must run in one pod: its StatefulSet (${workload}) has replicas ${JSON.stringify(replicas)}, and every replica would sign with the same keys. ` +
        "Keep replicas at 1 (lib/kubernetes/manifests.ts renders 1); run more validators as more nodes with their own keys."]
      : [];
  },
};
