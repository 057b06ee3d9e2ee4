/**
 * The fleet monitor for real: `pulumi up` (Automation API, the toolchain's CLI) deploys three SSH test hosts with
 * their monitoring stacks and the fleet monitor on the first, all on this machine's Docker engine, with real
 * Prometheus and Alertmanager images (Debian's binaries, scripts/client-images.sh monitoring) and stand-in
 * clients. Every node's Prometheus sends by remote_write over TLS with its own password; the series arrive
 * labelled by node; stopping one node's Prometheus raises FleetNodeSilent for it alone, in Prometheus and in
 * the fleet Alertmanager. Intervals are shortened through the config (silentSec 30, evaluation every 5 s).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as http from "http";
import * as path from "path";
import { LOCAL_MONITORING_IMAGES } from "../../lib/config/images";
import { docker } from "../support/dockerd";
import { E2eHost, EngineStack, Fleet, networkConfig, REPO, reservePort, startFleet, waitFor } from "./harness";
import { standinImage } from "./standins";

jest.setTimeout(10 * 60_000);

let fleet: Fleet;
let stack: EngineStack;
let fleetPort: number;
let fleetAlertmanagerPort: number;

/** A port in the range the project's tests may fix (26000-26999), free now and reserved for this run. */
async function fixedRangePort(): Promise<number> {
  const net = await import("net");
  for (let i = 0; i < 200; i++) {
    const p = 26000 + Math.floor(Math.random() * 1000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once("error", () => resolve(false));
      srv.listen(p, "0.0.0.0", () => srv.close(() => resolve(true)));
    });
    if (free && reservePort(p)) return p;
  }
  throw new Error("no free port in 26000-26999");
}

function withMonitoring(h: E2eHost): Record<string, unknown> {
  const p = h.ports;
  return {
    ...h.config,
    monitoring: {
      enabled: true, grafana: false, images: LOCAL_MONITORING_IMAGES, scrapeIntervalSec: 5,
      prometheusPort: p.prometheus, alertmanagerPort: p.alertmanager, grafanaPort: p.grafana, nodeExporterPort: p.nodeExporter, validatorExporterPort: p.validatorExporter,
    },
  };
}

/** The fleet Prometheus's API as node `as` (its password file and the fleet CA, as its Prometheus reads them). */
function fleetApi(as: E2eHost, pathAndQuery: string): Promise<{ status: number; body: string }> {
  const dir = path.join(as.nodeDir, "monitoring", "prometheus", "fleet");
  const auth = `${as.name}:${fs.readFileSync(path.join(dir, "password"), "utf8")}`;
  return new Promise((resolve, reject) => {
    const req = https.request({ host: "127.0.0.1", port: fleetPort, path: pathAndQuery, ca: fs.readFileSync(path.join(dir, "ca.pem")), auth, timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("fleet request timed out")));
    req.on("error", reject);
    req.end();
  });
}

async function query(as: E2eHost, q: string): Promise<{ metric: Record<string, string> }[]> {
  const r = await fleetApi(as, `/api/v1/query?query=${encodeURIComponent(q)}`);
  if (r.status !== 200) throw new Error(`query ${q}: HTTP ${r.status} ${r.body}`);
  return JSON.parse(r.body).data.result;
}

beforeAll(async () => {
  const image = standinImage("1.0.0");
  // The real Prometheus, Alertmanager, node-exporter and Node images, from Debian's binaries (no registry here).
  execFileSync("bash", [path.join(REPO, "scripts", "client-images.sh"), "monitoring"], { stdio: ["ignore", "pipe", "pipe"], timeout: 1_800_000 });
  fleet = await startFleet(3, image);
  for (const h of fleet.hosts) h.config = withMonitoring(h);
  fleetPort = await fixedRangePort();
  fleetAlertmanagerPort = await fixedRangePort();
  // The hosts share this engine: the others reach the monitor's published port at the default bridge's gateway,
  // an address of this machine, as remote nodes would reach the monitor host's public address.
  const gateway = docker(["network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}}"]).trim();
  stack = await EngineStack.create(`fleet-${fleet.runId}`, { stateDir: path.join(REPO, ".pulumi-state", "e2e"), workDir: path.join(fleet.root, "work") });
  await stack.setSecret("ephemery:sshPrivateKey", fleet.privateKey);
  stack.writeConfig({
    "ephemery:network": networkConfig(fleet.server),
    "ephemery:hosts": fleet.hosts.map((h) => h.config),
    "ephemery:fleet": {
      host: fleet.hosts[0].name, address: gateway, port: fleetPort, alertmanagerPort: fleetAlertmanagerPort,
      evaluationIntervalSec: 5, remoteWriteDeadlineSec: 1, alerts: { silentSec: 30 },
    },
  });
});

afterAll(async () => {
  if (stack) {
    try {
      if (await stack.resourceCount() > 0) await stack.destroy();
    } catch { /* the hosts are cleaned below either way */ }
    await stack.remove().catch(() => undefined);
  }
  await fleet?.stop();
});

