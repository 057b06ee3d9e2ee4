/**
 * Container specs of a node's monitoring stack, in the same shape as the client specs so both runtimes
 * (docker, compose) render them unchanged. Config files live on the host under `<node dir>/monitoring`.
 */
import { DEFAULT_IMAGES } from "../config/images";
import { HostConfig } from "../config/schema";
import { beaconEndpoint, containerName, volumeName } from "../clients/common";
import { ContainerSpec, hostPaths, MountSpec, PATHS, PortPurpose, PortSpec } from "../clients/types";
import { EXPORTER_PORT } from "./exporterMetrics";

/** Ports inside the containers; the host ports come from `monitoring.*Port`. */
export const MONITORING_PORTS = { prometheus: 9090, alertmanager: 9093, grafana: 3000, nodeExporter: 9100, exporter: EXPORTER_PORT } as const;

/** Where each file of the stack lives on the host. */
export function monitoringPaths(dataDir: string, node: string) {
  const p = hostPaths(dataDir, node);
  const root = p.monitoring;
  return {
    root,
    prometheusDir: `${root}/prometheus`,
    prometheusConfig: `${root}/prometheus/prometheus.yml`,
    rulesDir: `${root}/prometheus/rules`,
    alertmanagerDir: `${root}/alertmanager`,
    alertmanagerConfig: `${root}/alertmanager/alertmanager.yml`,
    grafanaProvisioning: `${root}/grafana/provisioning`,
    grafanaDashboards: `${root}/grafana/dashboards`,
    grafanaSecretsDir: `${root}/grafana/secrets`,
    grafanaPassword: `${root}/grafana/secrets/admin_password`,
    exporterDir: `${root}/exporter`,
    exporterScript: `${root}/exporter/validator-exporter.js`,
    textfile: p.textfile,
    containerMetricsScript: `${p.scripts}/ephemery-container-metrics`,
  };
}

/** Paths inside the monitoring containers. */
export const MONITORING_MOUNTS = {
  prometheusConfigDir: "/etc/prometheus",
  alertmanagerConfigDir: "/etc/alertmanager",
  grafanaProvisioning: "/etc/grafana/provisioning",
  grafanaDashboards: "/etc/ephemery-dashboards",
  grafanaSecrets: "/run/secrets/grafana",
  exporterDir: "/opt/ephemery-exporter",
  hostRoot: "/host",
  textfile: "/textfile",
} as const;

export interface MonitoringSpecs {
  prometheus: ContainerSpec;
  alertmanager: ContainerSpec;
  /** Absent when `monitoring.grafana` is off. */
  grafana?: ContainerSpec;
  nodeExporter: ContainerSpec;
  exporter: ContainerSpec;
}

export type MonitoringContainerFields = Pick<ContainerSpec, "image" | "command" | "ports" | "mounts" | "memoryMiB"> & Partial<ContainerSpec>;

export function bindReadOnly(source: string, target: string): MountSpec {
  return { kind: "bind", source, target, readOnly: true };
}

/** One container of a monitoring stack (a node's or the fleet monitor's), named `<node>-<role>`, with its data volume. */
export function monitoringContainer(node: string, role: string, client: string, fields: MonitoringContainerFields, dataPath: string): ContainerSpec {
  return {
    name: containerName(node, role),
    role: "monitoring",
    client,
    restart: "unless-stopped",
    stopGraceSec: 30,
    // Config files holding secrets are root-owned 0600, so the stack runs as root inside its containers like the clients.
    user: "0:0",
    dependsOn: [],
    ...fields,
    env: fields.env ?? {},
    mounts: [...fields.mounts, { kind: "volume", source: volumeName(node, role), target: dataPath, readOnly: false }],
    data: { volume: volumeName(node, role), mountPath: dataPath, reset: { wipe: [], keep: [] } },
  };
}

/** Prometheus's flags: config and data where the containers mount them, retention, the listen port. */
export function prometheusArgs(retentionDays: number, retentionSizeGiB: number, listenPort: number): string[] {
  return [
    `--config.file=${MONITORING_MOUNTS.prometheusConfigDir}/prometheus.yml`,
    "--storage.tsdb.path=/prometheus",
    `--storage.tsdb.retention.time=${retentionDays}d`,
    `--storage.tsdb.retention.size=${retentionSizeGiB}GB`,
    `--web.listen-address=:${listenPort}`,
  ];
}

export const ALERTMANAGER_ARGS = [
  `--config.file=${MONITORING_MOUNTS.alertmanagerConfigDir}/alertmanager.yml`,
  "--storage.path=/alertmanager",
  `--web.listen-address=:${MONITORING_PORTS.alertmanager}`,
  // One Alertmanager per stack: no gossip port.
  "--cluster.listen-address=",
];

/** Grafana's settings: provisioning and the admin password file under MONITORING_MOUNTS, no sign-up, no phoning home. */
export function grafanaEnv(adminUser: string): Record<string, string> {
  return {
    GF_SERVER_HTTP_PORT: String(MONITORING_PORTS.grafana),
    GF_PATHS_PROVISIONING: MONITORING_MOUNTS.grafanaProvisioning,
    GF_SECURITY_ADMIN_USER: adminUser,
    GF_SECURITY_ADMIN_PASSWORD__FILE: `${MONITORING_MOUNTS.grafanaSecrets}/admin_password`,
    GF_USERS_ALLOW_SIGN_UP: "false",
    GF_AUTH_ANONYMOUS_ENABLED: "false",
    GF_ANALYTICS_REPORTING_ENABLED: "false",
    GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
  };
}

