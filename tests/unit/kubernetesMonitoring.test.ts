import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { buildNodeSpecs } from "../../lib/clients";
import { hostSchema, HostConfig } from "../../lib/config/schema";
import { planResources } from "../../lib/kubernetes/resources";
import { KubeObject, KubernetesNodeOptions, KubernetesRenderError, labelsOf, memoryQuantity, renderNodeManifests } from "../../lib/kubernetes/manifests";
import { clientLayout } from "../../lib/keys/layout";
import { monitoringLabels, nodePodSpecs, renderMonitoringManifests, resetMetricsSpec, SERVICE_ACCOUNT_DIR } from "../../lib/kubernetes/monitoring";
import { RESET_POD_PATHS } from "../../lib/kubernetes/reset";
import { RESET_METRICS } from "../../lib/monitoring/exporterMetrics";
import { freePort } from "../support/sshd";
import { buildRuleGroups, ruleCount, secretLookup } from "../../lib/monitoring";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const HOOK = "https://hooks.example.org/T0/B0/s3cr3t-token-value";

function host(monitoring: Record<string, unknown> = {}): HostConfig {
  return hostSchema.parse({
    name: "k1", kind: "kubernetes", kubernetes: { namespace: "eph" },
    validator: { feeRecipient: FEE },
    monitoring: { grafana: false, receivers: [{ name: "ops", type: "webhook", urlSecret: "hook" }], ...monitoring },
  });
}

const opts = (h: HostConfig): KubernetesNodeOptions => ({
  namespace: "eph", p2pExposure: "hostPort", imagePullPolicy: "IfNotPresent",
  volumeGiB: { testnet: 1, execution: 1, consensus: 1, validator: 1 }, dataDir: h.dataDir,
});

function render(h: HostConfig, grafanaAdminPassword?: string) {
  const specs = buildNodeSpecs({ node: h.name, host: h, checkpointSyncUrls: [] });
  return renderMonitoringManifests(h, specs, opts(h), { alertmanager: secretLookup({ hook: HOOK }), grafanaAdminPassword });
}

const one = (objs: KubeObject[], kind: string, name?: string) => {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found).toHaveLength(1);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return found[0] as any;
};

