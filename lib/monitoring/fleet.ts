/**
 * The fleet monitor: one Prometheus that every node's Prometheus sends its series to by `remote_write` (over
 * TLS, with basic auth), so nodes open no new inbound port and one place sees the whole fleet. Pure: the
 * rules, the nodes' `remote_write` block and the receiver's config files. Every series arrives with the
 * node's `node` label (the node Prometheus sets it as an external label).
 */
import * as yaml from "js-yaml";
import { Dashboard, PanelQuery } from "./dashboards";
import { EXPORTER_METRICS as X, RESET_METRICS as R } from "./exporterMetrics";
import { AlertRule, renderRuleGroupFile, RuleGroup } from "./rules";

export interface FleetAlertThresholds {
  /** Seconds without any series from a node (that sent some in the last hour) before FleetNodeSilent. Default: 300. */
  readonly silentSec: number;
  /** Minutes a node may stay on an older iteration than the fleet's newest (the reset window). Default: 30. */
  readonly iterationLagMinutes: number;
  /** Share of nodes (0..1) whose beacon node is syncing above which FleetNodesNotSynced fires. Default: 0.2. */
  readonly notSyncedShare: number;
  /** Minutes that share must hold. Default: 15. */
  readonly notSyncedMinutes: number;
}

export const DEFAULT_FLEET_THRESHOLDS: FleetAlertThresholds = { silentSec: 300, iterationLagMinutes: 30, notSyncedShare: 0.2, notSyncedMinutes: 15 };

/** The fleet's alert rules. Each fires per node where it can name one. */
export function buildFleetRuleGroup(t: FleetAlertThresholds = DEFAULT_FLEET_THRESHOLDS): RuleGroup {
  if (!(t.notSyncedShare > 0 && t.notSyncedShare < 1)) throw new Error(`fleet.alerts.notSyncedShare must be between 0 and 1 (exclusive); got ${t.notSyncedShare}`);
  if (!Number.isInteger(t.silentSec) || t.silentSec < 10 || t.silentSec > 3000) throw new Error(`fleet.alerts.silentSec must be a whole number of seconds from 10 to 3000 (under the rule's one-hour look-back); got ${t.silentSec}`);
  for (const k of ["iterationLagMinutes", "notSyncedMinutes"] as const) {
    if (!Number.isInteger(t[k]) || t[k] < 1 || t[k] > 1440) throw new Error(`fleet.alerts.${k} must be a whole number of minutes from 1 to 1440; got ${t[k]}`);
  }
  const rules: AlertRule[] = [
    {
      alert: "FleetNodeSilent",
      // `up` is written by every node's Prometheus for each of its targets, so a live node always sends some.
      expr: `group by (node) (last_over_time(up[1h])) unless group by (node) (last_over_time(up[${t.silentSec}s]))`,
      for: "0m",
      severity: "critical",
      silenceDuringReset: false,
      summary: "node sends no series to the fleet monitor",
      description: `No series from this node for ${t.silentSec} seconds (it sent some within the last hour): the host, its Prometheus or the network to the fleet monitor is down.`,
    },
    {
      alert: "FleetIterationBehind",
      expr: `max by (node) (${R.iteration}) < scalar(max(${R.iteration}))`,
      for: `${t.iterationLagMinutes}m`,
      severity: "critical",
      silenceDuringReset: false,
      summary: "node is on an older Ephemery iteration than the rest of the fleet",
      description: `The node has stayed on an older iteration than the fleet's newest for ${t.iterationLagMinutes} minutes: its reset did not complete (see its EphemeryResetFailed / reset.log).`,
    },
    {
      alert: "FleetNodesNotSynced",
      expr: `(count(max by (node) (${X.beaconSyncing}) == 1) or vector(0)) / count(max by (node) (${X.beaconSyncing})) > ${t.notSyncedShare}`,
      for: `${t.notSyncedMinutes}m`,
      severity: "warning",
      silenceDuringReset: false,
      summary: "a share of the fleet's beacon nodes is not synced",
      description: `More than ${Math.round(t.notSyncedShare * 100)}% of the nodes report a syncing beacon node for ${t.notSyncedMinutes} minutes.`,
    },
  ];
  return { name: "fleet", rules };
}

/** The fleet rule file (a node's layout, without a node prefix in summaries, labelled scope="fleet"). */
export function renderFleetRuleFile(group: RuleGroup): string {
  return renderRuleGroupFile(group, { header: "Written by pulumi-ephemery for the fleet monitor.", labels: { scope: "fleet" } });
}

export interface RemoteWriteTarget {
  /** `https://host:port/api/v1/write` of the fleet monitor. */
  readonly url: string;
  readonly username: string;
  /** File on the node holding the password (0600): the password never sits in prometheus.yml. */
  readonly passwordFile: string;
  /** CA certificate that signed the fleet monitor's certificate. */
  readonly caFile: string;
  /** Name the certificate is issued to, when it differs from the URL's host. Default: the URL's host. */
  readonly serverName?: string;
  /** Longest the node holds samples before sending. Default: 5. */
  readonly batchSendDeadlineSec?: number;
}

const USERNAME = /^[A-Za-z0-9._-]{1,64}$/;

