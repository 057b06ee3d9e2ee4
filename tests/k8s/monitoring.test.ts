/**
 * The node's monitoring stack in the cluster (lib/kubernetes/monitoring.ts) on the real API server and kubelet:
 * Prometheus finds the node pod's client metrics ports through kubernetes_sd_configs with its namespace-scoped
 * Role, scrapes them, loads the rules and talks to Alertmanager, whose config comes from a Secret.
 *
 * Images: Prometheus is upstream v3.7.3 built from the Go module proxy (scripts/prometheus-binary.sh; Debian's
 * 2.42 has no kubernetes service discovery), Alertmanager Debian's 0.25 (scripts/client-images.sh --tars
 * monitoring), the clients the engine tier's stand-ins with a metrics endpoint added (below).
 *
 * Two stand-ins for what a real cluster has and this one does not, both only in this test:
 * - kube-proxy: pods reach the API server through the `kubernetes` Service's address, which nothing routes here.
 *   The test gives the host an address on the pod bridge (10.247.24.1, the address host-local IPAM keeps for a
 *   gateway) and forwards 10.247.24.1:33443 to the API server; the Prometheus container's KUBERNETES_SERVICE_HOST/
 *   PORT and a hostAlias point at it under a name the API server's certificate carries (kubernetes.default.svc).
 *   prometheus.yml stays as rendered (in-cluster discovery).
 * - a route to pod addresses: the same bridge address lets the test read Prometheus's and Alertmanager's HTTP API
 *   at their pod addresses (kubectl port-forward needs a kubelet reachable on a non-loopback address). No packet
 *   leaves the machine: the bridge has no uplink, and it is deleted with the cluster.
 * And one rule: with br_netfilter loaded, frames between two pods on the bridge pass iptables' FORWARD chain, whose
 * policy dockerd sets to DROP; an ACCEPT for ephk8s0 -> ephk8s0 (commented, removed after) lets Prometheus reach the
 * node pod, as any CNI's own rules would.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { buildNodeSpecs } from "../../lib/clients";
import { LOCAL_MONITORING_IMAGES } from "../../lib/config/images";
import { hostSchema, HostConfig } from "../../lib/config/schema";
import { clientLayout } from "../../lib/keys/layout";
import { applyCommand, kubectlStdin } from "../support/kubectlApply";
import { KubeObject, objectNames, renderNodeManifests } from "../../lib/kubernetes/manifests";
import { monitoringObjectNames, nodePodSpecs, renderMonitoringManifests } from "../../lib/kubernetes/monitoring";
import { RESET_METRICS_SUBDIR } from "../../lib/kubernetes/manifests";
import { RESET_METRICS } from "../../lib/monitoring/exporterMetrics";
import { buildRuleGroups, ruleCount, secretLookup } from "../../lib/monitoring";
import { RPC_CGI, STANDIN } from "../e2e/standins";
import { busyboxRootfs, dockerArchive, k8sBinDir, layerArchive, missingPrerequisites, POD_GATEWAY, PodNetworkStandIn, TestCluster, waitFor } from "../support/kubernetes";
import { releaseFiles } from "../support/releases";

const REPO = path.join(__dirname, "..", "..");
const NS = "eph-mon";
const NODE = "k8m";
const POD = `${NODE}-0`;
const MON = monitoringObjectNames(NODE);
const MON_POD = `${MON.statefulSet}-0`;
const JWT = "6d".repeat(32);
const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const HOOK = "http://127.0.0.33:33099/k8s-monitoring-hook-s3cret";
const API_FORWARD_PORT = 33443;
const CLIENT_IMAGE = "ephemery-k8s/client-metrics:1.0.0";
const PROMETHEUS_IMAGE = "pulumi-ephemery/prometheus:3.7.3-gomod";

/**
 * Metrics for the stand-ins, in the names lib/monitoring/clientMetrics.ts reads, served as text (Prometheus 3
 * refuses a scrape without a Content-Type it knows). busybox httpd runs cgi-bin/index.cgi for a directory
 * without an index, so /metrics/ and /debug/metrics/prometheus/ answer through it (after httpd's redirect).
 */
