/**
 * What a reset does to each node, in order, derived offline from the stack config: the same specs the program
 * and the host-side reset program are built from. Pure: used by `ephemery reset plan` and its tests.
 */
import { buildNodeSpecs, ContainerSpec, hostPaths, NodeSpecs } from "../clients";
import { DEFAULT_CHECKPOINT_SYNC_URLS, HostConfig, StackConfig } from "../config/schema";
import { chainIdOf, clGenesisTime, elGenesisTime, EphemerySchedule, iterationAt, releaseTag } from "../ephemery";
import { ForkReport, forkLines, forkReport } from "./forks";
import { requiredReleaseFiles } from "./values";

export type ResetAction = "stop" | "archive" | "wipe" | "swap" | "init" | "start" | "check";

export interface ResetStep {
  action: ResetAction;
  /** Container, volume or directory the step acts on. */
  target: string;
  detail: string;
  /** wipe steps: paths (relative to the volume) that survive: the node identity. */
  keep?: string[];
}

export interface NodeResetPlan {
  node: string;
  runtime: HostConfig["runtime"];
  enabled: boolean;
  schedule: string;
  from: number;
  to: number;
  /** When the switch happens: the new iteration's EL genesis. */
  switchAt: number;
  steps: ResetStep[];
  /** What the pinned clients run, and with a release config.yaml what that release activates that they do not. */
  forks: ForkReport;
  /** The same as lines for people. */
  forkLines: string[];
}

/** ELs that need `init` from genesis.json on an empty data dir; their containers run it at start. */
const INIT_FROM_GENESIS = new Set(["geth", "erigon"]);
const GENESIS_FILE: Record<string, string> = {
  besu: "besu.json (genesis.json in releases without it)",
  nethermind: "chainspec.json (genesis.json in releases without it)",
  reth: "genesis.json",
};

/**
 * The plan for the next reset after `now` (unix seconds), on the configured schedule; `releaseConfigYaml` (a
 * release's config.yaml) adds the forks it activates that a pinned client does not run.
 */
export function resetPlan(config: StackConfig, now: number, releaseConfigYaml?: string, releaseName?: string): NodeResetPlan[] {
  const schedule: EphemerySchedule = config.network.schedule;
  const from = iterationAt(now, schedule);
  return config.hosts.map((host) => {
    const urls = host.consensus.checkpointSyncUrls ?? config.network.checkpointSyncUrls ?? DEFAULT_CHECKPOINT_SYNC_URLS;
    const specs = buildNodeSpecs({ node: host.name, host, checkpointSyncUrls: urls });
    const forks = forkReport(specs, releaseConfigYaml);
    return {
      node: host.name,
      runtime: host.runtime,
      enabled: host.reset.enabled,
      schedule: host.reset.schedule,
      from,
      to: from + 1,
      switchAt: elGenesisTime(from + 1, schedule),
      steps: nodeSteps(host, specs, from, from + 1, schedule),
      forks,
      forkLines: forkLines(forks, releaseName),
    };
  });
}

function nodeSteps(host: HostConfig, specs: NodeSpecs, from: number, to: number, schedule: EphemerySchedule): ResetStep[] {
  const paths = hostPaths(host.dataDir, host.name);
  const { execution: el, consensus: cl, validator: vc } = specs;
  const running = [el, cl, ...(vc ? [vc] : [])];
  const steps: ResetStep[] = [];
  for (const s of [...running].reverse()) {
    steps.push({ action: "stop", target: s.name, detail: `${s.client} ${s.role}, ${s.stopGraceSec}s to shut down` });
  }
  if (vc) {
    for (const p of vc.slashingProtection ?? []) {
      steps.push({
        action: "archive",
        target: `${vc.data.volume}:${p}`,
        detail: `${vc.client} slashing-protection database moves to ${paths.archive}/${releaseTag(from)}/${vc.client}-slashing-protection/${p}; the new chain starts with a fresh one`,
      });
    }
  }
  for (const s of [el, cl]) steps.push(wipeStep(s));
  steps.push({
    action: "swap",
    target: `${paths.testnetRoot}/current`,
    detail: `-> releases/${releaseTag(to)} (verified ${requiredReleaseFiles(specs).join(", ")}), keeping ${host.reset.keepPreviousTestnets} previous release(s)`,
  });
  steps.push({
    action: "init",
    target: el.name,
    detail: INIT_FROM_GENESIS.has(el.client)
      ? `${el.client} init from genesis.json runs in the container at start, because the wipe removed its chain data`
      : `${el.client} reads ${GENESIS_FILE[el.client] ?? "its genesis file"} from the release at start; no init step`,
  });
  for (const s of running) steps.push({ action: "start", target: s.name, detail: `${s.client} ${s.role} (only if it ran before the reset)` });
  steps.push({ action: "check", target: `http://127.0.0.1:${host.execution.rpcPort}`, detail: `eth_chainId = ${chainIdOf(to, schedule)}` });
  steps.push({ action: "check", target: `http://127.0.0.1:${host.consensus.beaconApiPort}/eth/v1/beacon/genesis`, detail: `genesis_time = ${clGenesisTime(to, schedule)}` });
  return steps;
}

function wipeStep(s: ContainerSpec): ResetStep {
  const { wipe, keep } = s.data.reset;
  const where = wipe.map((w) => (w === "." ? "everything" : `${w}/`)).join(", ");
  return {
    action: "wipe",
    target: s.data.volume,
    detail: `${s.client}: ${where}${keep.length ? ` except ${keep.join(", ")}` : " (no node identity survives)"}`,
    keep,
  };
}
