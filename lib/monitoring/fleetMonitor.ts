/**
 * Deploying the fleet monitor (fleet.ts holds its rules, configs and dashboard): its containers beside the
 * monitor host's node, the files they read under `<node dir>/fleet`, the basic-auth users, and the two files a
 * node's Prometheus needs to send there (its password and the fleet CA). Pure.
 */
import { createHmac } from "crypto";
import * as yaml from "js-yaml";
import { containerName } from "../clients/common";
import { ContainerSpec, hostPaths } from "../clients/types";
import { FleetConfig } from "../config/fleet";
import { DEFAULT_IMAGES } from "../config/images";
import { HostConfig } from "../config/schema";
import { shellQuote } from "../hostScripts";
import { bcryptHash } from "./bcrypt";
import { DATASOURCE_UID, dashboardJson, renderDashboardProvider } from "./dashboards";
import { buildFleetDashboard, buildFleetRuleGroup, RemoteWriteTarget, renderFleetPrometheusConfig, renderFleetRuleFile, renderFleetWebConfig } from "./fleet";
import { RenderedFile } from "./index";
import { ALERTMANAGER_ARGS, bindReadOnly, grafanaEnv, MONITORING_MOUNTS, MONITORING_PORTS, monitoringContainer, monitoringPaths, prometheusArgs } from "./specs";

export const FLEET_ROLES = { prometheus: "fleet-prometheus", alertmanager: "fleet-alertmanager", grafana: "fleet-grafana" } as const;
/** The fleet Grafana's basic-auth user on the fleet Prometheus; a dot, so no host name can take it. */
export const FLEET_GRAFANA_USER = "grafana.fleet";
/** The nodes' passwords are random (or at least 32 characters), so the hash's cost guards nothing; it stays cheap per node. */
const BCRYPT_COST = 5;

/** Where the fleet monitor's files live on the monitor host. */
export function fleetPaths(dataDir: string, node: string) {
  const root = `${hostPaths(dataDir, node).root}/fleet`;
  return {
    root,
    prometheusDir: `${root}/prometheus`,
    webConfig: `${root}/prometheus/web.yml`,
    serverCert: `${root}/prometheus/tls/server.pem`,
    serverKey: `${root}/prometheus/tls/server.key`,
    alertmanagerDir: `${root}/alertmanager`,
    alertmanagerConfig: `${root}/alertmanager/alertmanager.yml`,
    grafanaProvisioning: `${root}/grafana/provisioning`,
    grafanaDatasource: `${root}/grafana/provisioning/datasources/fleet.yml`,
    grafanaDashboards: `${root}/grafana/dashboards`,
    grafanaSecretsDir: `${root}/grafana/secrets`,
    grafanaPassword: `${root}/grafana/secrets/admin_password`,
  };
}

/** A node's remote_write files: under its Prometheus's config directory, which the container mounts. */
export function remoteWritePaths(dataDir: string, node: string) {
  const dir = `${monitoringPaths(dataDir, node).prometheusDir}/fleet`;
  const inContainer = `${MONITORING_MOUNTS.prometheusConfigDir}/fleet`;
  return { dir, password: `${dir}/password`, ca: `${dir}/ca.pem`, containerPassword: `${inContainer}/password`, containerCa: `${inContainer}/ca.pem` };
}

/** The URL a node sends to: the monitor's own node reaches it on their shared Docker network, the rest at fleet.address. */
export function remoteWriteUrl(monitorNode: string, node: string, address: string, port: number): string {
  if (node === monitorNode) return `https://${containerName(monitorNode, FLEET_ROLES.prometheus)}:${port}/api/v1/write`;
  const host = address.includes(":") ? `[${address}]` : address;
  return `https://${host}:${port}/api/v1/write`;
}

export function remoteWriteTarget(monitorNode: string, node: string, address: string, fleet: FleetConfig): RemoteWriteTarget {
  const p = remoteWritePaths("/", node);
  return { url: remoteWriteUrl(monitorNode, node, address, fleet.port), username: node, passwordFile: p.containerPassword, caFile: p.containerCa, batchSendDeadlineSec: fleet.remoteWriteDeadlineSec };
}

/** A node's password: given in ephemery:fleetPasswords, else derived from the generated fleet secret (one secret in state, not one per node). */
export function fleetPassword(user: string, fleetSecret: string, given?: Record<string, string>): string {
  return given?.[user] ?? createHmac("sha256", fleetSecret).update(`remote-write:${user}`).digest("base64url");
}

