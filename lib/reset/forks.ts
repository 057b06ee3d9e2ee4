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
import { activeForks, ClientForkSupport, parseConfigYaml, TRACKED_FORKS, UnsupportedFork, unsupportedForks } from "./release";

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

export interface ForkReport {
  /** Tracked forks every pinned client of the node runs. */
  supported: string[];
  /** Tracked forks some pinned client does not run, with those clients as `client version (role)`. */
  lacking: { fork: string; clients: string[] }[];
  /** Clients whose image tag carries no version the table can judge. */
  unknown: string[];
  /** With a release config.yaml: the forks it activates that a pinned client does not run. */
  unsupported: UnsupportedFork[];
}

const who = (c: { client: string; version: string; role: string }) => `${c.client} ${c.version} (${c.role})`;

/** What the node's pinned clients run, and (given a release's config.yaml text) what that release needs. Pure. */
export function forkReport(specs: NodeSpecs, releaseConfigYaml?: string): ForkReport {
  const clients = nodeForkSupport(specs);
  const known = clients.filter((c) => c.known);
  const report: ForkReport = {
    supported: TRACKED_FORKS.filter((f) => known.every((c) => c.forks.includes(f))),
    lacking: TRACKED_FORKS.map((fork) => ({ fork, clients: known.filter((c) => !c.forks.includes(fork)).map(who) })).filter((l) => l.clients.length > 0),
    unknown: clients.filter((c) => !c.known).map(who),
    unsupported: [],
  };
  if (releaseConfigYaml !== undefined) {
    const problems: string[] = [];
    const forks = activeForks(parseConfigYaml(releaseConfigYaml), problems);
    if (problems.length) throw new Error(problems.join("; "));
    report.unsupported = unsupportedForks(forks, clients);
  }
  return report;
}

/** One line per finding, for `ephemery status`, `reset plan` and `config check`. */
export function forkLines(r: ForkReport, release?: string): string[] {
  const lines = [`forks: ${r.supported.join(", ") || "none of the tracked forks"} run on every pinned client${r.lacking.length ? `; ${r.lacking.map((l) => `${l.fork} not on ${l.clients.join(", ")}`).join("; ")}` : ""}`];
  if (r.unknown.length) lines.push(`forks: cannot judge ${r.unknown.join(", ")}: the image tag has no version`);
  for (const u of r.unsupported) lines.push(unsupportedForkMessage(u, release));
  return lines;
}

export function unsupportedForkMessage(u: UnsupportedFork, release = "the release"): string {
  return `${release} activates ${u.fork} at epoch ${u.epoch}, which ${u.client} ${u.version} (${u.role}) does not support: set a newer image before its genesis`;
}

/** The reset program's ephemery-release.prom, parsed (labels are the checker's safe charset). */
export function parseReleaseMetrics(text: string): { scheduleMismatch: boolean; unsupported: (UnsupportedFork & { iteration: number })[] } {
  const out = { scheduleMismatch: false, unsupported: [] as (UnsupportedFork & { iteration: number })[] };
  for (const line of text.split("\n").slice(0, 1000)) {
    if (/^ephemery_release_schedule_mismatch\{[^}]*\} 1$/.test(line)) out.scheduleMismatch = true;
    const m = /^ephemery_release_fork_unsupported\{node="[^"]*",iteration="(\d+)",fork="([\w.-]+)",epoch="(\d+)",role="([\w.-]+)",client="([\w.-]+)",version="([\w.-]+)"\} 1$/.exec(line);
    if (m) out.unsupported.push({ iteration: Number(m[1]), fork: m[2], epoch: Number(m[3]), role: m[4], client: m[5], version: m[6] });
  }
  return out;
}
