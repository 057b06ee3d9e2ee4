/**
 * MonitoringStack inside the real program under mocks: what it creates in each runtime, that secrets stay
 * secrets, and (for real, with bash) that its file-install script writes the rendered files.
 */
import { DEFAULT_IMAGES } from "../../lib/config/images";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { byType, named, RecordedResource, runProgram } from "../support/mocks";
import { tmpDir } from "./support";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const HOOK = "https://hooks.example.org/very-secret-token";
let dataDir: string;

beforeAll(() => { dataDir = tmpDir("monitoring-component"); });
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const host = (extra: Record<string, unknown> = {}) => ({
  name: "n1",
  kind: "local",
  dataDir,
  execution: { client: "geth" },
  consensus: { client: "lighthouse" },
  validator: { feeRecipient: FEE },
  monitoring: { receivers: [{ name: "hook", type: "webhook", urlSecret: "hookUrl" }] },
  ...extra,
});
const config = (h: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ "ephemery:hosts": [h], "ephemery:alertmanagerSecrets": { hookUrl: HOOK }, ...extra });
const SECRETS = ["ephemery:alertmanagerSecrets", "ephemery:grafanaAdminPassword"];

describe("docker runtime", () => {
  let resources: RecordedResource[];
  beforeAll(async () => {
    ({ resources } = await runProgram(config(host()), { secretKeys: SECRETS }));
  });

  it("registers ephemery:monitoring:MonitoringStack with the facts policies read", () => {
    const stack = named(resources, "n1-monitoring");
    expect(stack.type).toBe("ephemery:monitoring:MonitoringStack");
    expect(stack.parent).toBe("n1");
    expect(stack.inputs.node).toBe("n1");
    expect(stack.inputs.alerts).toBe(22); // 20 + EphemeryForkUnsupported and EphemeryScheduleMismatch
    expect(stack.inputs.ports.map((p: { container: string; hostPort: number; bindAddress: string }) => `${p.container}:${p.hostPort}@${p.bindAddress}`).sort()).toEqual([
      "n1-alertmanager:9093@127.0.0.1", "n1-exporter:9106@127.0.0.1", "n1-grafana:3000@127.0.0.1", "n1-node-exporter:9100@127.0.0.1", "n1-prometheus:9090@127.0.0.1",
    ]);
  });

  it("runs five containers on the node's network, after their files are written", () => {
    const containers = byType(resources, "docker:index/container:Container").filter((r) => r.name.startsWith("n1-monitoring-"));
    expect(containers.map((c) => c.inputs.name).sort()).toEqual(["n1-alertmanager", "n1-exporter", "n1-grafana", "n1-node-exporter", "n1-prometheus"]);
    for (const c of containers) {
      expect(c.inputs.networksAdvanced).toEqual([{ name: "n1-net", aliases: [c.inputs.name] }]);
      expect(c.dependsOn).toEqual(expect.arrayContaining(["n1-monitoring-files", "n1-monitoring-alertmanager-config", "n1-monitoring-grafana-password", "n1-jwt-file"]));
    }
    const exporter = containers.find((c) => c.inputs.name === "n1-exporter")!.inputs;
    expect(exporter.entrypoints).toEqual(["node", "/opt/ephemery-exporter/validator-exporter.js"]);
    expect(exporter.command).toEqual(expect.arrayContaining(["--beacon-url=http://n1-consensus:5052", "--keys-dir=/ephemery/validator-keys/current"]));
    expect(exporter.volumes).toEqual(expect.arrayContaining([{ hostPath: `${dataDir}/n1/validator-keys`, containerPath: "/ephemery/validator-keys", readOnly: true }]));
    const grafana = containers.find((c) => c.inputs.name === "n1-grafana")!.inputs;
    expect(grafana.envs).toContain("GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/grafana/admin_password");
    expect(grafana.envs.join("\n")).not.toMatch(/GF_SECURITY_ADMIN_PASSWORD=/);
  });

  it("writes alertmanager.yml as a secret, 0600, without logging", () => {
    const am = named(resources, "n1-monitoring-alertmanager-config");
    expect(am.secretInputs).toContain("stdin");
    expect(am.inputs.stdin).toContain(HOOK);
    expect(am.inputs.create).toContain("chmod 0600");
    expect(am.inputs.create).toContain(`${dataDir}/n1/monitoring/alertmanager/alertmanager.yml`);
    expect(am.inputs.logging).toBe("none");
    // The hook's URL appears in no other resource.
    const leaks = resources.filter((r) => r.name !== am.name && JSON.stringify(r.inputs).includes(HOOK)).map((r) => r.name);
    expect(leaks).toEqual([]);
  });

  it("generates Grafana's admin password once and writes it as a secret", () => {
    expect(named(resources, "n1-monitoring-grafana-password-generate").type).toBe("command:local:Command");
    const pw = named(resources, "n1-monitoring-grafana-password");
    expect(pw.secretInputs).toContain("stdin");
    expect(pw.inputs.create).toContain("chmod 0600");
  });

  it("installs the container-metrics script and its cron entry", () => {
    expect(named(resources, "n1-monitoring-container-metrics").inputs.stdin).toContain("readonly NODE='n1'");
    expect(named(resources, "n1-monitoring-container-metrics-schedule").inputs.stdin).toContain(`root ${dataDir}/n1/bin/ephemery-container-metrics`);
  });

  it("ships an install script that writes every file, drops stale rule files and tells Prometheus", () => {
    const files = named(resources, "n1-monitoring-files");
    const root = `${dataDir}/n1/monitoring`;
    fs.mkdirSync(`${root}/prometheus/rules`, { recursive: true });
    fs.writeFileSync(`${root}/prometheus/rules/removed-group.yml`, "groups: []\n");
    // `docker kill` of a container that does not exist fails quietly, as on a fresh host.
    execFileSync("bash", ["-s"], { input: files.inputs.stdin, stdio: ["pipe", "pipe", "pipe"] });
    expect(fs.readdirSync(`${root}/prometheus/rules`).sort()).toEqual(["host.yml", "reset.yml", "sync.yml", "validator.yml"]);
    const prom = yaml.load(fs.readFileSync(`${root}/prometheus/prometheus.yml`, "utf8")) as { rule_files: string[] };
    expect(prom.rule_files).toEqual(["rules/*.yml"]);
    expect(fs.readFileSync(`${root}/exporter/validator-exporter.js`, "utf8")).toBe(fs.readFileSync(path.join(__dirname, "..", "..", "exporter", "validator-exporter.js"), "utf8"));
    expect(fs.readdirSync(`${root}/grafana/dashboards`).sort()).toEqual(["ephemery-n1-host.json", "ephemery-n1-overview.json", "ephemery-n1-validators.json"]);
    expect(fs.existsSync(`${dataDir}/n1/node-exporter`)).toBe(true);
    expect(files.inputs.stdin).toContain("docker kill --signal=HUP 'n1-prometheus'");
  });
});

