/** `ephemery dashboard`: a real SSH tunnel (sshd on loopback) to an HTTP server standing in for Grafana. */
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { startSshHost, TestSshHost } from "../support/sshd";
import { runCli } from "./io";

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

async function waitFor<T>(probe: () => T | undefined, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("ephemery dashboard", () => {
  let sshHost: TestSshHost;
  let grafana: http.Server;
  let grafanaPort: number;
  let work: string;
  let stackFile: string;
  let knownHosts: string;
  let fleetStackFile: string;
  let fleetGrafana: http.Server;
  let fleetGrafanaPort: number;

  beforeAll(async () => {
    sshHost = await startSshHost();
    grafana = http.createServer((req, res) => res.end(`grafana saw ${req.url}`));
    await new Promise<void>((r) => grafana.listen(0, "127.0.0.1", r));
    grafanaPort = (grafana.address() as { port: number }).port;
    work = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-dash-"));
    knownHosts = path.join(work, "known_hosts");
    const hostKey = fs.readFileSync(path.join(sshHost.dir, "host_ed25519.pub"), "utf8").split(" ").slice(0, 2).join(" ");
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshHost.port} ${hostKey}\n`);
    stackFile = path.join(work, "Pulumi.dash.yaml");
    fs.writeFileSync(stackFile, [
      "config:",
      "  ephemery:sshPrivateKey: { secure: v1:AAAA }",
      "  ephemery:hosts:",
      "    - name: node1",
      "      address: 127.0.0.1",
      `      ssh: { port: ${sshHost.port} }`,
      `      monitoring: { grafanaPort: ${grafanaPort}, prometheusPort: 1 }`,
      "    - name: quiet",
      "      address: 127.0.0.1",
      "      monitoring: { enabled: false }",
      "",
    ].join("\n"));
    fleetGrafana = http.createServer((req, res) => res.end(`fleet grafana saw ${req.url}`));
    await new Promise<void>((r) => fleetGrafana.listen(0, "127.0.0.1", r));
    fleetGrafanaPort = (fleetGrafana.address() as { port: number }).port;
    fleetStackFile = path.join(work, "Pulumi.fleet.yaml");
    fs.writeFileSync(fleetStackFile, [
      "config:",
      "  ephemery:sshPrivateKey: { secure: v1:AAAA }",
      "  ephemery:hosts:",
      "    - name: monitor",
      "      address: 127.0.0.1",
      `      ssh: { port: ${sshHost.port} }`,
      `      monitoring: { grafanaPort: ${grafanaPort} }`,
      "    - name: node2",
      "      address: 127.0.0.1",
      `  ephemery:fleet: { host: monitor, grafanaPort: ${fleetGrafanaPort} }`,
      "",
    ].join("\n"));
  });
  afterAll(async () => {
    await sshHost?.stop();
    await new Promise((r) => grafana.close(r));
    await new Promise((r) => fleetGrafana.close(r));
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("serves Grafana on a local port through the tunnel until interrupted", async () => {
    let out = "";
    const io = { out: (t: string) => (out += t), err: (t: string) => (out += t), isTTY: false, env: process.env, cwd: work };
    const { main } = await import("../../cli/main");
    const running = main(["dashboard", "--file", stackFile, "--host", "node1", "--identity", sshHost.privateKeyFile, "--known-hosts", knownHosts], io);
    const url = await waitFor(() => /Grafana of node1: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1], 10_000);
    const answers = await Promise.all([get(`${url}api/health`), get(`${url}d/ephemery`)]);
    expect(answers).toEqual([{ status: 200, body: "grafana saw /api/health" }, { status: 200, body: "grafana saw /d/ephemery" }]);
    process.emit("SIGINT");
    expect(await running).toBe(0);
    await expect(get(url)).rejects.toThrow(/ECONNREFUSED/);
  });

  it("reports a missing Prometheus per connection and keeps the tunnel open", async () => {
    let out = "";
    const io = { out: (t: string) => (out += t), err: (t: string) => (out += t), isTTY: false, env: process.env, cwd: work };
    const { main } = await import("../../cli/main");
    const running = main(["dashboard", "--file", stackFile, "--host", "node1", "--prometheus", "--identity", sshHost.privateKeyFile, "--known-hosts", knownHosts], io);
    const url = await waitFor(() => /Prometheus of node1: (http:\/\/\S+)/.exec(out)?.[1], 10_000);
    await expect(get(url)).rejects.toThrow();
    await waitFor(() => (out.includes("is the Prometheus of node1 running?") ? true : undefined), 5000);
    process.emit("SIGINT");
    expect(await running).toBe(0);
  });

  it("says what is wrong with the host choice", async () => {
    const none = await runCli(["dashboard", "--file", stackFile]);
    expect(none.err).toContain("name the host with --host (or --fleet for the fleet monitor); hosts are node1, quiet");
    const off = await runCli(["dashboard", "--file", stackFile, "--host", "quiet"]);
    expect(off.code).toBe(1);
    expect(off.err).toContain("monitoring is off on host quiet");
  });

  it("--fleet tunnels to the fleet monitor's Grafana on the ephemery:fleet host, not the node's", async () => {
    let out = "";
    const io = { out: (t: string) => (out += t), err: (t: string) => (out += t), isTTY: false, env: process.env, cwd: work };
    const { main } = await import("../../cli/main");
    const running = main(["dashboard", "--file", fleetStackFile, "--fleet", "--identity", sshHost.privateKeyFile, "--known-hosts", knownHosts], io);
    const url = await waitFor(() => /Fleet Grafana on monitor: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1], 10_000);
    expect(await get(`${url}d/ephemery-fleet`)).toEqual({ status: 200, body: "fleet grafana saw /d/ephemery-fleet" });
    process.emit("SIGINT");
    expect(await running).toBe(0);
  });

  it("--fleet says what is wrong: no fleet monitor, a --host beside it, the fleet Prometheus", async () => {
    const none = await runCli(["dashboard", "--file", stackFile, "--fleet"]);
    expect([none.code, none.err]).toEqual([2, expect.stringContaining("this stack has no fleet monitor: set ephemery:fleet")]);
    const both = await runCli(["dashboard", "--file", fleetStackFile, "--fleet", "--host", "node2"]);
    expect(both.err).toContain("--fleet goes to the fleet monitor's host (monitor); drop --host");
    const prom = await runCli(["dashboard", "--file", fleetStackFile, "--fleet", "--prometheus"]);
    expect(prom.err).toContain("the fleet Prometheus is not tunnelled: it answers on 127.0.0.1:9443 with TLS and basic auth");
  });
});