describe("the in-cluster monitoring stack of a kubernetes node", () => {
  test("Prometheus discovers the node pod's client metrics ports in the node's namespace, with a host's labels", () => {
    const h = host();
    const out = render(h);
    const cm = one(out.objects, "ConfigMap", "k1-prometheus");
    const prom = yaml.load(cm.data["prometheus.yml"]) as { scrape_configs: Record<string, any>[]; alerting: any; rule_files: string[] };
    const jobs = Object.fromEntries(prom.scrape_configs.map((j) => [j.job_name, j]));
    expect(Object.keys(jobs).sort()).toEqual(["alertmanager", "consensus", "execution", "node", "prometheus", "validator"]);
    const el = jobs.execution;
    expect(el.metrics_path).toBe("/debug/metrics/prometheus");
    expect(el.static_configs).toBeUndefined();
    expect(el.kubernetes_sd_configs).toEqual([{ role: "pod", namespaces: { names: ["eph"] }, selectors: [{ role: "pod", label: "app.kubernetes.io/name=ephemery-node,app.kubernetes.io/instance=k1" }] }]);
    expect(el.relabel_configs[0]).toEqual({ source_labels: ["__meta_kubernetes_pod_container_name", "__meta_kubernetes_pod_container_port_number"], regex: "execution;6060", action: "keep" });
    expect(el.relabel_configs.slice(1)).toEqual([
      { target_label: "instance", replacement: "k1-execution:6060" },
      { target_label: "node", replacement: "k1" },
      { target_label: "client", replacement: "geth" },
    ]);
    // Prometheus and Alertmanager share the pod: their host addresses resolve to loopback through hostAliases.
    expect(jobs.prometheus.static_configs[0].targets).toEqual(["k1-prometheus:9090"]);
    expect(prom.alerting.alertmanagers[0].static_configs[0].targets).toEqual(["k1-alertmanager:9093"]);
    const set = one(out.objects, "StatefulSet", "k1-monitoring");
    expect(set.spec.template.spec.hostAliases).toEqual([{ ip: "127.0.0.1", hostnames: ["k1-prometheus", "k1-alertmanager"] }]);
    // The validator exporter is not deployed in a cluster: no job points at nothing. "node" is the reset's
    // metrics, from the node pod's node-exporter (next tests).
    expect(prom.scrape_configs.some((j) => j.job_name === "exporter")).toBe(false);
    expect(jobs.node.relabel_configs[0].regex).toBe("node-exporter;9100");
    expect(jobs.node.relabel_configs[1]).toEqual({ target_label: "instance", replacement: "k1-node-exporter:9100" });
  });

  test("every client job keeps a port the node's pod declares, in a pod the job's selector matches", () => {
    const h = host();
    const specs = buildNodeSpecs({ node: h.name, host: h, checkpointSyncUrls: [] });
    const nodeSet = one(renderNodeManifests(h.name, nodePodSpecs(h, specs), opts(h), { jwtHex: "ab".repeat(32), keyFiles: clientLayout("lighthouse", []) }).objects, "StatefulSet");
    const declared = nodeSet.spec.template.spec.containers.flatMap((c: { name: string; ports: { containerPort: number }[] }) => c.ports.map((p) => `${c.name};${p.containerPort}`));
    const podLabels = nodeSet.spec.template.metadata.labels;
    const prom = yaml.load(one(render(h).objects, "ConfigMap", "k1-prometheus").data["prometheus.yml"]) as { scrape_configs: Record<string, any>[] };
    const sd = prom.scrape_configs.filter((j) => j.kubernetes_sd_configs);
    expect(sd.map((j) => j.job_name).sort()).toEqual(["consensus", "execution", "node", "validator"]);
    for (const j of sd) {
      expect(declared).toContain(j.relabel_configs[0].regex);
      for (const kv of (j.kubernetes_sd_configs[0].selectors[0].label as string).split(",")) {
        const [k, v] = kv.split("=");
        expect(podLabels[k]).toBe(v);
      }
    }
  });

  test("the same rule files as a host's, mounted under rules/", () => {
    const h = host();
    const out = render(h);
    const cm = one(out.objects, "ConfigMap", "k1-prometheus");
    const groups = buildRuleGroups(h);
    expect(Object.keys(cm.data).filter((k) => k.startsWith("rules_")).sort()).toEqual(groups.map((g) => `rules_${g.name}.yml`).sort());
    const vol = one(one(out.objects, "StatefulSet").spec.template.spec.volumes.map((v: KubeObject) => ({ ...v, kind: "v", metadata: { name: v.name } })), "v", "prometheus-config");
    expect(vol.configMap.items).toContainEqual({ key: `rules_${groups[0].name}.yml`, path: `rules/${groups[0].name}.yml` });
    expect(out.alertCount).toBe(ruleCount(groups));
  });

  test("alertmanager.yml is a Secret mounted 0400; no receiver secret in any plain object", () => {
    const out = render(host());
    const secret = one(out.secrets, "Secret", "k1-alertmanager");
    expect(Buffer.from(secret.data["alertmanager.yml"], "base64").toString()).toContain(HOOK);
    const plain = JSON.stringify(out.objects);
    expect(plain).not.toContain(HOOK);
    expect(plain).not.toContain(Buffer.from(HOOK).toString("base64").slice(0, 24));
    expect(out.objects.some((o) => o.kind === "Secret")).toBe(false);
    const vols = one(out.objects, "StatefulSet").spec.template.spec.volumes;
    expect(vols.find((v: { name: string }) => v.name === "alertmanager-config").secret).toEqual({ secretName: "k1-alertmanager", defaultMode: 0o400 });
  });

  test("RBAC: a ServiceAccount whose Role reads pods, endpoints and services in the namespace only; the token reaches Prometheus alone", () => {
    const out = render(host());
    const role = one(out.objects, "Role");
    expect(role.metadata.namespace).toBe("eph");
    expect(role.rules).toEqual([{ apiGroups: [""], resources: ["pods", "endpoints", "services"], verbs: ["get", "list", "watch"] }]);
    expect(out.objects.some((o) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding")).toBe(false);
    const binding = one(out.objects, "RoleBinding");
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "k1-prometheus", namespace: "eph" }]);
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "k1-prometheus" });
    const pod = one(out.objects, "StatefulSet").spec.template.spec;
    expect(pod.serviceAccountName).toBe("k1-prometheus");
    expect(pod.automountServiceAccountToken).toBe(false);
    const tokenMounts = pod.containers.flatMap((c: { name: string; volumeMounts: { name: string; mountPath: string }[] }) => c.volumeMounts.filter((m) => m.name === "prometheus-token").map((m) => `${c.name}:${m.mountPath}`));
    expect(tokenMounts).toEqual([`prometheus:${SERVICE_ACCOUNT_DIR}`]);
  });

  test("own PVCs, the node's storage class, nothing exposed outside the cluster; labels the node's StatefulSet does not select", () => {
    const out = render(host({ retentionSizeGiB: 7 }));
    const set = one(out.objects, "StatefulSet");
    expect(set.spec.volumeClaimTemplates.map((c: any) => `${c.metadata.name}:${c.spec.resources.requests.storage}`)).toEqual(["prometheus-data:8Gi", "alertmanager-data:1Gi"]);
    const svc = one(out.objects, "Service");
    expect(svc.spec.type).toBe("ClusterIP");
    expect(JSON.stringify(set.spec.template.spec.containers)).not.toContain("hostPort");
    expect(set.spec.template.spec.hostNetwork).toBeUndefined();
    expect(set.spec.selector.matchLabels).toEqual(monitoringLabels("k1"));
    expect(monitoringLabels("k1")["app.kubernetes.io/name"]).not.toBe(labelsOf("k1")["app.kubernetes.io/name"]);
    // The node's labels (instance + managed-by): its data delete finds the stack's PVCs by them.
    for (const o of [...out.objects, ...out.secrets]) {
      expect(o.metadata.labels?.["app.kubernetes.io/instance"]).toBe("k1");
      expect(o.metadata.labels?.["app.kubernetes.io/managed-by"]).toBe("pulumi-ephemery");
    }
    // Every object is a typed resource of the node (its own name, patchForce), and the StatefulSet keeps the provider's await.
    const planned = planResources("k1", [...out.objects, ...out.secrets]);
    expect(planned.map((p) => p.resourceName)).toEqual([...out.objects, ...out.secrets].map((o) => `k1-${o.kind.toLowerCase()}-${o.metadata.name}`));
    expect(planned.find((p) => p.type === "apps.v1.StatefulSet")!.object.metadata.annotations).not.toHaveProperty(["pulumi.com/skipAwait"]);
    expect(set.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
  });

  test("a change of a plain file rolls the pod; the same config renders the same objects", () => {
    const a = one(render(host()).objects, "StatefulSet").spec.template.metadata.annotations["pulumi-ephemery/config-sha256"];
    expect(one(render(host()).objects, "StatefulSet").spec.template.metadata.annotations["pulumi-ephemery/config-sha256"]).toBe(a);
    expect(one(render(host({ scrapeIntervalSec: 30 })).objects, "StatefulSet").spec.template.metadata.annotations["pulumi-ephemery/config-sha256"]).not.toBe(a);
  });

  test("Grafana, when on: its dashboards and provisioning from a ConfigMap, the password from a Secret", () => {
    const out = render(host({ grafana: true }), "pa55-word-xyz");
    const set = one(out.objects, "StatefulSet");
    expect(set.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(["prometheus", "alertmanager", "grafana"]);
    const cm = one(out.objects, "ConfigMap", "k1-grafana");
    expect(Object.keys(cm.data).some((k) => k.startsWith("dashboards_"))).toBe(true);
    expect(yaml.dump(yaml.load(cm.data["grafana_provisioning_datasources_prometheus.yml"]))).toContain("http://k1-prometheus:9090");
    expect(Buffer.from(one(out.secrets, "Secret", "k1-grafana").data.admin_password, "base64").toString()).toBe("pa55-word-xyz");
    expect(JSON.stringify(out.objects)).not.toContain("pa55-word-xyz");
    expect(() => render(host({ grafana: true }))).toThrow(KubernetesRenderError);
  });

  // Debian's promtool knows no kubernetes_sd_configs (its Prometheus is built without it): the rules are checked
  // here, the whole prometheus.yml by upstream Prometheus in the Kubernetes tier (tests/k8s/monitoring.test.ts).
  const promtool = spawnSync("sh", ["-c", "command -v promtool"]).status === 0;
  (promtool ? test : test.skip)("promtool accepts the rule files as mounted", () => {
    const out = render(host());
    const cm = one(out.objects, "ConfigMap", "k1-prometheus");
    const vol = one(out.objects, "StatefulSet").spec.template.spec.volumes.find((v: { name: string }) => v.name === "prometheus-config");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k8smon-"));
    try {
      for (const it of vol.configMap.items) {
        fs.mkdirSync(path.dirname(path.join(dir, it.path)), { recursive: true });
        fs.writeFileSync(path.join(dir, it.path), cm.data[it.key]);
      }
      const rules = fs.readdirSync(path.join(dir, "rules")).map((f) => path.join(dir, "rules", f));
      expect(rules.length).toBe(buildRuleGroups(host()).length);
      const r = spawnSync("promtool", ["check", "rules", ...rules], { encoding: "utf8" });
      expect(`${r.stdout}${r.stderr}`).toMatch(/SUCCESS/);
      expect(r.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the reset's metrics from the node pod", () => {
  const nodePod = (h: HostConfig) => {
    const specs = buildNodeSpecs({ node: h.name, host: h, checkpointSyncUrls: [] });
    return one(renderNodeManifests(h.name, nodePodSpecs(h, specs), opts(h), { jwtHex: "ab".repeat(32), keyFiles: clientLayout("lighthouse", []) }).objects, "StatefulSet").spec.template.spec;
  };

  test("node-exporter with the textfile collector alone, on the reset's metrics directory of the testnet PVC, read-only", () => {
    const pod = nodePod(host());
    const c = pod.containers.find((x: { name: string }) => x.name === "node-exporter");
    expect(c.image).toBe("prom/node-exporter:v1.10.2");
    expect(c.args).toEqual(["--collector.disable-defaults", "--collector.textfile", "--collector.textfile.directory=/ephemery-reset-metrics", "--web.listen-address=:9100"]);
    // Nothing of the testnet PVC but the metrics directory: not the releases, the journal or the archived slashing protection.
    expect(c.volumeMounts).toEqual([{ name: "testnet", mountPath: "/ephemery-reset-metrics", readOnly: true, subPath: ".ephemery-reset/metrics" }]);
    // The directory the reset job writes to is that same directory of the PVC.
    expect(RESET_POD_PATHS.textfile).toBe(`${RESET_POD_PATHS.testnet}/.ephemery-reset/metrics`);
    expect(c.ports).toEqual([{ name: "mon-node-e-9100", containerPort: 9100, protocol: "TCP" }]);
    expect(JSON.stringify(c)).not.toContain("hostPort");
    // The clients keep their role names.
    expect(pod.containers.map((x: { name: string }) => x.name)).toEqual(["execution", "consensus", "validator", "node-exporter"]);
  });

  test("absent without monitoring; a port clash names monitoring.nodeExporterPort's value", () => {
    const off = host({ enabled: false });
    expect(nodePod(off).containers.map((x: { name: string }) => x.name)).toEqual(["execution", "consensus", "validator"]);
    const clash = hostSchema.parse({
      name: "k1", kind: "kubernetes", kubernetes: { namespace: "eph" }, validator: { feeRecipient: FEE },
      monitoring: { grafana: false, nodeExporterPort: 5054 },
    });
    expect(() => nodePod(clash)).toThrow(/k1-node-exporter and k1-consensus both listen on tcp\/5054/);
  });

  test("the real node-exporter (Debian's 1.5.0) runs the rendered flags: the reset's series and nothing of the machine", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reset-metrics-"));
    fs.writeFileSync(path.join(dir, "ephemery.prom"), `${RESET_METRICS.iteration} 151\n${RESET_METRICS.resetFailures} 0\n`);
    const port = await freePort();
    const args = resetMetricsSpec(host()).command.map((a) => a
      .replace(/^--collector\.textfile\.directory=.*/, `--collector.textfile.directory=${dir}`)
      .replace(/^--web\.listen-address=.*/, `--web.listen-address=127.0.0.1:${port}`));
    const proc = spawn("prometheus-node-exporter", args, { stdio: "ignore" });
    try {
      let text = "";
      for (let i = 0; i < 100 && !text; i++) {
        await new Promise((r) => setTimeout(r, 100));
        text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => "");
      }
      expect(text).toMatch(/^ephemery_iteration 151$/m);
      expect(text).toMatch(/^node_textfile_scrape_error 0$/m);
      expect(text).not.toMatch(/^node_(cpu|memory|filesystem|load)/m);
    } finally {
      proc.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("memory quantities", () => {
  test("written as the API server stores them, so a second apply patches nothing", () => {
    expect(memoryQuantity(1024)).toBe("1Gi");
    expect(memoryQuantity(8192)).toBe("8Gi");
    expect(memoryQuantity(256)).toBe("256Mi");
    expect(memoryQuantity(1536)).toBe("1536Mi");
    const out = render(host());
    const prom = one(out.objects, "StatefulSet").spec.template.spec.containers.find((c: { name: string }) => c.name === "prometheus");
    expect(prom.resources.requests.memory).toBe("1Gi");
  });
});
