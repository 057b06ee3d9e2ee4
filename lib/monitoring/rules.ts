/**
 * Alert rules for one node, generated from its client mix (clientMetrics.ts says which metric each client
 * offers) with thresholds from `monitoring.alerts`. Sync and peer alerts carry `silence_during_reset="true"`;
 * Alertmanager inhibits them while `EphemeryResetWindow` fires (see alertmanager.ts).
 */
import * as yaml from "js-yaml";
import { requiredDiskGiB, validatorClientOf } from "../clients";
import { HostConfig } from "../config/schema";
import { SECONDS_PER_EPOCH } from "../ephemery";
import { CONSENSUS_METRICS, EXECUTION_METRICS, select, VALIDATOR_METRICS } from "./clientMetrics";
import { CONTAINER_METRICS, EXPORTER_METRICS, RELEASE_METRICS, RESET_METRICS } from "./exporterMetrics";

export type Severity = "critical" | "warning" | "info";

export interface AlertRule {
  alert: string;
  expr: string;
  /** Prometheus duration, e.g. `10m`. */
  for: string;
  severity: Severity;
  /** Held back by Alertmanager during the reset window. */
  silenceDuringReset: boolean;
  summary: string;
  /** Threshold and meaning in words, for the README table and the notification. */
  description: string;
}

export interface RuleGroup {
  /** File name under rules/ (without .yml) and Prometheus group name. */
  name: string;
  rules: AlertRule[];
}

export const RESET_WINDOW_ALERT = "EphemeryResetWindow";
export const SILENCE_LABEL = "silence_during_reset";

/** Disk thresholds: from config, else sized from the clients' disk need. */
export function diskThresholdsGiB(host: HostConfig): { warning: number; critical: number } {
  const need = requiredDiskGiB(host);
  return {
    warning: host.monitoring.alerts.diskFreeWarningGiB ?? Math.ceil(need * 0.25),
    critical: host.monitoring.alerts.diskFreeCriticalGiB ?? Math.ceil(need * 0.1),
  };
}

/** Free bytes of the filesystem holding Docker's volumes (chain data): its own mount if it has one, else `/`. */
export const DOCKER_DATA_FREE_BYTES =
  `(node_filesystem_avail_bytes{job="node",mountpoint="/var/lib/docker"} or on(node) node_filesystem_avail_bytes{job="node",mountpoint="/"})`;

