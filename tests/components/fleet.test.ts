/**
 * The fleet monitor under Pulumi mocks: what `ephemery:fleet` adds to a stack (the credentials, the monitor's
 * containers and files on its host, each node's remote_write files), that secrets reach only secret inputs, that
 * only the monitor publishes a new port, and that a stack without a fleet section renders exactly as before.
 * The openssl and random-secret commands are answered by the mock harness (tests/support/mocks.ts).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { loadStackConfig } from "../../lib/config/load";
import { byType, named, RecordedResource, runProgram } from "../support/mocks";
import { unpackedFiles } from "../../components/hostDrift";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
let keyDir: string;
let privateKey: string;

beforeAll(() => {
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-fleet-keys-"));
  process.env.EPHEMERY_KEY_DIR = path.join(keyDir, "ssh");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(keyDir, "id")]);
  privateKey = fs.readFileSync(path.join(keyDir, "id"), "utf8");
});
afterAll(() => fs.rmSync(keyDir, { recursive: true, force: true }));

const SECRETS = ["ephemery:sshPrivateKey", "ephemery:alertmanagerSecrets"];
const HOSTS = [
  { name: "n1", address: "192.0.2.11", validator: { feeRecipient: FEE } },
  { name: "n2", address: "192.0.2.12" },
  { name: "n3", address: "fleet-n3.example.org", runtime: "compose" },
];
const HOOK = "https://hooks.example.org/fleet-secret-token";
const FLEET = { host: "n1", receivers: [{ name: "ops", type: "webhook", urlSecret: "opsHook" }], alerts: { silentSec: 60 } };
const stackConfig = (extra: Record<string, unknown> = {}, hosts: unknown[] = HOSTS) => ({
  "ephemery:hosts": hosts, "ephemery:sshPrivateKey": privateKey, "ephemery:alertmanagerSecrets": { opsHook: HOOK }, ...extra,
});

/** The files an installFilesScript writes: target path -> content. */
function installedFiles(script: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = script.split("\n");
  lines.forEach((l, i) => {
    const m = /^printf %s '([A-Za-z0-9+/=]*)' \| base64 -d/.exec(l);
    const target = /^mv -f "\$tmp" '([^']+)'/.exec(lines[i + 2] ?? "");
    if (m && target) out[target[1]] = Buffer.from(m[1], "base64").toString("utf8");
  });
  return out;
}

const prometheusYml = (resources: RecordedResource[], node: string) =>
  yaml.load(installedFiles(named(resources, `${node}-monitoring-files`).inputs.stdin)[`/var/lib/ephemery/${node}/monitoring/prometheus/prometheus.yml`]) as any;

