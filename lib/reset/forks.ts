/**
 * Which client version first runs each fork Ephemery may activate, and what a node's pinned clients support.
 * Pure. Ephemery gets forks before mainnet: a staged release whose config.yaml activates a fork that a pinned
 * version does not run is reported 2 hours before genesis (metric, alert, `ephemery status` / `reset plan`).
 *
 * Sources: the clients' release notes as summarised in the Ethereum Foundation's upgrade announcements
 * (Pectra: the Holesky/Sepolia testnet announcement of February 2025 for the first Electra-capable releases;
 * Fusaka: the mainnet announcement of November 2025, whose releases are the ones pinned in lib/config/images.ts).
 * Fulu entries are therefore conservative (the mainnet-ready release, not the first testnet one). Gloas/Amsterdam
 * (Glamsterdam) has no released client yet. Refresh this table when a pin moves past a fork's first version.
 */
import { ContainerSpec, NodeSpecs } from "../clients";
import { parseImage } from "../config/images";
import { ClientForkSupport, TRACKED_FORKS } from "./release";

/** Per client (as `spec.client` names it), the first version running each fork; absent = none released yet. */
export const FORK_FIRST_VERSIONS: Record<string, Partial<Record<(typeof TRACKED_FORKS)[number], string>>> = {
  geth: { electra: "1.15.0", fulu: "1.16.7" },
  nethermind: { electra: "1.31.0", fulu: "1.35.2" },
  besu: { electra: "25.2.0", fulu: "25.11.0" },
  reth: { electra: "1.2.0", fulu: "1.9.3" },
  erigon: { electra: "3.0.0", fulu: "3.2.2" },
  lighthouse: { electra: "7.0.0", fulu: "8.0.1" },
  teku: { electra: "25.2.0", fulu: "25.11.1" },
  prysm: { electra: "5.3.0", fulu: "7.0.0" },
  nimbus: { electra: "25.2.0", fulu: "25.11.0" },
  lodestar: { electra: "1.27.0", fulu: "1.36.0" },
};

/** `v1.16.7`, `25.11.1`, `multiarch-v25.11.0`, `v8.0.1-modern` -> [1,16,7]...; undefined when no version is in the tag. */
export function versionOf(tag: string | undefined): number[] | undefined {
  const m = /(?:^|[^0-9.])v?(\d{1,5})\.(\d{1,5})(?:\.(\d{1,5}))?(?![0-9])/.exec(`-${tag ?? ""}`);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

function atLeast(v: number[], min: number[]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i] > min[i];
  return true;
}

/** The forks a client at an image reference runs; `known: false` when the tag carries no comparable version. */
export function forkSupport(client: string, role: string, image: string): ClientForkSupport {
  const table = FORK_FIRST_VERSIONS[client];
  const tag = parseImage(image).tag;
  const v = versionOf(tag);
  if (!table || !v) return { client, role, version: tag ?? "unknown", forks: [], known: false };
  const forks = TRACKED_FORKS.filter((f) => {
    const first = table[f];
    return first !== undefined && atLeast(v, versionOf(first)!);
  });
  return { client, role, version: tag!, forks, known: true };
}

export function nodeForkSupport(specs: NodeSpecs): ClientForkSupport[] {
  const all: ContainerSpec[] = [specs.execution, specs.consensus, ...(specs.validator ? [specs.validator] : [])];
  return all.map((s) => forkSupport(s.client, s.role, s.image));
}