export function buildRuleGroups(host: HostConfig): RuleGroup[] {
  const a = host.monitoring.alerts;
  const el = EXECUTION_METRICS[host.execution.client];
  const cl = CONSENSUS_METRICS[host.consensus.client];
  const vcClient = validatorClientOf(host);
  const disk = diskThresholdsGiB(host);
  const rule = (r: Omit<AlertRule, "silenceDuringReset"> & { silenceDuringReset?: boolean }): AlertRule => ({ silenceDuringReset: false, ...r });

  const sync: AlertRule[] = [
    rule({
      alert: "ExecutionHeadStalled",
      expr: `changes(${select(el.head, "execution")}[${a.executionHeadStallMinutes}m]) == 0`,
      for: "1m",
      severity: "critical",
      silenceDuringReset: true,
      summary: `${host.execution.client}: execution head has not advanced`,
      description: `The execution head block stayed the same for ${a.executionHeadStallMinutes} minutes (Ephemery makes a block every 12 s).`,
    }),
    rule({
      alert: "ExecutionNotSynced",
      expr: `${EXPORTER_METRICS.executionSyncing}{job="exporter"} == 1`,
      for: "30m",
      severity: "warning",
      silenceDuringReset: true,
      summary: `${host.execution.client}: execution client still syncing`,
      description: "eth_syncing has reported a sync in progress for 30 minutes.",
    }),
    rule({
      alert: "ConsensusSyncDistanceHigh",
      expr: `${select(cl.syncDistance, "consensus")} > ${a.syncDistanceSlots}`,
      for: "10m",
      severity: "critical",
      silenceDuringReset: true,
      summary: `${host.consensus.client}: beacon node behind the chain`,
      description: `The beacon node has been more than ${a.syncDistanceSlots} slots behind the wall clock for 10 minutes.`,
    }),
    rule({
      alert: "ExecutionPeersLow",
      expr: `${select(el.peers, "execution")} < ${a.executionMinPeers}`,
      for: "10m",
      severity: "warning",
      silenceDuringReset: true,
      summary: `${host.execution.client}: few execution peers`,
      description: `The execution client has had fewer than ${a.executionMinPeers} peers for 10 minutes.`,
    }),
    rule({
      alert: "ConsensusPeersLow",
      expr: `${select(cl.peers, "consensus")} < ${a.consensusMinPeers}`,
      for: "10m",
      severity: "warning",
      silenceDuringReset: true,
      summary: `${host.consensus.client}: few beacon peers`,
      description: `The beacon node has had fewer than ${a.consensusMinPeers} peers for 10 minutes.`,
    }),
    rule({
      alert: "FinalityStalled",
      expr: `changes(${select(cl.finalizedEpoch, "consensus")}[${a.finalityStallEpochs * SECONDS_PER_EPOCH}s]) == 0`,
      for: "5m",
      severity: "warning",
      silenceDuringReset: true,
      summary: "finalized epoch not advancing",
      description: `The finalized epoch has not changed for ${a.finalityStallEpochs} epochs (${((a.finalityStallEpochs * SECONDS_PER_EPOCH) / 60).toFixed(1)} minutes).`,
    }),
  ];

  const validator: AlertRule[] = vcClient ? [
    rule({
      alert: "ValidatorBeaconNodeUnreachable",
      expr: VALIDATOR_METRICS[vcClient].beaconReachable.metrics[0] === EXPORTER_METRICS.beaconUp
        ? `${select(VALIDATOR_METRICS[vcClient].beaconReachable, "validator")} == 0`
        : `${select(VALIDATOR_METRICS[vcClient].beaconReachable, "validator")} < 1`,
      for: "2m",
      severity: "critical",
      summary: `${vcClient}: validator client cannot reach its beacon node`,
      description: "The validator client's beacon node API has not answered for 2 minutes; no duties are performed.",
    }),
    rule({
      alert: "AttestationsMissed",
      expr: `(sum by (node) (increase(${EXPORTER_METRICS.attestationsMissed}{job="exporter"}[1h])) / (sum by (node) (increase(${EXPORTER_METRICS.attestationDuties}{job="exporter"}[1h])) > 0)) > ${a.missedAttestationRatio}`,
      for: "5m",
      severity: "warning",
      summary: "validators miss attestations",
      description: `More than ${Math.round(a.missedAttestationRatio * 100)}% of the node's attestation duties in the last hour earned no timely-source reward.`,
    }),
    rule({
      alert: "ProposalMissed",
      expr: `increase(${EXPORTER_METRICS.proposals}{job="exporter",result="missed"}[1h]) > 0`,
      for: "0m",
      severity: "warning",
      summary: "a validator missed its block proposal",
      description: "A proposer duty of one of the node's validators in the last hour has no block in its slot.",
    }),
  ] : [];

  const hostRules: AlertRule[] = [
    rule({
      alert: "DiskFreeLow",
      expr: `${DOCKER_DATA_FREE_BYTES} < ${disk.warning} * 1024^3`,
      for: "15m",
      severity: "warning",
      summary: "disk for chain data is filling up",
      description: `The filesystem holding Docker's volumes has less than ${disk.warning} GiB free.`,
    }),
    rule({
      alert: "DiskFreeCritical",
      expr: `${DOCKER_DATA_FREE_BYTES} < ${disk.critical} * 1024^3`,
      for: "5m",
      severity: "critical",
      summary: "disk for chain data almost full",
      description: `The filesystem holding Docker's volumes has less than ${disk.critical} GiB free; clients stop when it fills.`,
    }),
    rule({
      alert: "MemoryPressure",
      expr: `node_memory_MemAvailable_bytes{job="node"} / node_memory_MemTotal_bytes{job="node"} * 100 < ${a.memoryAvailableMinPercent}`,
      for: "10m",
      severity: "warning",
      summary: "host memory nearly exhausted",
      description: `Less than ${a.memoryAvailableMinPercent}% of memory has been available for 10 minutes.`,
    }),
    rule({
      alert: "ContainerRestarting",
      expr: `increase(${CONTAINER_METRICS.restarts}{job="node"}[15m]) >= ${a.containerRestarts}`,
      for: "0m",
      severity: "warning",
      summary: "a container keeps restarting",
      description: `A container of the node restarted ${a.containerRestarts} or more times within 15 minutes.`,
    }),
    rule({
      alert: "ClientTargetDown",
      expr: `up{job=~"execution|consensus|validator"} == 0`,
      for: `${a.clientTargetDownMinutes}m`,
      severity: "critical",
      silenceDuringReset: true,
      summary: "a client's metrics endpoint does not answer",
      description: `Prometheus could not scrape an execution, consensus or validator client for ${a.clientTargetDownMinutes} minutes (the container is down or hung).`,
    }),
    rule({
      alert: "MonitoringTargetDown",
      expr: `up{job!~"execution|consensus|validator"} == 0`,
      for: "5m",
      severity: "warning",
      summary: "a monitoring target does not answer",
      description: "Prometheus could not scrape node-exporter, the validator exporter, Alertmanager or itself for 5 minutes.",
    }),
  ];

  const r = RESET_METRICS;
  const graceSec = a.resetGraceMinutes * 60;
  const reset: AlertRule[] = [
    rule({
      alert: RESET_WINDOW_ALERT,
      expr: [
        `(time() > ${r.nextReset}{job="node"} - ${a.resetWindowBeforeMinutes * 60} and time() < ${r.nextReset}{job="node"} + ${graceSec})`,
        `(time() - ${r.lastReset}{job="node"} < ${a.resetWindowAfterMinutes * 60})`,
      ].join(" or "),
      for: "0m",
      severity: "info",
      summary: "Ephemery reset window: sync and peer alerts are held back",
      description: `From ${a.resetWindowBeforeMinutes} minutes before the reset until ${a.resetWindowAfterMinutes} minutes after it finished; never notifies.`,
    }),
    rule({
      alert: "EphemeryResetOverdue",
      // The installed iteration's end plus the grace is in the past. The reset program derives that end from the
      // installed release's own genesis and GENESIS_RESET_INTERVAL, so a period change upstream moves it too.
      expr: `${r.nextReset}{job="node"} + ${graceSec} < time()`,
      for: "0m",
      severity: "critical",
      summary: "Ephemery reset overdue",
      description: `The node is still on an old iteration ${a.resetGraceMinutes} minutes after the reset time.`,
    }),
    rule({
      alert: "EphemeryResetFailed",
      expr: `increase(${r.resetFailures}{job="node"}[1h]) > 0`,
      for: "0m",
      severity: "critical",
      summary: "Ephemery reset failed",
      description: "The reset program recorded a failure in the last hour; see <node dir>/state/reset.log.",
    }),
    rule({
      alert: "EphemeryReleaseNotStaged",
      expr: `${r.releaseStaged}{job="node"} == 0 and ${r.nextReset}{job="node"} - time() < ${a.releaseStagedMinutes * 60}`,
      for: "0m",
      severity: "warning",
      summary: "next Ephemery release not staged",
      description: `The next iteration's release is not downloaded and verified ${a.releaseStagedMinutes} minutes before the reset.`,
    }),
    rule({
      alert: "EphemeryForkUnsupported",
      expr: `${RELEASE_METRICS.forkUnsupported}{job="node"} == 1`,
      for: "0m",
      severity: "critical",
      summary: "a verified Ephemery release activates a fork a pinned client does not support",
      description: "The staged or installed release's config.yaml activates the fork in the fork label, which the client in the client label does not run at the pinned version in the version label: set a newer image before the genesis (ephemery status shows the fork line).",
    }),
    rule({
      alert: "EphemeryScheduleMismatch",
      expr: `${RELEASE_METRICS.scheduleMismatch}{job="node"} == 1`,
      for: "0m",
      severity: "warning",
      summary: "the Ephemery release disagrees with the configured schedule",
      description: "The newest verified release agrees with itself but not with ephemery:network.schedule (period, genesis time, delay or chain id); the node follows the release. See state/reset.log for the values, then update the schedule settings.",
    }),
    rule({
      alert: "EphemeryResetMetricsMissing",
      expr: `absent(${r.iteration}{job="node"})`,
      for: "30m",
      severity: "warning",
      summary: "no reset metrics",
      description: "node-exporter has not published ephemery_iteration for 30 minutes: the reset program is not running or cannot write its textfile.",
    }),
  ];

  return [
    { name: "sync", rules: sync },
    ...(validator.length > 0 ? [{ name: "validator", rules: validator }] : []),
    { name: "host", rules: hostRules },
    { name: "reset", rules: reset },
  ];
}

export function ruleCount(groups: RuleGroup[]): number {
  return groups.reduce((n, g) => n + g.rules.length, 0);
}

/** A rule group in Prometheus's rule-file layout; `header` is the file's first comment. */
export function renderRuleGroupFile(group: RuleGroup, o: { header: string; summaryPrefix?: string; labels?: Record<string, string> }): string {
  const doc = {
    groups: [{
      name: `ephemery-${group.name}`,
      rules: group.rules.map((r) => ({
        alert: r.alert,
        expr: r.expr,
        for: r.for,
        labels: { severity: r.severity, ...(r.silenceDuringReset ? { [SILENCE_LABEL]: "true" } : {}), ...o.labels },
        annotations: { summary: `${o.summaryPrefix ?? ""}${r.summary}`, description: r.description },
      })),
    }],
  };
  return `# ${o.header}\n${yaml.dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false })}`;
}

/** One Prometheus rule file per group. */
export function renderRuleFile(group: RuleGroup, node: string): string {
  return renderRuleGroupFile(group, { header: `Written by pulumi-ephemery for node ${node}.`, summaryPrefix: `[${node}] ` });
}