describe("a stack with a fleet monitor on n1", () => {
  let resources: RecordedResource[];
  let without: RecordedResource[];

  beforeAll(async () => {
    ({ resources } = await runProgram(stackConfig({ "ephemery:fleet": FLEET }), { secretKeys: SECRETS }));
    ({ resources: without } = await runProgram(stackConfig(), { secretKeys: SECRETS }));
  });

  test("the credentials are made once on the workstation, with nothing logged", () => {
    expect(named(resources, "fleet").type).toBe("ephemery:fleet:FleetCredentials");
    const tls = named(resources, "fleet-tls-generate");
    expect(tls.type).toBe("command:local:Command");
    expect(tls.inputs.logging).toBe("none");
    // The certificate names the address nodes dial, the container its neighbours use, and loopback.
    expect(tls.inputs.create).toContain("subjectAltName=IP:192.0.2.11,DNS:n1-fleet-prometheus,DNS:localhost,IP:127.0.0.1");
    expect(tls.inputs.create).not.toMatch(/BEGIN|PRIVATE/);
    expect(named(resources, "fleet-secret-generate").inputs.logging).toBe("none");
  });

  test("the monitor's Prometheus receives on the fleet port on all addresses, with TLS and basic auth; the rest stays on loopback", () => {
    const monitor = named(resources, "n1-fleet");
    expect(monitor.type).toBe("ephemery:fleet:FleetMonitor");
    const prom = named(resources, "n1-fleet-prometheus-container").inputs;
    expect(prom.command).toEqual(expect.arrayContaining(["--web.enable-remote-write-receiver", "--web.config.file=/etc/prometheus/web.yml", "--web.listen-address=:9443", "--storage.tsdb.retention.time=30d"]));
    expect(prom.ports).toEqual([expect.objectContaining({ internal: 9443, external: 9443, ip: "0.0.0.0" })]);
    expect(prom.networksAdvanced).toEqual([{ name: "n1-net", aliases: ["n1-fleet-prometheus"] }]);
    expect(named(resources, "n1-fleet-alertmanager-container").inputs.ports).toEqual([expect.objectContaining({ external: 9193, ip: "127.0.0.1" })]);
    expect(named(resources, "n1-fleet-grafana-container").inputs.ports).toEqual([expect.objectContaining({ external: 3100, ip: "127.0.0.1" })]);
    // Containers start once their files are on the host.
    expect(named(resources, "n1-fleet-prometheus-container").dependsOn).toEqual(expect.arrayContaining(["n1-fleet-files", "n1-fleet-web-config", "n1-fleet-key", "n1-fleet-certificate"]));
  });

  test("no node but the monitor publishes a port it did not publish without the fleet", () => {
    const publicPorts = (rs: RecordedResource[]) => byType(rs, "docker:index/container:Container")
      .flatMap((c) => (c.inputs.ports ?? []).filter((p: any) => p.ip === "0.0.0.0").map((p: any) => `${c.inputs.name}:${p.external}`)).sort();
    expect(publicPorts(resources)).toEqual([...publicPorts(without), "n1-fleet-prometheus:9443"].sort());
    const composeFile = (rs: RecordedResource[]) => yaml.load(named(rs, "n3-compose-file").inputs.stdin);
    expect(composeFile(resources)).toEqual(composeFile(without));
  });

  test("each node's Prometheus sends to the monitor as itself, its password in a 0600 file, the CA beside it", () => {
    for (const node of ["n1", "n2", "n3"]) {
      const [rw] = prometheusYml(resources, node).remote_write;
      expect(rw.url).toBe(node === "n1" ? "https://n1-fleet-prometheus:9443/api/v1/write" : "https://192.0.2.11:9443/api/v1/write");
      expect(rw.basic_auth).toEqual({ username: node, password_file: "/etc/prometheus/fleet/password" });
      expect(rw.tls_config).toEqual({ ca_file: "/etc/prometheus/fleet/ca.pem" });
      expect(prometheusYml(resources, node).global.external_labels).toEqual({ node });
      const pw = named(resources, `${node}-monitoring-fleet-password`);
      expect(pw.secretInputs).toContain("stdin");
      expect(pw.inputs.create).toContain(`chmod 0600 "$tmp"`);
      expect(pw.inputs.create).toContain(`/var/lib/ephemery/${node}/monitoring/prometheus/fleet/password`);
      expect(pw.inputs.logging).toBe("none");
      expect(named(resources, `${node}-monitoring-fleet-ca`).inputs.stdin).toContain("BEGIN CERTIFICATE");
    }
    const passwords = ["n1", "n2", "n3"].map((n) => named(resources, `${n}-monitoring-fleet-password`).inputs.stdin);
    expect(new Set(passwords).size).toBe(3);
    expect(passwords.every((p) => p.length >= 32)).toBe(true);
  });

  test("a compose node's drift guard watches its fleet password and CA, holding the same content as the files written", () => {
    const rw = "/var/lib/ephemery/n3/monitoring/prometheus/fleet";
    expect(named(resources, "n3-drift").inputs.files).toEqual(expect.arrayContaining([`${rw}/password`, `${rw}/ca.pem`]));
    expect(named(without, "n3-drift").inputs.files.filter((f: string) => f.startsWith(rw))).toEqual([]);
    const state = named(resources, "n3-drift-state");
    // The password makes the watched files a secret, kept encrypted in state.
    expect(state.secretInputs).toContain("files");
    const watched = Object.fromEntries(unpackedFiles(state.inputs.files).map((f) => [f.path, f]));
    expect(watched[`${rw}/password`]).toEqual({ path: `${rw}/password`, mode: "0600", content: named(resources, "n3-monitoring-fleet-password").inputs.stdin });
    expect(watched[`${rw}/ca.pem`]).toEqual({ path: `${rw}/ca.pem`, mode: "0644", content: named(resources, "n3-monitoring-fleet-ca").inputs.stdin });
  });

  test("the receiver's web config lists every node and the fleet Grafana, each with a bcrypt hash of that node's password", () => {
    const web = named(resources, "n1-fleet-web-config");
    expect(web.secretInputs).toContain("stdin");
    const doc = yaml.load(web.inputs.stdin) as any;
    expect(doc.tls_server_config).toMatchObject({ cert_file: "/etc/prometheus/tls/server.pem", key_file: "/etc/prometheus/tls/server.key" });
    expect(Object.keys(doc.basic_auth_users).sort()).toEqual(["grafana.fleet", "n1", "n2", "n3"]);
    for (const node of ["n1", "n2", "n3"]) {
      const password = named(resources, `${node}-monitoring-fleet-password`).inputs.stdin;
      const hash = doc.basic_auth_users[node];
      // Verified by the system's crypt(3), not by this project's bcrypt.
      const check = execFileSync("python3", ["-W", "ignore", "-c", "import crypt,sys; print(crypt.crypt(sys.stdin.read(), sys.argv[1]))", hash], { input: password, encoding: "utf8" }).trim();
      expect(check).toBe(hash);
    }
  });

  test("secrets (passwords, the TLS key, the fleet receiver's URL) appear only in secret inputs", () => {
    const secrets = [
      ...["n1", "n2", "n3"].map((n) => named(resources, `${n}-monitoring-fleet-password`).inputs.stdin as string),
      "MOCK2fleet-tls-generate", "mock-fleet-secret-fleet-secret-generate", HOOK,
    ];
    for (const r of resources) {
      for (const [k, v] of Object.entries(r.inputs)) {
        if (r.secretInputs.includes(k)) continue;
        const text = JSON.stringify(v);
        for (const s of secrets) expect([r.name, k, text.includes(s)]).toEqual([r.name, k, false]);
      }
    }
    const am = named(resources, "n1-fleet-alertmanager-config");
    expect(am.secretInputs).toContain("stdin");
    expect(am.inputs.stdin).toContain(HOOK);
    expect(named(resources, "n1-fleet-key").inputs.create).toContain(`chmod 0600 "$tmp"`);
    expect(named(resources, "n1-fleet-grafana-datasource").inputs.stdin).toContain("basicAuthUser: grafana.fleet");
  });

  test("the fleet rules carry the configured thresholds, and the dashboard is provisioned", () => {
    const files = installedFiles(named(resources, "n1-fleet-files").inputs.stdin);
    expect(files["/var/lib/ephemery/n1/fleet/prometheus/rules/fleet.yml"]).toContain("last_over_time(up[60s])");
    expect(yaml.load(files["/var/lib/ephemery/n1/fleet/prometheus/prometheus.yml"])).toMatchObject({
      alerting: { alertmanagers: [{ static_configs: [{ targets: ["n1-fleet-alertmanager:9093"] }] }] },
    });
    expect(JSON.parse(files["/var/lib/ephemery/n1/fleet/grafana/dashboards/ephemery-fleet.json"]).title).toBe("Ephemery fleet");
  });

  test("without a fleet section nothing of it exists and each node's files are what they were", () => {
    expect(without.filter((r) => r.name.includes("fleet"))).toEqual([]);
    for (const node of ["n1", "n2", "n3"]) {
      const withFleet = prometheusYml(resources, node);
      delete withFleet.remote_write;
      expect(withFleet).toEqual(prometheusYml(without, node));
      expect(prometheusYml(without, node).remote_write).toBeUndefined();
    }
  });
});

