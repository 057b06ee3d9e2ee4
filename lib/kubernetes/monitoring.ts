/**
 * A kubernetes node's monitoring stack in its cluster: the same prometheus.yml, rules, alertmanager.yml and
 * dashboards lib/monitoring renders for a host, as Kubernetes objects. Pure: no Pulumi, no cluster.
 *
 * One StatefulSet `<node>-monitoring` runs Prometheus, Alertmanager and (when `monitoring.grafana`) Grafana in one
 * pod, each with its own PVC. In one pod the files rendered for a host work unchanged: their
 * `<node>-alertmanager:9093` and `<node>-prometheus:9090` resolve to 127.0.0.1 through hostAliases, so no cluster
 * DNS or Service is needed between them.
 *
 * Prometheus finds the node pod's client metrics ports through `kubernetes_sd_configs` (role pod, the node's
 * namespace only), with a ServiceAccount whose Role may only get/list/watch pods, endpoints and services there.
 * Discovery rather than fixed addresses: a pod's address changes with every restart and the cluster's DNS name of
 * a StatefulSet pod needs cluster DNS; the API always knows the running pod. Each series keeps the labels a host
 * gives it (`instance` = `<node>-<role>:<port>`, `node`, `client`), so the rules and dashboards are the same.
 * Only the Prometheus container gets the token (a projected volume): the pod's automount stays off, and the
 * client pods mount no token at all.
 *
 * The reset's own series (ephemery.prom: iteration, next reset, failures) come from a node-exporter in the node
 * pod with only its textfile collector, on the reset's metrics directory of the testnet PVC (resetMetricsSpec).
 *
 * Not in the cluster, and why: node-exporter's host collectors (a host's filesystem and memory: a DaemonSet with
 * host mounts is the cluster operator's, who usually runs one already) and the validator exporter (it reads the
 * VC's keystores: in a cluster it would need the keys Secret in a second pod). Their rules see no series.
 *
 * alertmanager.yml carries receiver URLs and passwords: a Secret (mode 0400), never a ConfigMap. Nothing gets a
 * Service of type NodePort or LoadBalancer: `<node>-monitoring` is ClusterIP (kubectl port-forward reaches it).
 */
import * as crypto from "crypto";
import { allSpecs, NodeSpecs } from "../clients";
import { ContainerSpec, hostPaths } from "../clients/types";
import { HostConfig } from "../config/schema";
import { renderMonitoring, RenderedFile } from "../monitoring";
import { renderPrometheusConfig, scrapeTargets, ScrapeTarget, staticDiscovery } from "../monitoring/prometheus";
import { buildMonitoringSpecs, MONITORING_MOUNTS } from "../monitoring/specs";
import { placeholderSecrets, renderAlertmanagerConfig, SecretLookup } from "../monitoring/alertmanager";
import { KubeObject, KubernetesNodeOptions, KubernetesRenderError, memoryQuantity, podContainerName, portName, projectedTokenVolume, RESET_METRICS_SUBDIR } from "./manifests";

/** Where a ServiceAccount token, its CA and namespace are read by in-cluster clients (client-go's rest.InClusterConfig). */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export function monitoringLabels(node: string): Record<string, string> {
  // Not the node's app.kubernetes.io/name: the node's StatefulSet selects its pods by it.
  return { "app.kubernetes.io/name": "ephemery-monitoring", "app.kubernetes.io/instance": node, "app.kubernetes.io/managed-by": "pulumi-ephemery" };
}

export function monitoringObjectNames(node: string) {
  return {
    statefulSet: `${node}-monitoring`,
    service: `${node}-monitoring`,
    serviceAccount: `${node}-prometheus`,
    role: `${node}-prometheus`,
    prometheusConfig: `${node}-prometheus`,
    alertmanagerSecret: `${node}-alertmanager`,
    grafanaConfig: `${node}-grafana`,
    grafanaSecret: `${node}-grafana`,
    pvc: (template: string) => `${template}-${node}-monitoring-0`,
  };
}

export interface MonitoringSecretValues {
  /** Entries of ephemery:alertmanagerSecrets (placeholders for the plain render). */
  alertmanager: SecretLookup;
  /** Grafana's admin password; needed when `monitoring.grafana` is on. */
  grafanaAdminPassword?: string;
}

