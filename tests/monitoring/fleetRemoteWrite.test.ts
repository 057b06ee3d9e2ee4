/**
 * The fleet monitor for real (Debian's prometheus binary): two node Prometheus instances, configured by the
 * node renderer plus the fleet's remote_write block, send their series over TLS with basic auth to a fleet
 * Prometheus that runs the fleet rules with --web.enable-remote-write-receiver. Series arrive labelled by
 * node; anonymous and wrong-password writers are refused; a stopped node raises FleetNodeSilent for it. The
 * certificate and the bcrypt hash are made by the program's own code (certificateScript, fleetPasswordHash).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { allQueries } from "../../lib/monitoring/dashboards";
import { buildFleetDashboard, buildFleetRuleGroup, DEFAULT_FLEET_THRESHOLDS, renderFleetPrometheusConfig, renderFleetRuleFile, renderFleetWebConfig, withRemoteWrite } from "../../lib/monitoring/fleet";
import { renderPrometheusConfig } from "../../lib/monitoring/prometheus";
import { certificateNames, certificateScript, fleetPasswordHash, parseCertificateOutput } from "../../lib/monitoring/fleetMonitor";
import { freePort, hostFor, startProcess, Started, tmpDir, waitFor } from "./support";

const USER = "nodes";
const PASSWORD = `pw-${process.pid}-${Date.now()}`;
let dir: string;
let fleetPort: number;
let ca: Buffer;
const procs: Record<string, Started> = {};

/** `auth` null sends no credentials. */
function fleetGet(pathAndQuery: string, auth: string | null = `${USER}:${PASSWORD}`, method = "GET"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: "127.0.0.1", port: fleetPort, path: pathAndQuery, method, ca, auth: auth ?? undefined, servername: "fleet.test", timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (d) => { if (body.length < 1 << 20) body += d; });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("fleet request timed out")));
    req.on("error", reject);
    req.end();
  });
}

async function query(q: string): Promise<{ metric: Record<string, string> }[]> {
  const r = await fleetGet(`/api/v1/query?query=${encodeURIComponent(q)}`);
  if (r.status !== 200) throw new Error(`query ${q}: HTTP ${r.status} ${r.body}`);
  return (JSON.parse(r.body) as { data: { result: { metric: Record<string, string> }[] } }).data.result;
}

async function startNode(node: string): Promise<void> {
  const port = await freePort();
  const host = hostFor("geth", "lighthouse", null, { scrapeIntervalSec: 5 }, node);
  const base = renderPrometheusConfig([{ job: "prometheus", address: `127.0.0.1:${port}`, path: "/metrics", client: "prometheus" }], { node, monitoring: host.monitoring, ruleFiles: [], alertmanager: "127.0.0.1:1" });
  const passwordFile = path.join(dir, `${node}-password`);
  fs.writeFileSync(passwordFile, PASSWORD, { mode: 0o600 });
  const config = withRemoteWrite(base, { url: `https://127.0.0.1:${fleetPort}/api/v1/write`, username: USER, passwordFile, caFile: path.join(dir, "ca.pem"), serverName: "fleet.test" });
  fs.writeFileSync(path.join(dir, `${node}.yml`), config);
  execFileSync("promtool", ["check", "config", path.join(dir, `${node}.yml`)], { stdio: "pipe" });
  procs[node] = startProcess("prometheus", [
    `--config.file=${path.join(dir, `${node}.yml`)}`, `--storage.tsdb.path=${path.join(dir, `${node}-data`)}`, `--web.listen-address=127.0.0.1:${port}`,
  ]);
}