/** bcrypt with a salt derived from the password, so the web config stays the same from one `up` to the next. */
export function fleetPasswordHash(user: string, password: string): string {
  const salt = createHmac("sha256", password).update(`bcrypt-salt:${user}`).digest().subarray(0, 16);
  return bcryptHash(password, salt, BCRYPT_COST);
}

export interface FleetSpecs {
  prometheus: ContainerSpec;
  alertmanager: ContainerSpec;
  /** Absent when the monitor host's `monitoring.grafana` is off. */
  grafana?: ContainerSpec;
}

/** The fleet monitor's containers, named after the monitor host's node and using its monitoring images. */
export function buildFleetSpecs(host: HostConfig, fleet: FleetConfig): FleetSpecs {
  const m = host.monitoring;
  const images = { ...DEFAULT_IMAGES, ...m.images };
  const node = host.name;
  const paths = fleetPaths(host.dataDir, node);
  const loopback = m.exposePublicly ? "0.0.0.0" : "127.0.0.1";
  const prometheus = monitoringContainer(node, FLEET_ROLES.prometheus, "prometheus", {
    image: images.prometheus,
    memoryMiB: 1024,
    command: [
      ...prometheusArgs(fleet.retentionDays, fleet.retentionSizeGiB, fleet.port),
      `--web.config.file=${MONITORING_MOUNTS.prometheusConfigDir}/web.yml`,
      "--web.enable-remote-write-receiver",
    ],
    // The one public monitoring port: TLS and basic auth on everything it serves. The same port inside, so the
    // container publishes no port that the private-ports policy knows as Prometheus's.
    ports: [{ containerPort: fleet.port, hostPort: fleet.port, protocol: "tcp", purpose: "fleet-receiver", bindAddress: "0.0.0.0" }],
    mounts: [bindReadOnly(paths.prometheusDir, MONITORING_MOUNTS.prometheusConfigDir)],
  }, "/prometheus");
  const alertmanager = monitoringContainer(node, FLEET_ROLES.alertmanager, "alertmanager", {
    image: images.alertmanager,
    memoryMiB: 128,
    command: ALERTMANAGER_ARGS,
    ports: [{ containerPort: MONITORING_PORTS.alertmanager, hostPort: fleet.alertmanagerPort, protocol: "tcp", purpose: "alertmanager", bindAddress: loopback }],
    mounts: [bindReadOnly(paths.alertmanagerDir, MONITORING_MOUNTS.alertmanagerConfigDir)],
  }, "/alertmanager");
  const grafana = !m.grafana ? undefined : monitoringContainer(node, FLEET_ROLES.grafana, "grafana", {
    image: images.grafana,
    memoryMiB: 512,
    command: [],
    env: grafanaEnv(m.grafanaAdminUser),
    ports: [{ containerPort: MONITORING_PORTS.grafana, hostPort: fleet.grafanaPort, protocol: "tcp", purpose: "grafana", bindAddress: loopback }],
    mounts: [
      bindReadOnly(paths.grafanaProvisioning, MONITORING_MOUNTS.grafanaProvisioning),
      bindReadOnly(paths.grafanaDashboards, MONITORING_MOUNTS.grafanaDashboards),
      bindReadOnly(paths.grafanaSecretsDir, MONITORING_MOUNTS.grafanaSecrets),
    ],
    dependsOn: [prometheus.name],
  }, "/var/lib/grafana");
  return { prometheus, alertmanager, grafana };
}

export function fleetSpecList(s: FleetSpecs): ContainerSpec[] {
  return [s.prometheus, s.alertmanager, ...(s.grafana ? [s.grafana] : [])];
}

