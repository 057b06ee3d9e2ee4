/**
 * Images: every image is pinned (a version tag or a digest), and each node pairs an execution and a
 * consensus client that are known to run Ephemery together.
 */
import { isImageRef, isPinned, parseImage } from "../lib/config/images";
import { asArray, CLIENT_TYPES, COMPOSE_TYPE, CONTAINER_TYPE, Facts, indexByUrn, label, MONITORING_TYPE, nodeOf, ResourceRule, StackRule, Violation } from "./common";

/** The image references a resource names, with where each one sits. */
export function imageRefs(r: Facts): { where: string; ref: string }[] {
  const refs: { where: string; ref: unknown }[] = [];
  if ((Object.values(CLIENT_TYPES) as string[]).includes(r.type)) refs.push({ where: "image", ref: r.props.image });
  if (r.type === COMPOSE_TYPE) asArray<any>(r.props.services).forEach((s) => refs.push({ where: `service ${s.name}`, ref: s.image }));
  if (r.type === MONITORING_TYPE) {
    const images = r.props.images;
    if (images && typeof images === "object") for (const [k, v] of Object.entries(images)) refs.push({ where: `images.${k}`, ref: v });
  }
  if (r.type === "docker:index/remoteImage:RemoteImage") refs.push({ where: "name", ref: r.props.name });
  // A container started from a pulled image names it by id (sha256:...), which is pinned by nature.
  if (r.type === CONTAINER_TYPE && typeof r.props.image === "string" && !r.props.image.startsWith("sha256:")) refs.push({ where: "image", ref: r.props.image });
  return refs.filter((x): x is { where: string; ref: string } => typeof x.ref === "string");
}

export const imagesPinned: ResourceRule = {
  name: "images-pinned",
  description: "Checks whether every container image is pinned to a version tag or a digest.",
  check(r) {
    return imageRefs(r).flatMap(({ where, ref }) => {
      if (!isImageRef(ref)) {
        return [`The image "${ref}" (${where} of ${label(r)}) must be a valid reference such as repository:v1.2.3 or repository@sha256:<digest>.`];
      }
      return isPinned(parseImage(ref))
        ? []
        : [`The image "${ref}" (${where} of ${label(r)}) must be pinned to a version tag or a digest, not "latest" or no tag: ` +
          `an unpinned image changes under a running node. Set the image override to a release tag, e.g. ${parseImage(ref).repository}:v<version>.`];
    });
  },
};

/**
 * EL/CL pairs that ran Ephemery's genesis validators, from ephemery-testnet/ephemery-genesis `client-pairs.md`
 * (the table of pairs operators claimed for the genesis validator set). Other pairs may well work; add them
 * to the policy config once you have run them through a reset.
 */
export const KNOWN_GOOD_PAIRS = ["geth/lighthouse", "geth/lodestar", "erigon/lighthouse", "besu/lodestar"];

export interface PairConfig {
  extraPairs: string[];
}

/** `execution/consensus` per node, from the client components and compose services. */
export function clientPairs(resources: Facts[]): { node: string; execution?: string; consensus?: string; urn: string }[] {
  const byUrn = indexByUrn(resources);
  const nodes = new Map<string, { node: string; execution?: string; consensus?: string; urn: string }>();
  const note = (node: string, role: string, client: string, urn: string) => {
    const n = nodes.get(node) ?? { node, urn };
    if (role === "execution") n.execution = client;
    if (role === "consensus") { n.consensus = client; n.urn = urn; }
    nodes.set(node, n);
  };
  for (const r of resources) {
    if (r.type === CLIENT_TYPES.execution || r.type === CLIENT_TYPES.consensus) {
      note(nodeOf(r, byUrn) ?? r.name, r.props.role, r.props.client, r.urn);
    } else if (r.type === COMPOSE_TYPE) {
      for (const s of asArray<any>(r.props.services)) note(r.props.node ?? r.name, s.role, s.client, r.urn);
    }
  }
  return [...nodes.values()];
}

export const clientPairKnownToWork: StackRule<PairConfig> = {
  name: "client-pair-known-to-work",
  description: "Checks whether each node pairs an execution and a consensus client known to run Ephemery together.",
  config: {
    extraPairs: {
      type: "array",
      items: { type: "string", pattern: "^[a-z]+/[a-z]+$" },
      default: [],
      description: "More execution/consensus pairs to accept, e.g. \"nethermind/teku\".",
    },
  },
  check(resources, config) {
    const good = new Set([...KNOWN_GOOD_PAIRS, ...config.extraPairs]);
    const out: Violation[] = [];
    for (const p of clientPairs(resources)) {
      if (!p.execution || !p.consensus) continue;
      const pair = `${p.execution}/${p.consensus}`;
      if (!good.has(pair)) {
        out.push({
          urn: p.urn,
          message: `Node "${p.node}" should pair clients known to run Ephemery; ${pair} is not in the list (${[...good].join(", ")}). ` +
            `Pick a listed pair, or, once this pair has survived a reset, add "${pair}" to the extraPairs policy config.`,
        });
      }
    }
    return out;
  },
};
