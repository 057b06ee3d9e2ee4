/**
 * The generated configuration run for real on loopback: Prometheus (Debian's 2.42) scrapes a real node-exporter
 * whose textfile collector holds the reset metrics, the validator exporter (against a fake beacon API), Alertmanager
 * and itself; rules evaluate; Alertmanager routes and inhibits with the generated alertmanager.yml and posts to a
 * webhook. Only the target addresses are adapted: on a node they are container names on the Docker network.
 */
import * as fs from "fs";
import * as http from "http";
import * as yaml from "js-yaml";
import * as path from "path";
import { buildNodeSpecs } from "../../lib/clients";
import { renderMonitoring, secretLookup } from "../../lib/monitoring";
import { NODE_EXPORTER_METRICS, RESET_METRICS } from "../../lib/monitoring/exporterMetrics";
import { FakeBeacon, startFakeBeacon } from "./beaconServer";
import { freePort, hostFor, startProcess, Started, tmpDir, waitFor } from "./support";

const EXPORTER = path.join(__dirname, "..", "..", "exporter", "validator-exporter.js");

interface Target { labels: { job: string }; health: string }
interface AmAlert { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } }

describe("Prometheus, node-exporter, exporter and Alertmanager with the generated files", () => {
  const procs: Started[] = [];
  let dir: string;
  let beacon: FakeBeacon;
  let webhook: http.Server;
  const notified: { alerts: { labels: Record<string, string> }[] }[] = [];
  const ports: Record<string, number> = {};
  const now = Math.floor(Date.now() / 1000);

  const promQuery = async (q: string) => {
    const r = await (await fetch(`http://127.0.0.1:${ports.prometheus}/api/v1/query?query=${encodeURIComponent(q)}`)).json() as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return r.data.result;
  };
  const amAlerts = async () => (await (await fetch(`http://127.0.0.1:${ports.alertmanager}/api/v2/alerts`)).json()) as AmAlert[];

  beforeAll(async () => {
    dir = tmpDir("stack");
    for (const k of ["nodeExporter", "exporter", "alertmanager", "prometheus", "webhook", "closed"]) ports[k] = await freePort();

    webhook = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => { notified.push(JSON.parse(body)); res.end("ok"); });
    });
    await new Promise<void>((r) => webhook.listen(ports.webhook, "127.0.0.1", r));

    const host = hostFor("geth", "lighthouse", "lighthouse", {
      scrapeIntervalSec: 5,
      groupWaitSec: 0,
      receivers: [{ name: "hook", type: "webhook", urlSecret: "hookUrl" }],
    });
    const rendered = renderMonitoring(host, buildNodeSpecs({ node: "n1", host, checkpointSyncUrls: [] }), secretLookup({ hookUrl: `http://127.0.0.1:${ports.webhook}/hook` }));
    for (const f of [...rendered.files, rendered.alertmanager]) {
      fs.mkdirSync(path.dirname(path.join(dir, f.path)), { recursive: true });
      fs.writeFileSync(path.join(dir, f.path), f.content);
    }

    // Loopback addresses instead of container names; the clients are not running here, so they point at a closed port.
    const prom = yaml.load(fs.readFileSync(path.join(dir, "prometheus.yml"), "utf8")) as {
      alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const addressOf: Record<string, string> = { node: `127.0.0.1:${ports.nodeExporter}`, exporter: `127.0.0.1:${ports.exporter}`, alertmanager: `127.0.0.1:${ports.alertmanager}`, prometheus: `127.0.0.1:${ports.prometheus}` };
    for (const s of prom.scrape_configs) s.static_configs[0].targets = [addressOf[s.job_name] ?? `127.0.0.1:${ports.closed}`];
    prom.alerting.alertmanagers[0].static_configs[0].targets = [addressOf.alertmanager];
    fs.writeFileSync(path.join(dir, "prometheus.yml"), yaml.dump(prom));

    // The reset program's textfile: a reset 5 minutes away (inside the reset window) with its release not yet staged.
    fs.mkdirSync(path.join(dir, "textfile"));
    const r = RESET_METRICS;
    fs.writeFileSync(path.join(dir, "textfile", "ephemery.prom"), [
      `${r.iteration} 150`, `${r.chainId} 39438150`, `${r.nextReset} ${now + 300}`, `${r.releaseStaged} 0`,
      `${r.lastReset} ${now - 2419200}`, `${r.lastResetDuration} 94`, `${r.resetFailures} 0`, "",
    ].join("\n"));

    beacon = await startFakeBeacon({ currentEpoch: 10 });
    procs.push(startProcess("prometheus-node-exporter", [
      `--web.listen-address=127.0.0.1:${ports.nodeExporter}`, "--collector.disable-defaults",
      "--collector.textfile", `--collector.textfile.directory=${path.join(dir, "textfile")}`,
      "--collector.filesystem", "--collector.meminfo", "--collector.cpu", "--collector.loadavg", "--collector.netdev",
    ]));
    procs.push(startProcess("node", [EXPORTER, `--listen=127.0.0.1:${ports.exporter}`, `--beacon-url=${beacon.url}`, "--pubkeys=a99a76ed7796f7be22d5b7e85deeb7c5677e88e511e0b337618f8c4eb61349b4bf2d153f649f7b53359fe8b94a38e44c", "--interval-sec=1"]));
    procs.push(startProcess("prometheus-alertmanager", [
      `--config.file=${path.join(dir, "alertmanager.yml")}`, `--storage.path=${path.join(dir, "am-data")}`,
      `--web.listen-address=127.0.0.1:${ports.alertmanager}`, "--cluster.listen-address=",
    ]));
    procs.push(startProcess("prometheus", [
      `--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "prom-data")}`,
      `--web.listen-address=127.0.0.1:${ports.prometheus}`,
    ]));
  });

  afterAll(async () => {
    for (const p of procs) await p.stop();
    await beacon?.close();
    await new Promise<void>((r) => (webhook ? webhook.close(() => r()) : r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("scrapes node-exporter, the exporter, Alertmanager and itself; the absent clients show as down", async () => {
    const targets = await waitFor("every target scraped once", async () => {
      const r = await (await fetch(`http://127.0.0.1:${ports.prometheus}/api/v1/targets`)).json() as { data: { activeTargets: Target[] } };
      const t = r.data.activeTargets;
      return t.length > 0 && t.every((x) => x.health !== "unknown") ? t : undefined;
    }, 60_000, 500);
    const health = Object.fromEntries(targets.map((t) => [t.labels.job, t.health]));
    expect(health).toEqual({ node: "up", exporter: "up", alertmanager: "up", prometheus: "up", execution: "down", consensus: "down", validator: "down" });
  });

  it("has the reset metrics from the textfile collector, with the node label", async () => {
    const it = await waitFor("ephemery_iteration", async () => ((await promQuery("ephemery_iteration")).length ? await promQuery("ephemery_iteration") : undefined));
    expect(it).toEqual([expect.objectContaining({ metric: expect.objectContaining({ job: "node", node: "n1", client: "node-exporter" }), value: [expect.any(Number), "150"] })]);
    for (const name of Object.values(RESET_METRICS)) expect(await promQuery(name)).toHaveLength(1);
  });

  it("has every node-exporter metric the rules and dashboards read", async () => {
    for (const name of NODE_EXPORTER_METRICS) expect({ name, found: (await promQuery(`${name}{job="node"}`)).length > 0 }).toEqual({ name, found: true });
    const free = await promQuery('(node_filesystem_avail_bytes{job="node",mountpoint="/var/lib/docker"} or on(node) node_filesystem_avail_bytes{job="node",mountpoint="/"})');
    expect(free).toHaveLength(1);
  });

  it("has the exporter's beacon metrics", async () => {
    const up = await waitFor("exporter beacon metrics", async () => { const r = await promQuery('ephemery_beacon_api_up{job="exporter"}'); return r.length ? r : undefined; });
    expect(up[0].value[1]).toBe("1");
    expect(await promQuery('ephemery_validator_balance_gwei{job="exporter",validator="11"}')).toHaveLength(1);
  });

  it("fires the reset window and the release alert; Alertmanager inhibits sync alerts in the window and notifies the webhook", async () => {
    await waitFor("both alerts in Alertmanager", async () => {
      const names = (await amAlerts()).map((a) => a.labels.alertname);
      return names.includes("EphemeryResetWindow") && names.includes("EphemeryReleaseNotStaged") ? true : undefined;
    }, 60_000, 500);
    // Alerts as Prometheus would send them for this node: one held back during a reset, one not.
    const post = await fetch(`http://127.0.0.1:${ports.alertmanager}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        { labels: { alertname: "ConsensusPeersLow", node: "n1", severity: "warning", silence_during_reset: "true" }, annotations: { summary: "few peers" } },
        { labels: { alertname: "ProposalMissed", node: "n1", severity: "warning" }, annotations: { summary: "missed" } },
        { labels: { alertname: "ConsensusPeersLow", node: "n2", severity: "warning", silence_during_reset: "true" }, annotations: { summary: "other node" } },
      ]),
    });
    expect(post.status).toBe(200);
    const state = await waitFor("inhibition computed", async () => {
      const all = await amAlerts();
      const of = (name: string, node: string) => all.find((a) => a.labels.alertname === name && a.labels.node === node)?.status.state;
      const s = { peersN1: of("ConsensusPeersLow", "n1"), proposal: of("ProposalMissed", "n1"), peersN2: of("ConsensusPeersLow", "n2") };
      return s.peersN1 === "suppressed" ? s : undefined;
    }, 20_000, 500);
    // Inhibition only reaches the node that is resetting.
    expect(state).toEqual({ peersN1: "suppressed", proposal: "active", peersN2: "active" });

    const sent = await waitFor("webhook notifications", async () => {
      const names = new Set(notified.flatMap((n) => n.alerts.map((a) => `${a.labels.alertname}/${a.labels.node}`)));
      return names.has("EphemeryReleaseNotStaged/n1") && names.has("ProposalMissed/n1") && names.has("ConsensusPeersLow/n2") ? names : undefined;
    }, 30_000, 500);
    expect(sent.has("EphemeryResetWindow/n1")).toBe(false);
    expect(sent.has("ConsensusPeersLow/n1")).toBe(false);
  });
});
