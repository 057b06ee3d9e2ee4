/** prometheus.yml from the node's container specs: every spec that declares `metrics` becomes a scrape job. */
import * as yaml from "js-yaml";
import { ContainerSpec } from "../clients/types";
import { MonitoringConfig } from "../config/monitoring";
import { containerName } from "../clients/common";
import { MONITORING_PORTS } from "./specs";

export interface ScrapeTarget {
  job: string;
  /** `host:port` as Prometheus dials it. */
  address: string;
  path: string;
  /** Client or component, kept as a label so rules and dashboards can tell clients apart. */
  client: string;
}

/** One target per spec with metrics, addressed by container name on the node's Docker network. */
export function scrapeTargets(specs: ContainerSpec[]): ScrapeTarget[] {
  const targets = specs
    .filter((s) => s.metrics)
    .map((s) => ({ job: s.metrics!.job, address: `${s.name}:${s.metrics!.port}`, path: s.metrics!.path, client: s.client }));
  const jobs = new Set<string>();
  for (const t of targets) {
    if (jobs.has(t.job)) throw new Error(`two containers declare the scrape job "${t.job}"; each spec's metrics.job must be unique per node`);
    jobs.add(t.job);
  }
  return targets;
}

export interface PrometheusRenderOptions {
  node: string;
  monitoring: MonitoringConfig;
  /** Rule files, relative to prometheus.yml's directory. */
  ruleFiles: string[];
  /** Alertmanager `host:port` (default: the node's alertmanager container). */
  alertmanager?: string;
  /** How Prometheus finds a target (default: `static_configs` at its address); a cluster discovers pods instead. */
  discovery?: (t: ScrapeTarget) => Record<string, unknown>;
}

/** A target at its fixed address, labelled with the node and client. */
export function staticDiscovery(node: string): (t: ScrapeTarget) => Record<string, unknown> {
  return (t) => ({ static_configs: [{ targets: [t.address], labels: { node, client: t.client } }] });
}

export function renderPrometheusConfig(targets: ScrapeTarget[], o: PrometheusRenderOptions): string {
  const doc = {
    global: {
      scrape_interval: `${o.monitoring.scrapeIntervalSec}s`,
      evaluation_interval: `${o.monitoring.scrapeIntervalSec}s`,
      // Every series carries the node, so one Alertmanager or Grafana can serve several nodes.
      external_labels: { node: o.node },
    },
    rule_files: o.ruleFiles,
    alerting: {
      alertmanagers: [{ static_configs: [{ targets: [o.alertmanager ?? `${containerName(o.node, "alertmanager")}:${MONITORING_PORTS.alertmanager}`] }] }],
    },
    scrape_configs: targets.map((t) => ({
      job_name: t.job,
      metrics_path: t.path,
      ...(o.discovery ?? staticDiscovery(o.node))(t),
    })),
  };
  return `# Written by pulumi-ephemery for node ${o.node}; \`pulumi up\` overwrites hand edits.\n${yaml.dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false })}`;
}
