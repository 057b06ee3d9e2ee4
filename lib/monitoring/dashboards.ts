/**
 * Grafana dashboards (provisioned JSON) and the provisioning files that load them. Every query is built from the
 * same per-client table as the rules, so it names a metric one of the node's targets exports.
 */
import * as yaml from "js-yaml";
import { containerName } from "../clients/common";
import { validatorClientOf } from "../clients";
import { HostConfig } from "../config/schema";
import { CONSENSUS_METRICS, EXECUTION_METRICS, select, VALIDATOR_METRICS } from "./clientMetrics";
import { CONTAINER_METRICS, EXPORTER_METRICS as X, RESET_METRICS as R } from "./exporterMetrics";
import { DOCKER_DATA_FREE_BYTES } from "./rules";
import { MONITORING_MOUNTS, MONITORING_PORTS } from "./specs";

export const DATASOURCE_UID = "ephemery-prometheus";

export interface PanelQuery { expr: string; legend: string }
export interface Panel { title: string; kind: "stat" | "timeseries"; unit?: string; queries: PanelQuery[]; width?: number }
export interface Dashboard { uid: string; title: string; panels: Panel[] }

const q = (expr: string, legend = ""): PanelQuery => ({ expr, legend });

export function buildDashboards(host: HostConfig): Dashboard[] {
  const el = EXECUTION_METRICS[host.execution.client];
  const cl = CONSENSUS_METRICS[host.consensus.client];
  const vc = validatorClientOf(host);
  const node = host.name;

  const overview: Dashboard = {
    uid: `ephemery-${node}-overview`,
    title: `Ephemery ${node}: node overview`,
    panels: [
      { title: "Iteration", kind: "stat", queries: [q(`${R.iteration}{job="node"}`)], width: 4 },
      { title: "Chain id", kind: "stat", queries: [q(`${R.chainId}{job="node"}`)], width: 4 },
      { title: "Next reset in", kind: "stat", unit: "s", queries: [q(`${R.nextReset}{job="node"} - time()`)], width: 4 },
      { title: "Next release staged", kind: "stat", queries: [q(`${R.releaseStaged}{job="node"}`)], width: 4 },
      { title: "Last reset took", kind: "stat", unit: "s", queries: [q(`${R.lastResetDuration}{job="node"}`)], width: 4 },
      { title: "Reset failures (24h)", kind: "stat", queries: [q(`increase(${R.resetFailures}{job="node"}[24h])`)], width: 4 },
      { title: `Execution head (${host.execution.client})`, kind: "timeseries", queries: [q(select(el.head, "execution"), "head block")] },
      { title: "Execution peers", kind: "timeseries", queries: [q(select(el.peers, "execution"), "peers")] },
      { title: `Beacon head slot (${host.consensus.client})`, kind: "timeseries", queries: [q(select(cl.head, "consensus"), "head slot")] },
      { title: "Beacon sync distance (slots)", kind: "timeseries", queries: [q(select(cl.syncDistance, "consensus"), "behind")] },
      { title: "Beacon peers", kind: "timeseries", queries: [q(select(cl.peers, "consensus"), "peers")] },
      { title: "Finalized epoch", kind: "timeseries", queries: [q(select(cl.finalizedEpoch, "consensus"), "finalized")] },
      { title: "Scrape targets up", kind: "timeseries", queries: [q("up", "{{job}}")] },
      ...(vc ? [{ title: "Validator client reaches its beacon node", kind: "timeseries" as const, queries: [q(select(VALIDATOR_METRICS[vc].beaconReachable, "validator"), "reachable")] }] : []),
    ],
  };

  const validators: Dashboard | undefined = vc ? {
    uid: `ephemery-${node}-validators`,
    title: `Ephemery ${node}: validator performance`,
    panels: [
      { title: "Validators monitored", kind: "stat", queries: [q(`${X.validatorsMonitored}{job="exporter"}`)], width: 6 },
      { title: "Validators active", kind: "stat", queries: [q(`sum(${X.validatorActive}{job="exporter"})`)], width: 6 },
      { title: "Attestation hit ratio (node, 1h)", kind: "stat", unit: "percentunit", queries: [q(`1 - sum(increase(${X.attestationsMissed}{job="exporter"}[1h])) / sum(increase(${X.attestationDuties}{job="exporter"}[1h]))`)], width: 6 },
      { title: "Proposals (24h)", kind: "stat", queries: [q(`sum by (result) (increase(${X.proposals}{job="exporter"}[24h]))`, "{{result}}")], width: 6 },
      { title: "Attestation hit ratio per validator (1h)", kind: "timeseries", unit: "percentunit", queries: [q(`1 - increase(${X.attestationsMissed}{job="exporter"}[1h]) / increase(${X.attestationDuties}{job="exporter"}[1h])`, "{{validator}}")] },
      { title: "Attestation effectiveness (reward / ideal, last epoch)", kind: "timeseries", unit: "percentunit", queries: [q(`${X.attestationReward}{job="exporter"} / ${X.attestationIdealReward}{job="exporter"}`, "{{validator}}")] },
      { title: "Attestation reward per epoch (gwei)", kind: "timeseries", queries: [q(`${X.attestationReward}{job="exporter"}`, "{{validator}}"), q(`sum(${X.attestationReward}{job="exporter"})`, "node")] },
      { title: "Proposal rewards (gwei, 24h)", kind: "timeseries", queries: [q(`increase(${X.proposalRewards}{job="exporter"}[24h])`, "{{validator}}")] },
      { title: "Balance (gwei)", kind: "timeseries", queries: [q(`${X.validatorBalance}{job="exporter"}`, "{{validator}}"), q(`sum(${X.validatorBalance}{job="exporter"})`, "node")] },
      { title: "Last processed epoch", kind: "timeseries", queries: [q(`${X.lastProcessedEpoch}{job="exporter"}`, "epoch")] },
    ],
  } : undefined;

  const hostDash: Dashboard = {
    uid: `ephemery-${node}-host`,
    title: `Ephemery ${node}: host resources`,
    panels: [
      { title: "CPU busy", kind: "timeseries", unit: "percentunit", queries: [q(`1 - avg(rate(node_cpu_seconds_total{job="node",mode="idle"}[5m]))`, "busy")] },
      { title: "Load (1m)", kind: "timeseries", queries: [q(`node_load1{job="node"}`, "load1")] },
      { title: "Memory available", kind: "timeseries", unit: "percentunit", queries: [q(`node_memory_MemAvailable_bytes{job="node"} / node_memory_MemTotal_bytes{job="node"}`, "available")] },
      { title: "Chain data disk free", kind: "timeseries", unit: "bytes", queries: [q(DOCKER_DATA_FREE_BYTES, "free")] },
      { title: "Disk free per filesystem", kind: "timeseries", unit: "percentunit", queries: [q(`node_filesystem_avail_bytes{job="node"} / node_filesystem_size_bytes{job="node"}`, "{{mountpoint}}")] },
      { title: "Network", kind: "timeseries", unit: "Bps", queries: [q(`sum(rate(node_network_receive_bytes_total{job="node"}[5m]))`, "in"), q(`sum(rate(node_network_transmit_bytes_total{job="node"}[5m]))`, "out")] },
      { title: "Container restarts (1h)", kind: "timeseries", queries: [q(`increase(${CONTAINER_METRICS.restarts}{job="node"}[1h])`, "{{container}}")] },
      { title: "Containers running", kind: "timeseries", queries: [q(`${CONTAINER_METRICS.running}{job="node"}`, "{{container}}")] },
    ],
  };

  return [overview, ...(validators ? [validators] : []), hostDash];
}