describe("fleet monitor variants", () => {
  test("compose runtime: the monitor's containers join its node's compose project", async () => {
    const { resources } = await runProgram(stackConfig({ "ephemery:fleet": { ...FLEET, host: "n3" } }), { secretKeys: SECRETS });
    const doc = yaml.load(named(resources, "n3-compose-file").inputs.stdin) as any;
    expect(doc.services["fleet-prometheus"]).toMatchObject({ container_name: "n3-fleet-prometheus", ports: ["0.0.0.0:9443:9443/tcp"] });
    expect(doc.services["fleet-alertmanager"].ports).toEqual(["127.0.0.1:9193:9093/tcp"]);
    expect(named(resources, "n3-compose-up").dependsOn).toEqual(expect.arrayContaining(["n3-fleet-files", "n3-fleet-web-config"]));
    expect(named(resources, "fleet-tls-generate").inputs.create).toContain("subjectAltName=DNS:fleet-n3.example.org,");
    expect(prometheusYml(resources, "n1").remote_write[0].url).toBe("https://fleet-n3.example.org:9443/api/v1/write");
  });

  test("a monitor host without Grafana runs Prometheus and Alertmanager only", async () => {
    const hosts = [{ ...HOSTS[0], monitoring: { grafana: false } }, HOSTS[1]];
    const { resources } = await runProgram(stackConfig({ "ephemery:fleet": FLEET }, hosts), { secretKeys: SECRETS });
    expect(resources.filter((r) => r.name.startsWith("n1-fleet-grafana"))).toEqual([]);
    expect(named(resources, "n1-fleet-prometheus-container")).toBeDefined();
  });

  test("an AWS monitor opens the fleet port in its own security group only; given TLS and passwords are used as given", async () => {
    const hosts = [
      { name: "a1", kind: "aws", aws: { region: "eu-central-1" } },
      { name: "a2", kind: "aws", aws: { region: "eu-central-1" } },
    ];
    const tls = { caCertificate: "-----BEGIN CERTIFICATE-----\nGIVENCA\n-----END CERTIFICATE-----\n", certificate: "-----BEGIN CERTIFICATE-----\nGIVENCERT\n-----END CERTIFICATE-----\n", privateKey: "-----BEGIN PRIVATE KEY-----\nGIVENKEY\n-----END PRIVATE KEY-----\n" };
    const given = "g".repeat(40);
    const { resources } = await runProgram(
      stackConfig({ "ephemery:fleet": { host: "a1", address: "fleet.example.org" }, "ephemery:fleetTls": tls, "ephemery:fleetPasswords": { a2: given } }, hosts),
      { secretKeys: [...SECRETS, "ephemery:fleetTls", "ephemery:fleetPasswords"] },
    );
    const ingress = (n: string) => named(resources, `${n}-host-sg`).inputs.ingress.map((r: any) => r.fromPort);
    expect(ingress("a1")).toContain(9443);
    expect(ingress("a2")).not.toContain(9443);
    expect(byType(resources, "command:local:Command").map((r) => r.name)).not.toContain("fleet-tls-generate");
    expect(named(resources, "a1-fleet-key").inputs.stdin).toBe(tls.privateKey);
    expect(named(resources, "a2-monitoring-fleet-ca").inputs.stdin).toBe(tls.caCertificate);
    expect(named(resources, "a2-monitoring-fleet-password").inputs.stdin).toBe(given);
    expect(named(resources, "a1-monitoring-fleet-password").inputs.stdin).not.toBe(given);
  });
});