beforeAll(async () => {
  dir = tmpDir("fleet-rw");
  // The CA and server certificate as the program makes them (certificateScript, run by bash and openssl).
  const tls = parseCertificateOutput(execFileSync("bash", ["-c", certificateScript(certificateNames("fleet", "fleet.test"))], { encoding: "utf8" }));
  fs.writeFileSync(path.join(dir, "ca.pem"), tls.caCertificate);
  fs.writeFileSync(path.join(dir, "server.pem"), tls.certificate);
  fs.writeFileSync(path.join(dir, "server.key"), tls.privateKey, { mode: 0o600 });
  ca = fs.readFileSync(path.join(dir, "ca.pem"));

  fleetPort = await freePort();
  // A 30-second silence so the test waits seconds, not five minutes (alpha, scraped every 5 s and sent within
  // 5 s, keeps a wide margin under it on a busy machine).
  fs.writeFileSync(path.join(dir, "fleet-rules.yml"), renderFleetRuleFile(buildFleetRuleGroup({ ...DEFAULT_FLEET_THRESHOLDS, silentSec: 30 })));
  fs.writeFileSync(path.join(dir, "fleet.yml"), renderFleetPrometheusConfig({ ruleFiles: ["fleet-rules.yml"], evaluationIntervalSec: 5 }));
  // The users' hashes as the program makes them (this project's bcrypt), checked by Prometheus itself.
  fs.writeFileSync(path.join(dir, "web.yml"), renderFleetWebConfig({ certFile: path.join(dir, "server.pem"), keyFile: path.join(dir, "server.key"), users: { [USER]: fleetPasswordHash(USER, PASSWORD) } }));
  execFileSync("promtool", ["check", "web-config", path.join(dir, "web.yml")], { stdio: "pipe" });
  procs.fleet = startProcess("prometheus", [
    `--config.file=${path.join(dir, "fleet.yml")}`, `--storage.tsdb.path=${path.join(dir, "fleet-data")}`, `--web.listen-address=127.0.0.1:${fleetPort}`,
    `--web.config.file=${path.join(dir, "web.yml")}`, "--web.enable-remote-write-receiver",
  ]);
  await waitFor("the fleet monitor", async () => ((await fleetGet("/-/ready").catch(() => undefined))?.status === 200 ? true : undefined));
  await startNode("alpha");
  await startNode("beta");
}, 120_000);

afterAll(async () => {
  for (const p of Object.values(procs)) await p.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test("every node's series arrive at the fleet monitor, labelled by node", async () => {
  const nodes = await waitFor("series from both nodes", async () => {
    const seen = new Set((await query("up")).map((r) => r.metric.node));
    return seen.has("alpha") && seen.has("beta") ? [...seen].sort() : undefined;
  }, 60_000, 1000);
  expect(nodes).toEqual(["alpha", "beta"]);
  // They arrived by remote_write: the fleet monitor scrapes nothing itself.
  expect((await query("up")).every((r) => r.metric.job === "prometheus")).toBe(true);
}, 90_000);

test("the real fleet Prometheus evaluates every fleet dashboard query", async () => {
  for (const q of allQueries([buildFleetDashboard()])) {
    const r = await fleetGet(`/api/v1/query?query=${encodeURIComponent(q.expr)}`);
    expect([q.panel, r.status, r.body.slice(0, 200)]).toEqual([q.panel, 200, expect.stringContaining('"status":"success"')]);
  }
  // Both nodes count as sending.
  const sending = JSON.parse((await fleetGet(`/api/v1/query?query=${encodeURIComponent("count(group by (node) (up))")}`)).body);
  expect(sending.data.result[0].value[1]).toBe("2");
});

test("the receiver refuses anonymous and wrong-password writers", async () => {
  expect((await fleetGet("/api/v1/write", null, "POST")).status).toBe(401);
  expect((await fleetGet("/api/v1/write", `${USER}:wrong`, "POST")).status).toBe(401);
  expect((await fleetGet("/api/v1/query?query=up", `${USER}:wrong`)).status).toBe(401);
});

test("a stopped node raises FleetNodeSilent for that node, and only for it", async () => {
  await procs.beta.stop();
  const firing = await waitFor("FleetNodeSilent for beta", async () => {
    const r = await query('ALERTS{alertname="FleetNodeSilent",alertstate="firing"}');
    return r.length > 0 ? r.map((x) => x.metric.node) : undefined;
  }, 150_000, 2000);
  expect(firing).toEqual(["beta"]);
}, 180_000);
