/**
 * Everything a node's monitoring stack installs, rendered from its host config and client specs. Pure: the
 * MonitoringStack component writes these files to the host, `ephemery monitoring render` writes them to disk.
 */
import { allSpecs, NodeSpecs } from "../clients";
import { HostConfig } from "../config/schema";
import { renderAlertmanagerConfig, SecretLookup } from "./alertmanager";
import { buildDashboards, dashboardJson, renderDashboardProvider, renderDatasource } from "./dashboards";
import { RemoteWriteTarget, withRemoteWrite } from "./fleet";
import { renderPrometheusConfig, scrapeTargets } from "./prometheus";
import { buildRuleGroups, renderRuleFile, ruleCount } from "./rules";
import { buildMonitoringSpecs, monitoringSpecList, MonitoringSpecs } from "./specs";

export interface RenderedFile {
  /** Path in the offline layout (`ephemery monitoring render`): prometheus.yml, rules/x.yml, alertmanager.yml, dashboards/x.json. */
  path: string;
  /** Path under the host's `<node dir>/monitoring`. */
  hostPath: string;
  content: string;
  /** Which container reads it (SIGHUP after a change), if any needs telling. */
  reader?: "prometheus" | "alertmanager";
}

export interface RenderedMonitoring {
  specs: MonitoringSpecs;
  /** Files without secrets. */
  files: RenderedFile[];
  /** alertmanager.yml, rendered with `secret`; a secret when the lookup returns real values. */
  alertmanager: RenderedFile;
  alertCount: number;
}

/** `remoteWrite`: where Prometheus also sends its series (the fleet monitor); prometheus.yml gets the block. */
export function renderMonitoring(host: HostConfig, clients: NodeSpecs, secret: SecretLookup, remoteWrite?: RemoteWriteTarget): RenderedMonitoring {
  const node = host.name;
  const specs = buildMonitoringSpecs(host);
  const groups = buildRuleGroups(host);
  const targets = scrapeTargets([...allSpecs(clients), ...monitoringSpecList(specs)]);
  const prometheusYml = renderPrometheusConfig(targets, { node, monitoring: host.monitoring, ruleFiles: ["rules/*.yml"] });
  const files: RenderedFile[] = [
    {
      path: "prometheus.yml",
      hostPath: "prometheus/prometheus.yml",
      content: remoteWrite ? withRemoteWrite(prometheusYml, remoteWrite) : prometheusYml,
      reader: "prometheus",
    },
    ...groups.map((g) => ({ path: `rules/${g.name}.yml`, hostPath: `prometheus/rules/${g.name}.yml`, content: renderRuleFile(g, node), reader: "prometheus" as const })),
    ...buildDashboards(host).map((d) => ({
      path: `dashboards/${d.uid}.json`,
      hostPath: `grafana/dashboards/${d.uid}.json`,
      content: `${JSON.stringify(dashboardJson(d), null, 2)}\n`,
    })),
    { path: "grafana/provisioning/datasources/prometheus.yml", hostPath: "grafana/provisioning/datasources/prometheus.yml", content: renderDatasource(node) },
    { path: "grafana/provisioning/dashboards/ephemery.yml", hostPath: "grafana/provisioning/dashboards/ephemery.yml", content: renderDashboardProvider() },
  ];
  const alertmanager: RenderedFile = {
    path: "alertmanager.yml",
    hostPath: "alertmanager/alertmanager.yml",
    content: renderAlertmanagerConfig(host.monitoring, secret, node),
    reader: "alertmanager",
  };
  return { specs, files, alertmanager, alertCount: ruleCount(groups) };
}

export { buildMonitoringSpecs, monitoringSpecList, monitoringPaths, MONITORING_PORTS } from "./specs";
export { placeholderSecrets, secretLookup } from "./alertmanager";
export { buildRuleGroups, ruleCount } from "./rules";
