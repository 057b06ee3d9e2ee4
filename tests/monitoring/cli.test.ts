/** `ephemery monitoring render` on stack files: per-node directories that the real tools accept; bad input writes nothing. */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { runCli } from "../support/cli";
import { tmpDir } from "./support";

const STACK = `config:
  ephemery:hosts:
    - name: alpha
      address: 192.0.2.10
      execution: { client: nethermind }
      consensus: { client: teku }
      validator: { feeRecipient: "0x8943545177806ED17B9F23F0a21ee5948eCaa776" }
      monitoring:
        alerts: { consensusMinPeers: 20 }
        receivers:
          - { name: ops, type: slack, webhookUrlSecret: slackUrl }
    - name: beta
      address: 192.0.2.11
      consensus: { client: prysm }
    - name: gamma
      address: 192.0.2.12
      monitoring: { enabled: false }
  ephemery:sshPrivateKey:
    secure: AAABAKEY
  ephemery:alertmanagerSecrets:
    slackUrl:
      secure: AAABASLACK
`;

describe("ephemery monitoring render", () => {
  let dir: string;
  beforeAll(() => {
    dir = tmpDir("cli");
    fs.writeFileSync(path.join(dir, "Pulumi.test.yaml"), STACK);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("writes each enabled node's files under DIR/<node>", async () => {
    const r = await runCli(["monitoring", "render", "--file", "Pulumi.test.yaml", "--out", "out"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^alpha: \d+ files, 22 alerts -> .*out\/alpha$/m); // 20 + the two release alerts
    expect(r.stdout).toMatch(/^beta: \d+ files, 19 alerts/m);
    expect(r.stdout).toContain("gamma: monitoring disabled, skipped");
    const alpha = path.join(dir, "out", "alpha");
    expect(fs.readdirSync(alpha).sort()).toEqual(["alertmanager.yml", "dashboards", "grafana", "prometheus.yml", "rules"]);
    expect(fs.readdirSync(path.join(alpha, "rules")).sort()).toEqual(["host.yml", "reset.yml", "sync.yml", "validator.yml"]);
    expect(fs.readdirSync(path.join(dir, "out", "beta", "rules")).sort()).toEqual(["host.yml", "reset.yml", "sync.yml"]);
    expect(fs.existsSync(path.join(dir, "out", "gamma"))).toBe(false);
    expect(fs.readFileSync(path.join(alpha, "rules", "sync.yml"), "utf8")).toContain('libp2p_peers{job="consensus"} < 20');
    expect(fs.readFileSync(path.join(dir, "out", "beta", "rules", "sync.yml"), "utf8")).toContain('p2p_peer_count{job="consensus",state="Connected"} < 10');

    const am = path.join(alpha, "alertmanager.yml");
    expect((fs.statSync(am).mode & 0o777).toString(8)).toBe("600");
    expect(fs.readFileSync(am, "utf8")).toContain("https://redacted.invalid/alertmanagerSecrets/slackUrl");
    expect(fs.readFileSync(am, "utf8")).not.toContain("AAABASLACK");
    execFileSync("promtool", ["check", "config", path.join(alpha, "prometheus.yml")], { stdio: "pipe" });
    execFileSync("amtool", ["check-config", am], { stdio: "pipe" });
  });

  it("finds the stack file by --stack", async () => {
    const r = await runCli(["monitoring", "render", "--stack", "test", "--out", "out2"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(dir, "out2", "beta", "prometheus.yml"))).toBe(true);
  });

  it("with ephemery:fleet, each node's prometheus.yml sends to the fleet monitor, as the program deploys it", async () => {
    // Every node of a fleet sends, so gamma's monitoring is on here.
    const fleetStack = STACK.replace("      monitoring: { enabled: false }\n", "").replace("  ephemery:sshPrivateKey:", "  ephemery:fleet: { host: beta, port: 9555 }\n  ephemery:sshPrivateKey:");
    fs.writeFileSync(path.join(dir, "Pulumi.fleet.yaml"), fleetStack);
    const r = await runCli(["monitoring", "render", "--file", "Pulumi.fleet.yaml", "--out", "fleet-out"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("alpha: remote_write to https://192.0.2.11:9555/api/v1/write as alpha (password and CA are deployed to /var/lib/ephemery/alpha/monitoring/prometheus/fleet)");
    // The monitor's own node reaches it on their shared Docker network.
    expect(r.stdout).toContain("beta: remote_write to https://beta-fleet-prometheus:9555/api/v1/write as beta");
    const doc = yaml.load(fs.readFileSync(path.join(dir, "fleet-out", "alpha", "prometheus.yml"), "utf8")) as { remote_write: Record<string, any>[] };
    expect(doc.remote_write).toHaveLength(1);
    expect(doc.remote_write[0]).toMatchObject({
      url: "https://192.0.2.11:9555/api/v1/write",
      basic_auth: { username: "alpha", password_file: "/etc/prometheus/fleet/password" },
      tls_config: { ca_file: "/etc/prometheus/fleet/ca.pem" },
    });
    // Without the section the same node's file has no remote_write at all.
    expect(fs.readFileSync(path.join(dir, "out", "alpha", "prometheus.yml"), "utf8")).not.toContain("remote_write");
  });

  it("needs --out, and writes nothing for a stack with problems", async () => {
    const noOut = await runCli(["monitoring", "render", "--file", "Pulumi.test.yaml"], { cwd: dir });
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain("--out DIR is required");

    fs.writeFileSync(path.join(dir, "Pulumi.bad.yaml"), STACK.replace("webhookUrlSecret: slackUrl", "webhookUrlSecret: nowhere"));
    const bad = await runCli(["monitoring", "render", "--file", "Pulumi.bad.yaml", "--out", "bad-out"], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('hosts[0].monitoring.receivers[0]: refers to secret "nowhere"');
    expect(fs.existsSync(path.join(dir, "bad-out"))).toBe(false);
  });
});