const METRICS_CGI = `#!/bin/sh
up=$(cut -d. -f1 /proc/uptime)
printf 'Content-Type: text/plain; version=0.0.4\\r\\n\\r\\n'
printf 'chain_head_block %s\\np2p_peers 7\\nbeacon_head_slot %s\\nbeacon_finalized_epoch %s\\nlibp2p_peers 12\\nvc_beacon_nodes_available_count 1\\n' $((up / 12)) $((up / 12)) $((up / 384))
`;
/** Serves METRICS_CGI on the port the client's metrics flag names, then runs the engine tier's stand-in. */
const METRICS_WRAPPER = `#!/bin/sh
for a; do
  case "$a" in
    --metrics.port=*|--metrics-port=*)
      mkdir -p /metrics-www/cgi-bin /metrics-www/metrics /metrics-www/debug/metrics/prometheus
      cp /opt/metrics.cgi /metrics-www/cgi-bin/index.cgi
      httpd -p "\${a#*=}" -h /metrics-www ;;
  esac
done
exec "/opt/standin/$(basename "$0")" "$@"
`;

let cluster: TestCluster;
let podNetwork: PodNetworkStandIn | undefined;
const pv: Record<string, string> = {};

function hostConfig(): HostConfig {
  return hostSchema.parse({
    name: NODE, kind: "kubernetes",
    kubernetes: { namespace: NS, storageClass: "", imagePullPolicy: "Never" },
    execution: { client: "geth", image: CLIENT_IMAGE, memoryMiB: 256, p2pPort: 33303, rpcPort: 33545, wsPort: 33546 },
    consensus: { client: "lighthouse", image: CLIENT_IMAGE, memoryMiB: 256, p2pPort: 33900, quicPort: 33901, beaconApiPort: 33052 },
    validator: { client: "lighthouse", image: CLIENT_IMAGE, memoryMiB: 256, feeRecipient: FEE },
    monitoring: {
      enabled: true, grafana: false, scrapeIntervalSec: 5, retentionSizeGiB: 1,
      images: { prometheus: PROMETHEUS_IMAGE, alertmanager: LOCAL_MONITORING_IMAGES.alertmanager, nodeExporter: LOCAL_MONITORING_IMAGES.nodeExporter },
      receivers: [{ name: "ops", type: "webhook", urlSecret: "hook" }],
    },
  });
}

/** The objects the component applies (components/kubernetesNode.ts), with the test's kube-proxy stand-in on Prometheus. */
function manifests(): KubeObject[] {
  const h = hostConfig();
  const specs = buildNodeSpecs({ node: NODE, host: h, checkpointSyncUrls: [] });
  const k = h.kubernetes!;
  const opts = {
    namespace: k.namespace, storageClass: k.storageClass, p2pExposure: k.p2pExposure, imagePullPolicy: k.imagePullPolicy,
    volumeGiB: { testnet: 1, execution: 1, consensus: 1, validator: 1 }, dataDir: h.dataDir,
  };
  const node = renderNodeManifests(NODE, nodePodSpecs(h, specs), opts, { jwtHex: JWT, keyFiles: clientLayout("lighthouse", []) });
  const mon = renderMonitoringManifests(h, specs, opts, { alertmanager: secretLookup({ hook: HOOK }) });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const set = mon.objects.find((o) => o.kind === "StatefulSet") as any;
  const pod = set.spec.template.spec;
  pod.hostAliases.push({ ip: POD_GATEWAY, hostnames: ["kubernetes.default.svc"] });
  const prom = pod.containers.find((c: { name: string }) => c.name === "prometheus");
  prom.env = [{ name: "KUBERNETES_SERVICE_HOST", value: "kubernetes.default.svc" }, { name: "KUBERNETES_SERVICE_PORT", value: String(API_FORWARD_PORT) }];
  return [...node.objects, ...mon.objects, ...node.secrets, ...mon.secrets];
}