describe("compose runtime", () => {
  it("adds the monitoring services to the node's compose project and waits for their files", async () => {
    const { resources } = await runProgram(config(host({ runtime: "compose", monitoring: { exposePublicly: true, grafanaPort: 3300 } })), { secretKeys: SECRETS });
    expect(byType(resources, "docker:index/container:Container")).toEqual([]);
    const file = named(resources, "n1-compose-file");
    const compose = yaml.load(file.inputs.stdin.replace(/^#.*\n/, "")) as { services: Record<string, { ports?: string[] }> };
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(["prometheus", "alertmanager", "grafana", "node-exporter", "exporter"]));
    expect(compose.services.grafana.ports).toEqual(["0.0.0.0:3300:3000/tcp"]);
    expect(named(resources, "n1-compose-up").dependsOn).toEqual(expect.arrayContaining(["n1-monitoring-files", "n1-monitoring-alertmanager-config"]));
  });

  it("uses a configured Grafana password instead of generating one", async () => {
    const { resources } = await runProgram(config(host({ runtime: "compose" }), { "ephemery:grafanaAdminPassword": "correct-horse-battery" }), { secretKeys: SECRETS });
    expect(resources.some((r) => r.name === "n1-monitoring-grafana-password-generate")).toBe(false);
    const pw = named(resources, "n1-monitoring-grafana-password");
    expect(pw.inputs.stdin).toBe("correct-horse-battery");
    expect(pw.secretInputs).toContain("stdin");
  });
});

describe("configuration", () => {
  it("runs configured images and no Grafana (nor its password) when Grafana is off", async () => {
    const images = { prometheus: "mirror.example/prometheus:2.42.0", validatorExporter: "mirror.example/node:22.21.1" };
    const { resources } = await runProgram(config(host({ runtime: "compose", monitoring: { grafana: false, images } })), { secretKeys: SECRETS });
    const compose = yaml.load(named(resources, "n1-compose-file").inputs.stdin.replace(/^#.*\n/, "")) as { services: Record<string, { image: string }> };
    expect(Object.keys(compose.services)).not.toContain("grafana");
    expect(compose.services.prometheus.image).toBe(images.prometheus);
    expect(compose.services.exporter.image).toBe(images.validatorExporter);
    expect(compose.services.alertmanager.image).toBe(DEFAULT_IMAGES.alertmanager);
    expect(resources.filter((r) => /grafana-password/.test(r.name))).toEqual([]);
  });

  it("refuses a monitoring image that is not an image reference, naming the field", async () => {
    await expect(runProgram(config(host({ monitoring: { images: { prometheus: "Prom Etheus" } } })), { secretKeys: SECRETS }))
      .rejects.toThrow(/hosts\[0\]\.monitoring\.images\.prometheus: must be an image reference/);
  });

  it("builds nothing when monitoring is disabled", async () => {
    const { resources } = await runProgram(config(host({ monitoring: { enabled: false } })), { secretKeys: SECRETS });
    expect(resources.filter((r) => r.type.startsWith("ephemery:monitoring:"))).toEqual([]);
  });

  it("refuses a receiver whose secret is missing, naming the command that sets it", async () => {
    await expect(runProgram({ "ephemery:hosts": [host()] }, { secretKeys: SECRETS }))
      .rejects.toThrow(/hosts\[0\]\.monitoring\.receivers\[0\]: refers to secret "hookUrl".*pulumi config set --secret --path 'ephemery:alertmanagerSecrets.hookUrl'/);
  });
});