/** Grafana's dashboard JSON model: panels laid out left to right, two per row unless a width is given. */
export function dashboardJson(d: Dashboard): Record<string, unknown> {
  let x = 0, y = 0, rowHeight = 0;
  const panels = d.panels.map((p, i) => {
    const w = p.width ?? 12;
    const h = p.kind === "stat" ? 4 : 8;
    if (x + w > 24) { x = 0; y += rowHeight; rowHeight = 0; }
    const gridPos = { x, y, w, h };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    return {
      id: i + 1,
      type: p.kind,
      title: p.title,
      gridPos,
      datasource: { type: "prometheus", uid: DATASOURCE_UID },
      fieldConfig: { defaults: { unit: p.unit ?? "short" }, overrides: [] },
      targets: p.queries.map((t, j) => ({
        refId: String.fromCharCode(65 + j),
        datasource: { type: "prometheus", uid: DATASOURCE_UID },
        expr: t.expr,
        legendFormat: t.legend,
      })),
    };
  });
  return {
    uid: d.uid,
    title: d.title,
    tags: ["ephemery"],
    timezone: "utc",
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    panels,
  };
}

export function allQueries(dashboards: Dashboard[]): { dashboard: string; panel: string; expr: string }[] {
  return dashboards.flatMap((d) => d.panels.flatMap((p) => p.queries.map((t) => ({ dashboard: d.uid, panel: p.title, expr: t.expr }))));
}

export function renderDatasource(node: string, prometheusUrl = `http://${containerName(node, "prometheus")}:${MONITORING_PORTS.prometheus}`): string {
  return yaml.dump({
    apiVersion: 1,
    datasources: [{ name: "Prometheus", uid: DATASOURCE_UID, type: "prometheus", access: "proxy", url: prometheusUrl, isDefault: true, editable: false }],
  });
}

export function renderDashboardProvider(): string {
  return yaml.dump({
    apiVersion: 1,
    providers: [{ name: "ephemery", folder: "Ephemery", type: "file", disableDeletion: true, allowUiUpdates: false, options: { path: MONITORING_MOUNTS.grafanaDashboards } }],
  });
}