describe("fleet config errors name what is wrong and how to fix it", () => {
  const check = (fleet: unknown, hosts: unknown[] = HOSTS, secrets: Record<string, unknown> = {}) => {
    const entries = new Map<string, { value: unknown; secret: boolean }>([
      ["ephemery:hosts", { value: hosts, secret: false }],
      ["ephemery:sshPrivateKey", { value: "key", secret: true }],
      ...(fleet === undefined ? [] : [["ephemery:fleet", { value: fleet, secret: false }] as [string, { value: unknown; secret: boolean }]]),
      ...Object.entries(secrets).map(([k, v]) => [`ephemery:${k}`, { value: v, secret: true }] as [string, { value: unknown; secret: boolean }]),
    ]);
    const r = loadStackConfig(entries);
    return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
  };

  test("a valid fleet passes", () => expect(check({ host: "n1" })).toEqual([]));
  test("an unknown host", () => expect(check({ host: "n9" })).toEqual(['ephemery:fleet.host: "n9" names no host; hosts are n1, n2, n3']));
  test("a monitor host with monitoring disabled", () => {
    expect(check({ host: "n2" }, [HOSTS[0], { ...HOSTS[1], monitoring: { enabled: false } }])).toEqual(expect.arrayContaining([
      expect.stringContaining('ephemery:fleet.host: host "n2" has monitoring disabled; the fleet monitor runs with its monitoring stack: set hosts[1].monitoring.enabled: true'),
      expect.stringContaining("hosts n2 have monitoring disabled, so they would send nothing"),
    ]));
  });
  test("a local monitor without an address the nodes can dial", () => {
    expect(check({ host: "loc" }, [{ name: "loc" }, HOSTS[1]])).toEqual([expect.stringContaining('ephemery:fleet.address: host "loc" is local, so the nodes cannot reach it at "localhost"; set fleet.address')]);
  });
  test("a fleet port the monitor host already uses", () => {
    expect(check({ host: "n1", port: 9090 })).toEqual(['ephemery:fleet.port: 9090 is also hosts[0].monitoring.prometheusPort on the monitor host "n1"; give the fleet monitor another port']);
  });
  test("a receiver secret that is missing, a password for no host, fleet secrets without a fleet", () => {
    expect(check({ host: "n1", receivers: [{ name: "x", type: "webhook", urlSecret: "nope" }] })).toEqual([expect.stringContaining("ephemery:fleet.receivers[0]: refers to secret \"nope\"")]);
    expect(check({ host: "n1" }, HOSTS, { fleetPasswords: { n7: "p".repeat(32) } })).toEqual(["ephemery:fleetPasswords.n7: names no host; hosts are n1, n2, n3"]);
    expect(check(undefined, HOSTS, { fleetPasswords: { n1: "p".repeat(32) } })).toEqual(["ephemery:fleetPasswords: is set but ephemery:fleet is not; add a fleet section or remove the secret"]);
    expect(check({ host: "n1" }, HOSTS, { fleetPasswords: { n1: "short" } })).toEqual([expect.stringContaining("ephemery:fleetPasswords.n1")]);
  });
});