/** The monitor's files without secrets (paths relative to fleetPaths().root). */
export function renderFleetFiles(host: HostConfig, fleet: FleetConfig): RenderedFile[] {
  const node = host.name;
  const rules = buildFleetRuleGroup(fleet.alerts);
  const prometheusYml = renderFleetPrometheusConfig({
    ruleFiles: ["rules/*.yml"],
    evaluationIntervalSec: fleet.evaluationIntervalSec,
    alertmanager: `${containerName(node, FLEET_ROLES.alertmanager)}:${MONITORING_PORTS.alertmanager}`,
  });
  const files: RenderedFile[] = [
    { path: "prometheus.yml", hostPath: "prometheus/prometheus.yml", content: prometheusYml, reader: "prometheus" },
    { path: `rules/${rules.name}.yml`, hostPath: `prometheus/rules/${rules.name}.yml`, content: renderFleetRuleFile(rules), reader: "prometheus" },
  ];
  if (host.monitoring.grafana) {
    const d = buildFleetDashboard();
    files.push(
      { path: `dashboards/${d.uid}.json`, hostPath: `grafana/dashboards/${d.uid}.json`, content: `${JSON.stringify(dashboardJson(d), null, 2)}\n` },
      { path: "grafana/provisioning/dashboards/ephemery.yml", hostPath: "grafana/provisioning/dashboards/ephemery.yml", content: renderDashboardProvider() },
    );
  }
  return files;
}

/** The receiver's web.yml: TLS, and one basic-auth user per node plus the fleet Grafana. */
export function renderFleetWebFile(passwords: Record<string, string>): string {
  const users = Object.fromEntries(Object.entries(passwords).map(([user, pw]) => [user, fleetPasswordHash(user, pw)]));
  return renderFleetWebConfig({ certFile: `${MONITORING_MOUNTS.prometheusConfigDir}/tls/server.pem`, keyFile: `${MONITORING_MOUNTS.prometheusConfigDir}/tls/server.key`, users });
}

/** The fleet Grafana's datasource: the fleet Prometheus over TLS (the fleet CA) with its own user. Holds a password. */
export function renderFleetDatasource(node: string, port: number, password: string, caCertificate: string): string {
  return yaml.dump({
    apiVersion: 1,
    datasources: [{
      name: "Fleet",
      uid: DATASOURCE_UID,
      type: "prometheus",
      access: "proxy",
      url: `https://${containerName(node, FLEET_ROLES.prometheus)}:${port}`,
      isDefault: true,
      editable: false,
      basicAuth: true,
      basicAuthUser: FLEET_GRAFANA_USER,
      jsonData: { tlsAuthWithCACert: true },
      secureJsonData: { basicAuthPassword: password, tlsCACert: caCertificate },
    }],
  }, { lineWidth: -1 });
}

/** Names the certificate is issued to: the address nodes dial, the container name its neighbours use, and loopback for SSH tunnels. */
export function certificateNames(node: string, address: string): string[] {
  const isIp = /^[0-9.]+$/.test(address) || address.includes(":");
  const names = [`${isIp ? "IP" : "DNS"}:${address}`, `DNS:${containerName(node, FLEET_ROLES.prometheus)}`, "DNS:localhost", "IP:127.0.0.1"];
  return [...new Set(names)];
}

/**
 * A bash script (run on the workstation once) that makes a CA and a server certificate for `names` with openssl
 * and prints the CA certificate, the server certificate and its key, in that order. The CA key is thrown away.
 */
export function certificateScript(names: string[], days = 3650): string {
  const ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  return [
    "set -euo pipefail",
    `d=$(mktemp -d); trap 'rm -rf "$d"' EXIT; cd "$d"`,
    `openssl req -x509 ${ec} -keyout ca.key -out ca.pem -days ${days} -subj '/CN=pulumi-ephemery fleet CA' 2>/dev/null`,
    `openssl req ${ec} -keyout server.key -out server.csr -subj '/CN=pulumi-ephemery fleet monitor' 2>/dev/null`,
    `printf '%s\\n' ${shellQuote(`subjectAltName=${names.join(",")}`)} basicConstraints=CA:FALSE extendedKeyUsage=serverAuth > ext.cnf`,
    `openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days ${days} -extfile ext.cnf 2>/dev/null`,
    "cat ca.pem server.pem server.key",
  ].join("\n");
}

export interface FleetTls { caCertificate: string; certificate: string; privateKey: string }

/** Splits certificateScript's output; throws when it is not two certificates and a key. */
export function parseCertificateOutput(out: string): FleetTls {
  const blocks = out.match(/-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----\n?/g) ?? [];
  if (blocks.length !== 3 || !blocks[0].includes("CERTIFICATE") || !blocks[1].includes("CERTIFICATE") || !blocks[2].includes("PRIVATE KEY")) {
    throw new Error("generating the fleet monitor's certificate with openssl gave no CA, certificate and key; is openssl installed on the workstation? (or set ephemery:fleetTls)");
  }
  return { caCertificate: blocks[0], certificate: blocks[1], privateKey: blocks[2] };
}
