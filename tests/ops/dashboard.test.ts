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
  });
  afterAll(async () => {
    await sshHost?.stop();
    await new Promise((r) => grafana.close(r));
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
    await waitFor(() => (out.includes("is Prometheus running on node1?") ? true : undefined), 5000);
    process.emit("SIGINT");
    expect(await running).toBe(0);
  });

  it("says what is wrong with the host choice", async () => {
    const none = await runCli(["dashboard", "--file", stackFile]);
    expect(none.err).toContain("name the host with --host; hosts are node1, quiet");
    const off = await runCli(["dashboard", "--file", stackFile, "--host", "quiet"]);
    expect(off.code).toBe(1);
    expect(off.err).toContain("monitoring is off on host quiet");
  });
});