function apply(): string {
  const script = applyCommand({ namespace: NS, node: NODE, kubectl: path.join(k8sBinDir(), "kubectl"), alsoRollOut: [MON.statefulSet] }, 300);
  const r = spawnSync("bash", ["-c", script], { input: kubectlStdin(fs.readFileSync(cluster.kubeconfig, "utf8"), manifests()), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kubectl line failed (${r.status}):\n${r.stderr}\n${r.stdout}\n${cluster.kubectl(["describe", "pods", "-n", NS]).slice(-4000)}`);
  return r.stdout;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const getJson = (args: string[]): any => JSON.parse(cluster.kubectl([...args, "-o", "json"]));
const podIp = (pod: string): string => getJson(["get", "pod", pod, "-n", NS]).status.podIP;

async function api(ip: string, port: number, p: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`http://${ip}:${port}${p}`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET ${p}: HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > 4 * 1024 * 1024) throw new Error(`GET ${p}: answer over 4 MiB`);
  return JSON.parse(text);
}
const prometheus = (p: string) => api(podIp(MON_POD), 9090, p);

function clientImage(): string {
  const rootfs = busyboxRootfs(cluster.dir, {
    "usr/local/bin/geth": { content: METRICS_WRAPPER, mode: 0o755 },
    "usr/local/bin/lighthouse": { content: METRICS_WRAPPER, mode: 0o755 },
    "opt/standin/geth": { content: STANDIN, mode: 0o755 },
    "opt/standin/lighthouse": { content: STANDIN, mode: 0o755 },
    "opt/metrics.cgi": { content: METRICS_CGI, mode: 0o755 },
    "www/cgi-bin/index.cgi": { content: RPC_CGI, mode: 0o755 },
    "etc/standin-version": { content: "1.0.0\n" },
  });
  return dockerArchive(rootfs, `docker.io/${CLIENT_IMAGE}`, { Entrypoint: ["/bin/sh"] }, cluster.dir);
}

function monitoringImages(): string[] {
  const prom = spawnSync("bash", [path.join(REPO, "scripts", "prometheus-binary.sh")], { encoding: "utf8", timeout: 3_600_000 });
  if (prom.status !== 0) throw new Error(`scripts/prometheus-binary.sh failed:\n${prom.stderr.slice(-2000)}`);
  const binary = path.join(prom.stdout.trim().split("\n").pop()!, "prometheus");
  const rootfs = busyboxRootfs(cluster.dir, {});
  fs.copyFileSync(binary, path.join(rootfs, "bin", "prometheus"));
  fs.chmodSync(path.join(rootfs, "bin", "prometheus"), 0o755);
  const out = [dockerArchive(rootfs, `docker.io/${PROMETHEUS_IMAGE}`, { Entrypoint: ["/bin/prometheus"] }, cluster.dir)];
  // Debian's Alertmanager, the very rootfs scripts/client-images.sh gives Docker.
  const tars = spawnSync("bash", [path.join(REPO, "scripts", "client-images.sh"), "--tars", "monitoring"], { encoding: "utf8", timeout: 600_000 });
  if (tars.status !== 0) throw new Error(`scripts/client-images.sh --tars monitoring failed:\n${tars.stderr.slice(-2000)}`);
  // And Debian's node-exporter, for the reset's metrics in the node pod.
  for (const image of [LOCAL_MONITORING_IMAGES.alertmanager, LOCAL_MONITORING_IMAGES.nodeExporter]) {
    const line = tars.stdout.split("\n").find((l) => l.startsWith(`${image} `));
    if (!line) throw new Error(`scripts/client-images.sh printed no ${image}:\n${tars.stdout}`);
    const [ref, tar, entrypoint] = line.split(" ");
    out.push(layerArchive(tar, `docker.io/${ref}`, { Entrypoint: JSON.parse(entrypoint) }, cluster.dir));
  }
  return out;
}

beforeAll(async () => {
  const missing = missingPrerequisites();
  if (missing) throw new Error(`the Kubernetes tier cannot run: ${missing}`);
  cluster = new TestCluster();
  podNetwork = new PodNetworkStandIn(API_FORWARD_PORT, "ephemery-k8s-monitoring-test");
  await podNetwork.start();
  await cluster.start();
  const images = [clientImage(), ...monitoringImages()];
  for (const img of images) cluster.importImage(img);
  for (const t of ["testnet", "execution-data", "consensus-data", "validator-data"]) pv[t] = cluster.persistentVolume(`${NS}-${t}`, { namespace: NS, name: objectNames(NODE).pvc(t) }, 1);
  for (const t of ["prometheus-data", "alertmanager-data"]) pv[t] = cluster.persistentVolume(`${NS}-${t}`, { namespace: NS, name: MON.pvc(t) }, 2);
  // Stands in for the reset program's `ensure`.
  const rel = path.join(pv.testnet, "releases", "ephemery-7");
  for (const [name, content] of Object.entries(releaseFiles(7))) {
    fs.mkdirSync(path.dirname(path.join(rel, name)), { recursive: true });
    fs.writeFileSync(path.join(rel, name), content);
  }
  fs.symlinkSync("releases/ephemery-7", path.join(pv.testnet, "current"));
  // Stands in for the reset program's write_metrics (root, 0644 files in a 0755 directory).
  fs.mkdirSync(path.join(pv.testnet, RESET_METRICS_SUBDIR), { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(pv.testnet, RESET_METRICS_SUBDIR, "ephemery.prom"), `${RESET_METRICS.iteration} 7\n${RESET_METRICS.resetFailures} 0\n`, { mode: 0o644 });
}, 3_600_000);

afterAll(async () => {
  await podNetwork?.stop(cluster !== undefined);
  if (cluster) await cluster.stop();
}, 300_000);

const JOBS = ["execution", "consensus", "validator"];

describe("the node's monitoring stack in the cluster", () => {
  test("one apply: the node pod and the monitoring pod Running; Prometheus discovers the client metrics ports and they are up", async () => {
    const out = apply();
    expect(out).toMatch(/statefulset.apps\/k8m-monitoring created/);
    expect(out).toMatch(/secret\/k8m-alertmanager created/);
    expect(out).toMatch(/role.rbac.authorization.k8s.io\/k8m-prometheus created/);
    const nodeIp = podIp(POD);
    const targets = await waitFor("the three client targets up", 180_000, async () => {
      const t = (await prometheus("/api/v1/targets?state=active")).data.activeTargets as { labels: Record<string, string>; health: string; scrapeUrl: string; lastError: string }[];
      const clients = t.filter((x) => JOBS.includes(x.labels.job));
      return clients.length === 3 && clients.every((x) => x.health === "up") ? clients : undefined;
    }, () => cluster.kubectl(["describe", "pod", MON_POD, "-n", NS]).slice(-2000));
    const byJob = Object.fromEntries(targets.map((t) => [t.labels.job, t]));
    expect(byJob.execution.scrapeUrl).toBe(`http://${nodeIp}:6060/debug/metrics/prometheus`);
    expect(byJob.consensus.scrapeUrl).toBe(`http://${nodeIp}:5054/metrics`);
    expect(byJob.validator.scrapeUrl).toBe(`http://${nodeIp}:5064/metrics`);
    // The labels a host's static targets carry: the rules and dashboards match on them.
    expect(byJob.execution.labels).toMatchObject({ instance: `${NODE}-execution:6060`, node: NODE, client: "geth" });
    expect(byJob.validator.labels).toMatchObject({ instance: `${NODE}-validator:5064`, node: NODE, client: "lighthouse" });

    const up = await waitFor("up == 1 for each client job", 60_000, async () => {
      const r = (await prometheus(`/api/v1/query?query=${encodeURIComponent('up{job=~"execution|consensus|validator"} == 1')}`)).data.result as { metric: Record<string, string> }[];
      return r.length === 3 ? r : undefined;
    });
    expect(up.map((r) => r.metric.job).sort()).toEqual(JOBS.sort());
    const head = (await prometheus(`/api/v1/query?query=${encodeURIComponent(`chain_head_block{node="${NODE}",job="execution"}`)}`)).data.result;
    expect(head).toHaveLength(1);
    expect(Number(head[0].value[1])).toBeGreaterThan(0);
    // Prometheus and Alertmanager through the names a host uses, on the pod's loopback.
    const self = await waitFor("Prometheus and Alertmanager scraped", 60_000, async () => {
      const r = (await prometheus(`/api/v1/query?query=${encodeURIComponent('up{job=~"prometheus|alertmanager"}')}`)).data.result;
      return r.length === 2 ? r : undefined;
    });
    expect(self.map((r: { metric: Record<string, string>; value: string[] }) => `${r.metric.instance}=${r.value[1]}`).sort()).toEqual([`${NODE}-alertmanager:9093=1`, `${NODE}-prometheus:9090=1`]);
  });

  test("the reset's metrics reach Prometheus from the node pod's node-exporter, as a host's do", async () => {
    const q = `${RESET_METRICS.iteration}{job="node",node="${NODE}"}`;
    const r = await waitFor("ephemery_iteration scraped", 120_000, async () => {
      const res = (await prometheus(`/api/v1/query?query=${encodeURIComponent(q)}`)).data.result as { metric: Record<string, string>; value: string[] }[];
      return res.length === 1 ? res : undefined;
    });
    expect(r[0].metric).toMatchObject({ instance: `${NODE}-node-exporter:9100`, client: "node-exporter" });
    expect(r[0].value[1]).toBe("7");
    // Only the metrics directory is in that container, read-only.
    const pod = getJson(["get", "pod", POD, "-n", NS]);
    const c = pod.spec.containers.find((x: { name: string }) => x.name === "node-exporter");
    expect(c.volumeMounts.filter((m: { name: string }) => m.name === "testnet")).toEqual([{ name: "testnet", mountPath: "/ephemery-reset-metrics", readOnly: true, subPath: RESET_METRICS_SUBDIR }]);
    // The rule that would fire on every cluster node without it sees the series.
    const missing = (await prometheus(`/api/v1/query?query=${encodeURIComponent(`absent(${q})`)}`)).data.result;
    expect(missing).toEqual([]);
  });

  test("the host's rule groups are loaded, every rule healthy, and Alertmanager is Prometheus's", async () => {
    const h = hostConfig();
    const groups = (await prometheus("/api/v1/rules")).data.groups as { name: string; rules: { health: string; name: string; lastError?: string }[] }[];
    // The group names a host's rule files carry (lib/monitoring/rules.ts renderRuleFile).
    expect(groups.map((g) => g.name).sort()).toEqual(buildRuleGroups(h).map((g) => `ephemery-${g.name}`).sort());
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.length).toBe(ruleCount(buildRuleGroups(h)));
    await waitFor("every rule evaluated without error", 60_000, async () => {
      const r = ((await prometheus("/api/v1/rules")).data.groups as typeof groups).flatMap((g) => g.rules);
      const bad = r.filter((x) => x.health !== "ok");
      return bad.length === 0 || undefined;
    });
    const ams = (await prometheus("/api/v1/alertmanagers")).data.activeAlertmanagers as { url: string }[];
    expect(ams.map((a) => a.url)).toEqual([`http://${NODE}-alertmanager:9093/api/v2/alerts`]);
  });

  test("Alertmanager runs on the receiver from its Secret, mounted 0400; no ConfigMap or plain object holds it", async () => {
    const status = await api(podIp(MON_POD), 9093, "/api/v2/status");
    expect(status.config.original).toContain("name: ops");
    expect(status.config.original).toContain(HOOK);
    expect(cluster.execIn(NS, MON_POD, "alertmanager", ["stat", "-L", "-c", "%a", "/etc/alertmanager/alertmanager.yml"]).trim()).toBe("400");
    const plain = cluster.kubectl(["get", "configmaps,pods,statefulsets,services,events", "-n", NS, "-o", "json"]);
    expect(plain).not.toContain("k8s-monitoring-hook-s3cret");
  });

  test("RBAC: Prometheus's account reads pods in the namespace and nothing else; only the Prometheus container has a token", () => {
    const can = (verb: string, what: string, ns: string) => {
      const r = spawnSync(path.join(k8sBinDir(), "kubectl"), [`--kubeconfig=${cluster.kubeconfig}`, "auth", "can-i", verb, what, "-n", ns, `--as=system:serviceaccount:${NS}:${MON.serviceAccount}`], { encoding: "utf8" });
      return r.stdout.trim();
    };
    expect(can("list", "pods", NS)).toBe("yes");
    expect(can("watch", "endpoints", NS)).toBe("yes");
    expect(can("get", "secrets", NS)).toBe("no");
    expect(can("list", "pods", "default")).toBe("no");
    expect(can("create", "pods", NS)).toBe("no");
    const token = (pod: string, c: string) => cluster.execIn(NS, pod, c, ["/bin/sh", "-c", "[ -e /var/run/secrets/kubernetes.io/serviceaccount/token ] && echo token || echo none"]).trim();
    expect(token(MON_POD, "prometheus")).toBe("token");
    expect(token(MON_POD, "alertmanager")).toBe("none");
    for (const c of JOBS) expect(token(POD, c)).toBe("none");
  });

  test("nothing is exposed outside the cluster", () => {
    const svc = getJson(["get", "service", MON.service, "-n", NS]);
    expect(svc.spec.type).toBe("ClusterIP");
    const pod = getJson(["get", "pod", MON_POD, "-n", NS]);
    expect(pod.spec.hostNetwork).toBeUndefined();
    expect(JSON.stringify(pod.spec.containers)).not.toContain("hostPort");
  });

  test("a second apply changes nothing", () => {
    const uid = getJson(["get", "pod", MON_POD, "-n", NS]).metadata.uid;
    const out = apply();
    const lines = out.split("\n").filter((l) => / (unchanged|configured|created|pruned)$/.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(lines.filter((l) => !l.endsWith(" unchanged"))).toEqual([]);
    expect(getJson(["get", "pod", MON_POD, "-n", NS]).metadata.uid).toBe(uid);
  });

  test("the node pod comes back on a new address: discovery follows it", async () => {
    const before = podIp(POD);
    const uid = getJson(["get", "pod", POD, "-n", NS]).metadata.uid;
    cluster.kubectl(["delete", "pod", POD, "-n", NS, "--grace-period=1", "--wait=true"]);
    const after = await waitFor("the node pod back on a new address", 180_000, () => {
      const p = getJson(["get", "pod", POD, "-n", NS]);
      return p.metadata.uid !== uid && p.status.phase === "Running" && p.status.podIP && p.status.podIP !== before ? p.status.podIP as string : undefined;
    });
    await waitFor("the client targets up at the new address", 120_000, async () => {
      const t = ((await prometheus("/api/v1/targets?state=active")).data.activeTargets as { labels: Record<string, string>; health: string; scrapeUrl: string }[]).filter((x) => JOBS.includes(x.labels.job));
      return t.length === 3 && t.every((x) => x.health === "up" && x.scrapeUrl.startsWith(`http://${after}:`)) || undefined;
    });
  });
});