export interface RenderedMonitoringObjects {
  objects: KubeObject[];
  /** alertmanager.yml and Grafana's password. */
  secrets: KubeObject[];
  alertCount: number;
}

/** Where the node pod's node-exporter sees the reset's metrics directory. */
const RESET_METRICS_MOUNT = "/ephemery-reset-metrics";

/**
 * node-exporter in the node pod, serving only the textfiles the in-cluster reset writes (ephemery.prom,
 * ephemery-release.prom) as a host's node-exporter does, under the same job ("node") and instance, so the reset
 * rules, fleet alerts and dashboards work on cluster nodes (without it EphemeryResetMetricsMissing fires on every
 * one). In the node pod because the testnet PVC is ReadWriteOnce and that pod already holds it; its mount is the
 * metrics directory alone, read-only. While a reset has the node scaled to 0 the series pause (that rule waits 30 min).
 * Root, as on a host: the reset job (root) makes the directory, and a subPath the kubelet makes first is 0750.
 */
export function resetMetricsSpec(host: HostConfig): ContainerSpec {
  const onHost = buildMonitoringSpecs(host).nodeExporter;
  // In one pod every port is the pod's: monitoring.nodeExporterPort is the one to change on a clash.
  const port = host.monitoring.nodeExporterPort;
  return {
    ...onHost,
    command: [
      "--collector.disable-defaults",
      "--collector.textfile",
      `--collector.textfile.directory=${RESET_METRICS_MOUNT}`,
      `--web.listen-address=:${port}`,
    ],
    ports: [{ containerPort: port, protocol: "tcp", purpose: "node-exporter", bindAddress: "127.0.0.1" }],
    mounts: [{ kind: "bind", source: `${hostPaths(host.dataDir, host.name).testnetRoot}/${RESET_METRICS_SUBDIR}`, target: RESET_METRICS_MOUNT, readOnly: true }],
    metrics: { ...onHost.metrics!, port },
    data: { ...onHost.data, reset: { wipe: [], keep: [] } },
  };
}

/** The containers of a kubernetes node's pod: its clients, and the reset's metrics when monitoring is on. */
export function nodePodSpecs(host: HostConfig, clients: NodeSpecs): ContainerSpec[] {
  return [...allSpecs(clients), ...(host.monitoring.enabled ? [resetMetricsSpec(host)] : [])];
}

/**
 * Scrape a container of the node's pod: the container named after the spec's role, at its metrics port, found
 * through the API in the node's namespace only.
 */
export function podDiscovery(node: string, namespace: string, clients: ContainerSpec[]): (t: ScrapeTarget) => Record<string, unknown> {
  return (t) => {
    const spec = clients.find((s) => s.metrics?.job === t.job);
    if (!spec) return staticDiscovery(node)(t);
    return {
      kubernetes_sd_configs: [{
        role: "pod",
        namespaces: { names: [namespace] },
        selectors: [{ role: "pod", label: `app.kubernetes.io/name=ephemery-node,app.kubernetes.io/instance=${node}` }],
      }],
      relabel_configs: [
        { source_labels: ["__meta_kubernetes_pod_container_name", "__meta_kubernetes_pod_container_port_number"], regex: `${podContainerName(spec)};${spec.metrics!.port}`, action: "keep" },
        // The labels a host's static target has: rules, inhibitions and dashboards match on them.
        { target_label: "instance", replacement: t.address },
        { target_label: "node", replacement: node },
        { target_label: "client", replacement: t.client },
      ],
    };
  };
}

function configMapFiles(files: RenderedFile[]): { data: Record<string, string>; items: { key: string; path: string }[] } {
  // ConfigMap keys are flat names; items put each file back at its path (rules/x.yml).
  const data: Record<string, string> = {};
  const items = files.map((f) => {
    const key = f.path.replace(/[^A-Za-z0-9._-]/g, "_");
    if (data[key] !== undefined) throw new KubernetesRenderError(`two monitoring files map to the ConfigMap key ${key}`);
    data[key] = f.content;
    return { key, path: f.path };
  });
  return { data, items };
}

const sha256 = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

/**
 * The stack's objects. `opts` are the node's (namespace, storage class, pull policy); the plain objects are the
 * same whatever the secrets (the pod rolls on a config change through a checksum of the plain files).
 */