test("up deploys every node's monitoring and the fleet monitor; only the monitor publishes a new port, on all addresses", async () => {
  await stack.up();
  const [a] = fleet.hosts;
  const running = docker(["ps", "--format", "{{.Names}}"]).split("\n");
  expect(running).toEqual(expect.arrayContaining([`${a.name}-fleet-prometheus`, `${a.name}-fleet-alertmanager`, ...fleet.hosts.map((h) => `${h.name}-prometheus`)]));
  const published = fleet.hosts.flatMap((h) => docker(["ps", "--filter", `label=ephemery.node=${h.name}`, "--format", "{{.Names}} {{.Ports}}"]).split("\n").filter(Boolean))
    .flatMap((line) => [...line.matchAll(/0\.0\.0\.0:(\d+)->/g)].map((m) => `${line.split(" ")[0]}:${m[1]}`));
  const p2p = new Set(fleet.hosts.flatMap((h) => [h.ports.elP2p, h.ports.clP2p, h.ports.quic]));
  expect(published.filter((p) => !p2p.has(Number(p.split(":")[1])))).toEqual([`${a.name}-fleet-prometheus:${fleetPort}`]);
  // Secret files on the hosts are root-owned 0600; the passwords are not in the (encrypted) state file.
  const state = stack.stateFile();
  for (const h of fleet.hosts) {
    const file = path.join(h.nodeDir, "monitoring", "prometheus", "fleet", "password");
    const st = fs.statSync(file);
    expect([st.mode & 0o777, st.uid]).toEqual([0o600, 0]);
    expect(state).not.toContain(fs.readFileSync(file, "utf8"));
  }
  for (const f of ["prometheus/web.yml", "prometheus/tls/server.key", "alertmanager/alertmanager.yml"]) {
    expect([f, fs.statSync(path.join(a.nodeDir, "fleet", f)).mode & 0o777]).toEqual([f, 0o600]);
  }
}, 15 * 60_000);

test("every node's series arrive at the fleet monitor over TLS, labelled by node", async () => {
  const names = fleet.hosts.map((h) => h.name).sort();
  let seen: string[] = [];
  await waitFor(async () => {
    seen = [...new Set((await query(fleet.hosts[1], "up")).map((r) => r.metric.node))].sort();
    return seen.length === names.length;
  }, 180_000, `series from ${names.join(", ")} (seen: ${seen.join(", ")})`);
  expect(seen).toEqual(names);
  // They came by remote_write: the jobs are the nodes' own (their Prometheus and node-exporter), each labelled by node.
  // Each node's scrape jobs start at their own times, so a job's first samples may come a remote-write batch later.
  const wanted = names.flatMap((n) => [`${n}/node`, `${n}/prometheus`]).sort();
  let jobs: string[] = [];
  await waitFor(async () => {
    jobs = (await query(fleet.hosts[1], 'count by (node, job) (up{job=~"prometheus|node"})')).map((r) => `${r.metric.node}/${r.metric.job}`).sort();
    return jobs.length === wanted.length;
  }, 180_000, `the jobs ${wanted.join(", ")} (seen: ${jobs.join(", ")})`).catch(() => undefined);
  expect(jobs).toEqual(wanted);
  // Without credentials, or with another node's name, the receiver refuses.
  const wrong = await new Promise<number>((resolve, reject) => {
    const req = https.request({ host: "127.0.0.1", port: fleetPort, path: "/api/v1/write", method: "POST", rejectUnauthorized: false, auth: `${fleet.hosts[2].name}:not-its-password` }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on("error", reject);
    req.end();
  });
  expect(wrong).toBe(401);
}, 5 * 60_000);

test("a node whose Prometheus stops raises FleetNodeSilent for that node alone, in Prometheus and the fleet Alertmanager", async () => {
  const c = fleet.hosts[2];
  docker(["stop", `${c.name}-prometheus`]);
  let firing: string[] = [];
  let last = "";
  await waitFor(async () => {
    try {
      firing = (await query(fleet.hosts[0], 'ALERTS{alertname="FleetNodeSilent"}')).map((r) => `${r.metric.node}/${r.metric.alertstate}`);
      last = `alerts: ${firing.join(", ") || "none"}; sending: ${(await query(fleet.hosts[0], "count by (node) (up)")).map((r) => r.metric.node).join(", ")}`;
    } catch (e) {
      last = String(e);
      throw e;
    }
    return firing.includes(`${c.name}/firing`);
  }, 180_000, "FleetNodeSilent to fire").catch((e) => {
    const state = docker(["ps", "-a", "--filter", `name=${c.name}-prometheus`, "--filter", `name=${fleet.hosts[0].name}-fleet-prometheus`, "--format", "{{.Names}} {{.Status}}"]);
    throw new Error(`${e.message}; last: ${last}; containers: ${state}`);
  });
  expect(firing.filter((f) => f.endsWith("/firing"))).toEqual([`${c.name}/firing`]);
  const amAlerts = () => new Promise<any[]>((resolve, reject) => {
    http.get(`http://127.0.0.1:${fleetAlertmanagerPort}/api/v2/alerts`, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => { try { resolve(JSON.parse(body)); } catch (e) { reject(e); } });
    }).on("error", reject);
  });
  let silent: any[] = [];
  await waitFor(async () => {
    silent = (await amAlerts()).filter((x) => x.labels.alertname === "FleetNodeSilent");
    return silent.length > 0;
  }, 60_000, "FleetNodeSilent at the fleet Alertmanager");
  expect(silent.map((x) => [x.labels.node, x.labels.scope])).toEqual([[c.name, "fleet"]]);
}, 5 * 60_000);