/** The stack's containers; config changes reach them through their bind-mounted directories and a SIGHUP. */
export function buildMonitoringSpecs(host: HostConfig): MonitoringSpecs {
  const m = host.monitoring;
  const images = { ...DEFAULT_IMAGES, ...m.images };
  const node = host.name;
  const paths = monitoringPaths(host.dataDir, node);
  const port = (containerPort: number, hostPort: number, purpose: PortPurpose): PortSpec => ({
    containerPort, hostPort, protocol: "tcp", purpose, bindAddress: m.exposePublicly ? "0.0.0.0" : "127.0.0.1",
  });
  const bind = bindReadOnly;
  const spec = (role: string, client: string, fields: MonitoringContainerFields, dataPath: string) => monitoringContainer(node, role, client, fields, dataPath);

  const prometheus = spec("prometheus", "prometheus", {
    image: images.prometheus,
    memoryMiB: 1024,
    command: prometheusArgs(m.retentionDays, m.retentionSizeGiB, MONITORING_PORTS.prometheus),
    ports: [port(MONITORING_PORTS.prometheus, m.prometheusPort, "prometheus")],
    mounts: [bind(paths.prometheusDir, MONITORING_MOUNTS.prometheusConfigDir)],
    metrics: { port: MONITORING_PORTS.prometheus, path: "/metrics", job: "prometheus" },
  }, "/prometheus");

  const alertmanager = spec("alertmanager", "alertmanager", {
    image: images.alertmanager,
    memoryMiB: 128,
    command: ALERTMANAGER_ARGS,
    ports: [port(MONITORING_PORTS.alertmanager, m.alertmanagerPort, "alertmanager")],
    mounts: [bind(paths.alertmanagerDir, MONITORING_MOUNTS.alertmanagerConfigDir)],
    metrics: { port: MONITORING_PORTS.alertmanager, path: "/metrics", job: "alertmanager" },
  }, "/alertmanager");

  const grafana = !m.grafana ? undefined : spec("grafana", "grafana", {
    image: images.grafana,
    memoryMiB: 512,
    command: [],
    env: grafanaEnv(m.grafanaAdminUser),
    ports: [port(MONITORING_PORTS.grafana, m.grafanaPort, "grafana")],
    mounts: [
      bind(paths.grafanaProvisioning, MONITORING_MOUNTS.grafanaProvisioning),
      bind(paths.grafanaDashboards, MONITORING_MOUNTS.grafanaDashboards),
      bind(paths.grafanaSecretsDir, MONITORING_MOUNTS.grafanaSecrets),
    ],
    dependsOn: [containerName(node, "prometheus")],
  }, "/var/lib/grafana");

  const nodeExporter = spec("node-exporter", "node-exporter", {
    image: images.nodeExporter,
    memoryMiB: 128,
    command: [
      `--path.rootfs=${MONITORING_MOUNTS.hostRoot}`,
      `--path.procfs=${MONITORING_MOUNTS.hostRoot}/proc`,
      `--path.sysfs=${MONITORING_MOUNTS.hostRoot}/sys`,
      `--collector.textfile.directory=${MONITORING_MOUNTS.textfile}`,
      // Container layers under /var/lib/docker are noise; /var/lib/docker itself (the chain data) stays.
      "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run|var/lib/docker/.+)($|/)",
      `--web.listen-address=:${MONITORING_PORTS.nodeExporter}`,
    ],
    ports: [port(MONITORING_PORTS.nodeExporter, m.nodeExporterPort, "node-exporter")],
    mounts: [bind("/", MONITORING_MOUNTS.hostRoot), bind(paths.textfile, MONITORING_MOUNTS.textfile)],
    metrics: { port: MONITORING_PORTS.nodeExporter, path: "/metrics", job: "node" },
  }, "/data");

  const exporterArgs = [
    `--listen=0.0.0.0:${MONITORING_PORTS.exporter}`,
    `--beacon-url=${beaconEndpoint({ node, host, checkpointSyncUrls: [] })}`,
    `--execution-url=http://${containerName(node, "execution")}:${host.execution.rpcPort}`,
    "--state-file=/data/exporter-state.json",
    ...(host.validator ? [`--keys-dir=${PATHS.keys}`] : []),
  ];
  const exporter = spec("exporter", "validator-exporter", {
    image: images.validatorExporter,
    memoryMiB: 256,
    entrypoint: ["node", `${MONITORING_MOUNTS.exporterDir}/validator-exporter.js`],
    command: exporterArgs,
    ports: [port(MONITORING_PORTS.exporter, m.validatorExporterPort, "exporter")],
    mounts: [
      bind(paths.exporterDir, MONITORING_MOUNTS.exporterDir),
      // Only the keystores' public keys are read; nothing here can sign.
      ...(host.validator ? [bind(hostPaths(host.dataDir, node).keysRoot, PATHS.keysRoot)] : []),
    ],
    metrics: { port: MONITORING_PORTS.exporter, path: "/metrics", job: "exporter" },
  }, "/data");

  return { prometheus, alertmanager, grafana, nodeExporter, exporter };
}

export function monitoringSpecList(s: MonitoringSpecs): ContainerSpec[] {
  return [s.prometheus, s.alertmanager, ...(s.grafana ? [s.grafana] : []), s.nodeExporter, s.exporter];
}