/** The `remote_write` entry a node's prometheus.yml gets. Only https URLs: credentials never travel in clear. */
export function remoteWriteConfig(t: RemoteWriteTarget): Record<string, unknown> {
  let url: URL;
  try {
    url = new URL(t.url);
  } catch {
    throw new Error(`fleet.remoteWriteUrl must be a URL like https://fleet.example:9090/api/v1/write; got "${t.url}"`);
  }
  if (url.protocol !== "https:") throw new Error(`fleet.remoteWriteUrl must use https (basic-auth credentials would travel in clear); got "${t.url}"`);
  if (url.username || url.password) throw new Error("fleet.remoteWriteUrl must not hold credentials; they come from the fleet password secret");
  if (!USERNAME.test(t.username)) throw new Error(`fleet.username must be 1-64 of A-Z a-z 0-9 . _ -; got "${t.username}"`);
  return {
    url: url.toString(),
    basic_auth: { username: t.username, password_file: t.passwordFile },
    tls_config: { ca_file: t.caFile, ...(t.serverName ? { server_name: t.serverName } : {}) },
    // The node keeps its own copy; a fleet monitor that is down for a while gets the backlog when it returns.
    queue_config: { max_samples_per_send: 2000, batch_send_deadline: `${t.batchSendDeadlineSec ?? 5}s` },
  };
}

/** Appends a `remote_write` section to a rendered node prometheus.yml. */
export function withRemoteWrite(prometheusYml: string, target: RemoteWriteTarget): string {
  return `${prometheusYml}${yaml.dump({ remote_write: [remoteWriteConfig(target)] }, { lineWidth: -1, noRefs: true })}`;
}

/** The fleet Prometheus's prometheus.yml: it scrapes nothing, evaluates the fleet rules and sends alerts to `alertmanager` (host:port). */
export function renderFleetPrometheusConfig(o: { ruleFiles: string[]; evaluationIntervalSec?: number; alertmanager?: string }): string {
  const every = `${o.evaluationIntervalSec ?? 15}s`;
  const doc = {
    global: { scrape_interval: every, evaluation_interval: every },
    rule_files: o.ruleFiles,
    ...(o.alertmanager ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [o.alertmanager] }] }] } } : {}),
  };
  return `# Written by pulumi-ephemery for the fleet monitor.\n${yaml.dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false })}`;
}

/** The receiver's `--web.config.file`: TLS and the nodes' basic-auth user, its password as a bcrypt hash. */
export function renderFleetWebConfig(o: { certFile: string; keyFile: string; users: Record<string, string> }): string {
  for (const [user, hash] of Object.entries(o.users)) {
    if (!USERNAME.test(user)) throw new Error(`fleet.username must be 1-64 of A-Z a-z 0-9 . _ -; got "${user}"`);
    if (!/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) throw new Error(`the fleet password hash for "${user}" is not a bcrypt hash`);
  }
  const doc = { tls_server_config: { cert_file: o.certFile, key_file: o.keyFile, min_version: "TLS12" }, basic_auth_users: o.users };
  return yaml.dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false });
}

const byNode = (expr: string): PanelQuery => ({ expr: `max by (node) (${expr})`, legend: "{{node}}" });
const total = (expr: string): PanelQuery => ({ expr, legend: "" });

/** One view of the whole fleet: iteration, sync, peers, validator effectiveness and reset status per node. */
export function buildFleetDashboard(): Dashboard {
  const behind = `max by (node) (${R.iteration}) < scalar(max(${R.iteration}))`;
  return {
    uid: "ephemery-fleet",
    title: "Ephemery fleet",
    panels: [
      { title: "Nodes sending", kind: "stat", queries: [total("count(group by (node) (up))")], width: 6 },
      { title: "Nodes behind the newest iteration", kind: "stat", queries: [total(`count(${behind}) or vector(0)`)], width: 6 },
      { title: "Beacon nodes syncing", kind: "stat", queries: [total(`count(max by (node) (${X.beaconSyncing}) == 1) or vector(0)`)], width: 6 },
      { title: "Reset failures (24h, fleet)", kind: "stat", queries: [total(`sum(increase(${R.resetFailures}[24h])) or vector(0)`)], width: 6 },
      { title: "Iteration per node", kind: "timeseries", queries: [byNode(R.iteration)] },
      { title: "Next release staged per node", kind: "timeseries", queries: [byNode(R.releaseStaged)] },
      { title: "Beacon sync distance per node (slots)", kind: "timeseries", queries: [byNode(X.beaconSyncDistance)] },
      { title: "Execution head per node", kind: "timeseries", queries: [byNode(X.executionHead)] },
      { title: "Beacon peers per node", kind: "timeseries", queries: [byNode(X.beaconPeers)] },
      { title: "Execution peers per node", kind: "timeseries", queries: [byNode(X.executionPeers)] },
      {
        title: "Attestation hit ratio per node (1h)",
        kind: "timeseries",
        unit: "percentunit",
        queries: [{ expr: `1 - sum by (node) (increase(${X.attestationsMissed}[1h])) / sum by (node) (increase(${X.attestationDuties}[1h]))`, legend: "{{node}}" }],
      },
      {
        title: "Attestation effectiveness per node (reward / ideal)",
        kind: "timeseries",
        unit: "percentunit",
        queries: [{ expr: `sum by (node) (${X.attestationReward}) / sum by (node) (${X.attestationIdealReward})`, legend: "{{node}}" }],
      },
      { title: "Last reset took per node", kind: "timeseries", unit: "s", queries: [byNode(R.lastResetDuration)] },
      { title: "Reset failures per node (24h)", kind: "timeseries", queries: [{ expr: `sum by (node) (increase(${R.resetFailures}[24h]))`, legend: "{{node}}" }] },
    ],
  };
}