export function renderMonitoringManifests(host: HostConfig, clients: NodeSpecs, opts: KubernetesNodeOptions, secrets: MonitoringSecretValues): RenderedMonitoringObjects {
  const node = host.name;
  const m = host.monitoring;
  if (!m.enabled) throw new KubernetesRenderError(`${node}: monitoring is disabled; nothing to render`);
  if (m.grafana && !secrets.grafanaAdminPassword) throw new KubernetesRenderError(`${node}: monitoring.grafana needs an admin password (ephemery:grafanaAdminPassword, or the one generated at the first up)`);
  const names = monitoringObjectNames(node);
  const labels = monitoringLabels(node);
  const ns = opts.namespace;
  const meta = (name: string) => ({ name, namespace: ns, labels });

  const rendered = renderMonitoring(host, clients, secrets.alertmanager);
  const specs = rendered.specs;
  const podSpecs = nodePodSpecs(host, clients);
  const inCluster = [specs.prometheus, specs.alertmanager, ...(specs.grafana ? [specs.grafana] : [])];
  const prometheusYml = renderPrometheusConfig(scrapeTargets([...podSpecs, specs.prometheus, specs.alertmanager]), {
    node, monitoring: m, ruleFiles: ["rules/*.yml"], discovery: podDiscovery(node, ns, podSpecs),
  });
  const promFiles = [{ path: "prometheus.yml", hostPath: "", content: prometheusYml }, ...rendered.files.filter((f) => f.path.startsWith("rules/"))];
  const prom = configMapFiles(promFiles);
  const grafanaFiles = rendered.files.filter((f) => f.path.startsWith("dashboards/") || f.path.startsWith("grafana/"));
  const graf = configMapFiles(grafanaFiles);

  const objects: KubeObject[] = [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(names.serviceAccount), automountServiceAccountToken: false },
    {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta(names.role),
      rules: [{ apiGroups: [""], resources: ["pods", "endpoints", "services"], verbs: ["get", "list", "watch"] }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: meta(names.role),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: names.role },
      subjects: [{ kind: "ServiceAccount", name: names.serviceAccount, namespace: ns }],
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: meta(names.prometheusConfig), data: prom.data },
    ...(specs.grafana ? [{ apiVersion: "v1", kind: "ConfigMap", metadata: meta(names.grafanaConfig), data: graf.data }] : []),
  ];
  const secretObjects: KubeObject[] = [
    { apiVersion: "v1", kind: "Secret", metadata: meta(names.alertmanagerSecret), type: "Opaque", data: { "alertmanager.yml": b64(rendered.alertmanager.content) } },
    ...(specs.grafana ? [{ apiVersion: "v1", kind: "Secret", metadata: meta(names.grafanaSecret), type: "Opaque", data: { admin_password: b64(secrets.grafanaAdminPassword!) } }] : []),
  ];

  const dataMount: Record<string, string> = { prometheus: "prometheus-data", alertmanager: "alertmanager-data", grafana: "grafana-data" };
  const configMounts: Record<string, { name: string; mountPath: string; readOnly: true }[]> = {
    prometheus: [
      { name: "prometheus-config", mountPath: MONITORING_MOUNTS.prometheusConfigDir, readOnly: true },
      { name: "prometheus-token", mountPath: SERVICE_ACCOUNT_DIR, readOnly: true },
    ],
    alertmanager: [{ name: "alertmanager-config", mountPath: MONITORING_MOUNTS.alertmanagerConfigDir, readOnly: true }],
    grafana: [
      { name: "grafana-config", mountPath: MONITORING_MOUNTS.grafanaProvisioning, readOnly: true },
      { name: "grafana-dashboards", mountPath: MONITORING_MOUNTS.grafanaDashboards, readOnly: true },
      { name: "grafana-secret", mountPath: MONITORING_MOUNTS.grafanaSecrets, readOnly: true },
    ],
  };
  const containers = inCluster.map((s) => {
    const role = s.client;
    const user = /^(\d+):(\d+)$/.exec(s.user ?? "");
    return {
      name: role,
      image: s.image,
      imagePullPolicy: opts.imagePullPolicy,
      ...(s.entrypoint ? { command: s.entrypoint } : {}),
      ...(s.command.length > 0 ? { args: s.command } : {}),
      ...(Object.keys(s.env).length > 0 ? { env: Object.entries(s.env).map(([name, value]) => ({ name, value })) } : {}),
      ports: s.ports.map((p) => ({ name: portName("monitoring", p.purpose, p.protocol, p.containerPort), containerPort: p.containerPort, protocol: "TCP" })),
      volumeMounts: [...configMounts[role], { name: dataMount[role], mountPath: s.data!.mountPath }],
      resources: { limits: { memory: memoryQuantity(s.memoryMiB) }, requests: { memory: memoryQuantity(s.memoryMiB) } },
      ...(user ? { securityContext: { runAsUser: Number(user[1]), runAsGroup: Number(user[2]) } } : {}),
    };
  });
  // Grafana reads provisioning/ and dashboards/ from two directories: one ConfigMap, two item lists.
  const grafanaVolumes = specs.grafana ? [
    { name: "grafana-config", configMap: { name: names.grafanaConfig, items: graf.items.filter((i) => i.path.startsWith("grafana/provisioning/")).map((i) => ({ ...i, path: i.path.slice("grafana/provisioning/".length) })) } },
    { name: "grafana-dashboards", configMap: { name: names.grafanaConfig, items: graf.items.filter((i) => i.path.startsWith("dashboards/")).map((i) => ({ ...i, path: i.path.slice("dashboards/".length) })) } },
    { name: "grafana-secret", secret: { secretName: names.grafanaSecret, defaultMode: 0o400 } },
  ] : [];

  const volumes = [
    { name: "prometheus-config", configMap: { name: names.prometheusConfig, items: prom.items } },
    { name: "alertmanager-config", secret: { secretName: names.alertmanagerSecret, defaultMode: 0o400 } },
    projectedTokenVolume("prometheus-token", { expirationSeconds: 3607, namespace: true }),
    ...grafanaVolumes,
  ];

  const claims = [
    { name: "prometheus-data", gib: m.retentionSizeGiB + 1 },
    { name: "alertmanager-data", gib: 1 },
    ...(specs.grafana ? [{ name: "grafana-data", gib: 1 }] : []),
  ];
  // Written as the API server stores them, like the node's (see manifests.ts): a second apply changes nothing.
  const volumeClaimTemplates = claims.map((c) => ({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: c.name, labels },
    spec: {
      accessModes: ["ReadWriteOnce"],
      ...(opts.storageClass !== undefined ? { storageClassName: opts.storageClass } : {}),
      resources: { requests: { storage: `${c.gib}Gi` } },
      volumeMode: "Filesystem",
    },
    status: { phase: "Pending" },
  }));

  // Prometheus and Alertmanager read their files at start: a change of a plain file rolls the pod. A change of a
  // receiver secret's value alone does not (its hash would be a fingerprint of the secret): restart the pod then.
  const checksum = sha256(JSON.stringify([prom.data, graf.data, renderAlertmanagerConfig(m, placeholderSecrets, node)]));
  objects.push({
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: meta(names.statefulSet),
    spec: {
      replicas: 1,
      serviceName: names.service,
      selector: { matchLabels: labels },
      // Retain, as the node's (manifests.ts): a replaced StatefulSet keeps its data; the node's destroy deletes it when asked.
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      template: {
        metadata: { labels, annotations: { "pulumi-ephemery/config-sha256": checksum } },
        spec: {
          serviceAccountName: names.serviceAccount,
          // The token reaches the Prometheus container alone, through its projected volume.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          hostAliases: [{ ip: "127.0.0.1", hostnames: inCluster.map((s) => s.name) }],
          terminationGracePeriodSeconds: 30,
          containers,
          volumes,
        },
      },
      volumeClaimTemplates,
    },
  });
  objects.push({
    apiVersion: "v1", kind: "Service", metadata: meta(names.service),
    spec: {
      type: "ClusterIP", selector: labels,
      ports: inCluster.flatMap((s) => s.ports.map((p) => ({ name: portName("monitoring", p.purpose, p.protocol, p.containerPort), port: p.containerPort, targetPort: p.containerPort, protocol: "TCP" }))),
    },
  });
  return { objects, secrets: secretObjects, alertCount: rendered.alertCount };
}

function b64(v: string): string {
  return Buffer.from(v, "utf8").toString("base64");
}
