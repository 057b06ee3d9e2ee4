import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { CONSENSUS_CLIENTS, EXECUTION_CLIENTS, VALIDATOR_CLIENTS } from "../../lib/config/clients";
import { DEFAULT_IMAGES } from "../../lib/config/images";
import { byType, named, RecordedResource, runProgram } from "../support/mocks";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
let keyDir: string;
let privateKey: string;

beforeAll(() => {
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-keys-"));
  process.env.EPHEMERY_KEY_DIR = path.join(keyDir, "ssh");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(keyDir, "id")]);
  privateKey = fs.readFileSync(path.join(keyDir, "id"), "utf8");
});
afterAll(() => fs.rmSync(keyDir, { recursive: true, force: true }));

const SECRET = ["ephemery:sshPrivateKey"];
const withKey = (hosts: unknown[], extra: Record<string, unknown> = {}) => ({ "ephemery:hosts": hosts, "ephemery:sshPrivateKey": privateKey, ...extra });

function container(resources: RecordedResource[], name: string) {
  return named(resources, `${name}-container`).inputs;
}

describe("all 15 clients on a fleet of SSH hosts (docker runtime)", () => {
  const hosts = EXECUTION_CLIENTS.map((el, i) => ({
    name: `n${i}`,
    address: `192.0.2.${10 + i}`,
    execution: { client: el },
    consensus: { client: CONSENSUS_CLIENTS[i] },
    validator: { client: VALIDATOR_CLIENTS[(i + 1) % 5], feeRecipient: FEE },
  }));
  let resources: RecordedResource[];
  let outputs: Record<string, any>;

  beforeAll(async () => {
    ({ resources, outputs } = await runProgram(withKey(hosts), { secretKeys: SECRET }));
  });

  test.each(hosts.map((h, i) => ({ ...h, i })))("$name runs $execution.client, $consensus.client and a $validator.client validator", ({ name, execution, consensus, validator }) => {
    const components = [
      [`${name}-execution`, "ephemery:execution:ExecutionClient", execution.client],
      [`${name}-consensus`, "ephemery:consensus:ConsensusClient", consensus.client],
      [`${name}-validator`, "ephemery:validator:ValidatorClient", validator.client],
    ] as const;
    for (const [res, type, client] of components) {
      expect(named(resources, res)).toMatchObject({ type, inputs: { client } });
      const c = container(resources, res);
      const image = named(resources, `${res}-image`).inputs.name as string;
      expect(Object.values(DEFAULT_IMAGES)).toContain(image);
      expect(c.name).toBe(res);
      expect(c.restart).toBe("unless-stopped");
      expect(c.memory).toBeGreaterThan(0);
      expect(c.networksAdvanced).toEqual([{ name: `${name}-net`, aliases: [res] }]);
      // Only p2p ports are public; APIs and metrics bind to loopback; the engine API is not published.
      for (const p of c.ports ?? []) {
        const isP2p = [30303, 9000, 9001].includes(p.external);
        expect({ port: p.external, ip: p.ip }).toEqual({ port: p.external, ip: isP2p ? "0.0.0.0" : "127.0.0.1" });
      }
      expect((c.ports ?? []).some((p: any) => p.internal === 8551)).toBe(false);
      expect(c.volumes).toContainEqual({ volumeName: `${res}-data`, containerPath: "/data", readOnly: false });
      expect(c.volumes).toContainEqual({ hostPath: `/var/lib/ephemery/${name}/testnet`, containerPath: "/ephemery/testnet", readOnly: true });
      // Every container goes through its own host's Docker engine.
      expect(named(resources, `${res}-container`).provider).toContain(`${name}-host-docker`);
    }
    const text = (c: any) => [...(c.entrypoints ?? []), ...c.command].join(" ");
    expect(text(container(resources, `${name}-consensus`))).toContain(`http://${name}-execution:8551`);
    expect(text(container(resources, `${name}-validator`))).toContain(`http://${name}-consensus:5052`);
    expect(text(container(resources, `${name}-validator`))).toContain(FEE);
  });

  test("containers wait for the JWT, the release, and the client they talk to", () => {
    const deps = (n: string) => named(resources, `${n}-container`).dependsOn;
    expect(deps("n0-execution")).toEqual(expect.arrayContaining(["n0-jwt-file", "n0-reset-release", "n0-execution-volume"]));
    expect(deps("n0-consensus")).toEqual(expect.arrayContaining(["n0-jwt-file", "n0-reset-release", "n0-execution-container"]));
    expect(deps("n0-validator")).toEqual(expect.arrayContaining(["n0-consensus-container"]));
    expect(named(resources, "n0-reset-release").dependsOn).toEqual(["n0-reset-program"]);
    expect(named(resources, "n0-reset-program").dependsOn).toEqual(["n0-host-bootstrap"]);
  });

  test("commands rerun when their script changes, keyed by its digest rather than a second copy of it", () => {
    const digest = (s: string) => `sha256:${require("crypto").createHash("sha256").update(s).digest("hex")}`;
    const program = named(resources, "n0-reset-program").inputs.stdin as string;
    // The reset release carries the digest in its command, so a new program updates it in place (no replacement).
    const release = named(resources, "n0-reset-release").inputs;
    expect(release.triggers).toBeUndefined();
    expect(release.create).toContain(`ensure # ${digest(program)}`);
    expect(release.update).toBe(release.create);
    const bootstrap = named(resources, "n0-host-bootstrap").inputs;
    expect(bootstrap.triggers).toEqual([digest(bootstrap.stdin)]);
    // Each host's program carries its own values, so each has its own trigger.
    expect(named(resources, "n1-reset-release").inputs.create).not.toEqual(named(resources, "n0-reset-release").inputs.create);
  });

  test("SSH hosts are reached with the key as a secret, and Docker over ssh://", () => {
    const bootstrap = named(resources, "n2-host-bootstrap");
    expect(bootstrap.type).toBe("command:remote:Command");
    expect(bootstrap.secretInputs).toContain("connection");
    expect(bootstrap.inputs.connection).toMatchObject({ host: "192.0.2.12", port: 22, user: "root" });
    expect(bootstrap.inputs.stdin).toContain("install -d -m 0700");
    const provider = named(resources, "n2-host-docker");
    expect(provider.inputs.host).toBe("ssh://root@192.0.2.12:22");
    // Provider inputs reach the engine JSON-encoded.
    const sshOpts = JSON.parse(provider.inputs.sshOpts) as string[];
    expect(sshOpts).toEqual(expect.arrayContaining(["-o", "BatchMode=yes"]));
    const keyFile = sshOpts[1];
    expect(fs.readFileSync(keyFile, "utf8").trim()).toBe(privateKey.trim());
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  test("the JWT is generated once, kept secret, and written 0600", () => {
    const gen = named(resources, "n1-jwt-generate");
    expect(gen.type).toBe("command:local:Command");
    expect(gen.inputs.logging).toBe("none");
    const file = named(resources, "n1-jwt-file");
    expect(file.secretInputs).toContain("stdin");
    expect(file.inputs.create).toContain("chmod 0600");
    expect(file.inputs.create).toContain("/var/lib/ephemery/n1/jwt/jwt.hex");
    expect(file.inputs.logging).toBe("none");
  });

  test("stack outputs name hosts, clients, images, ports and the iteration, and hold no secret", () => {
    const n3 = outputs.hosts.find((h: any) => h.name === "n3");
    expect(n3).toMatchObject({
      address: "192.0.2.13",
      runtime: "docker",
      iteration: 171,
      clients: { execution: { client: "reth" }, consensus: { client: "nimbus" }, validator: { client: "lodestar" } },
      localPorts: { rpc: 8545, beaconApi: 5052, keymanager: 5062 },
    });
    const text = JSON.stringify(outputs);
    expect(text).not.toContain("PRIVATE KEY");
    expect(text).not.toContain("ab".repeat(32));
  });
});

describe("host modes", () => {
  test("local: commands on the workstation, Docker through the local socket", async () => {
    const { resources } = await runProgram({ "ephemery:hosts": [{ name: "ws", kind: "local", dataDir: "/tmp/ephemery-test" }] });
    expect(byType(resources, "command:remote:Command")).toEqual([]);
    expect(named(resources, "ws-host-bootstrap").type).toBe("command:local:Command");
    expect(named(resources, "ws-host-docker").inputs.host).toMatch(/^unix:\/\//);
    expect(named(resources, "ws-host-docker").inputs.sshOpts).toBeUndefined();
    const containers = byType(resources, "docker:index/container:Container").map((r) => r.name);
    expect(containers.filter((n) => !n.startsWith("ws-monitoring")).sort()).toEqual(["ws-consensus-container", "ws-execution-container"]);
  });

  test("aws: key pair, a security group with only p2p and SSH, an encrypted data volume sized for the clients", async () => {
    const { resources } = await runProgram(
      withKey([{ name: "ec2", kind: "aws", aws: { region: "eu-central-1", sshAllowedCidrs: ["203.0.113.4/32"] }, execution: { client: "nethermind" }, consensus: { client: "teku" } }]),
      { secretKeys: SECRET },
    );
    const keyPair = named(resources, "ec2-host-key");
    expect(keyPair.inputs.publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+$/);
    const sg = named(resources, "ec2-host-sg").inputs;
    const ingress = sg.ingress.map((r: any) => `${r.protocol}/${r.fromPort}:${[...r.cidrBlocks, ...(r.ipv6CidrBlocks ?? [])].join(",")}`).sort();
    expect(ingress).toEqual(["tcp/22:203.0.113.4/32", "tcp/30303:0.0.0.0/0,::/0", "tcp/9000:0.0.0.0/0,::/0", "udp/30303:0.0.0.0/0,::/0", "udp/9000:0.0.0.0/0,::/0"]);
    const volume = named(resources, "ec2-host-data").inputs;
    expect(volume).toMatchObject({ availabilityZone: "eu-central-1a", size: 50 + 30 + 20, encrypted: true, type: "gp3" });
    const instance = named(resources, "ec2-host-instance").inputs;
    expect(instance).toMatchObject({ ami: "ami-0debian12", availabilityZone: "eu-central-1a", metadataOptions: { httpTokens: "required" } });
    expect(instance.userData).toContain("readonly DATA_DEVICE='/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_");
    expect(instance.userData).toContain("apt_install docker.io");
    expect(named(resources, "ec2-host-data-attachment").inputs.deviceName).toBe("/dev/sdf");
    // Debian AMIs log in as admin, so host commands run through sudo.
    const bootstrap = named(resources, "ec2-host-bootstrap");
    expect(bootstrap.inputs.connection).toMatchObject({ host: "198.51.100.7", user: "admin" });
    expect(bootstrap.inputs.create).toMatch(/^sudo -n bash -c /);
    expect(bootstrap.dependsOn).toEqual(expect.arrayContaining(["ec2-host-instance", "ec2-host-data-attachment"]));
    expect(named(resources, "ec2-host-docker").inputs.host).toBe("ssh://admin@198.51.100.7:22");
  });

  test("hcloud: SSH key, firewall with only p2p and SSH, volume, server with cloud-init", async () => {
    const { resources } = await runProgram(
      withKey([{ name: "hz", kind: "hcloud", hcloud: { location: "hel1", volumeGiB: 200 }, consensus: { client: "lodestar" } }], { "hcloud:token": "t" }),
      { secretKeys: [...SECRET, "hcloud:token"] },
    );
    expect(named(resources, "hz-host-key").inputs.publicKey).toMatch(/^ssh-ed25519 /);
    const rules = named(resources, "hz-host-firewall").inputs.rules.map((r: any) => `${r.protocol}/${r.port}:${r.sourceIps.join(",")}`).sort();
    expect(rules).toEqual(["tcp/22:0.0.0.0/0,::/0", "tcp/30303:0.0.0.0/0,::/0", "tcp/9000:0.0.0.0/0,::/0", "udp/30303:0.0.0.0/0,::/0", "udp/9000:0.0.0.0/0,::/0"]);
    expect(named(resources, "hz-host-data").inputs).toMatchObject({ size: 200, location: "hel1", format: "ext4" });
    const server = named(resources, "hz-host-server").inputs;
    expect(server).toMatchObject({ serverType: "cpx41", image: "debian-12", location: "hel1" });
    expect(server.userData).toContain("readonly DATA_DEVICE='/dev/disk/by-id/scsi-0HC_Volume_");
    expect(named(resources, "hz-host-bootstrap").inputs.connection).toMatchObject({ host: "198.51.100.8", user: "root" });
  });

  test("a bad config stops the program before any resource exists", async () => {
    await expect(runProgram({ "ephemery:hosts": [{ name: "x", kind: "local", consensus: { client: "lighthous" } }] })).rejects.toThrow(
      /hosts\[0\]\.consensus\.client: "lighthous" is not one of lighthouse/,
    );
  });
});

describe("compose runtime", () => {
  test("one compose project per node, no Docker provider, same names and bindings", async () => {
    const { resources } = await runProgram(
      withKey([{ name: "cmp", address: "192.0.2.50", runtime: "compose", validator: { feeRecipient: FEE } }]),
      { secretKeys: SECRET },
    );
    expect(byType(resources, "pulumi:providers:docker")).toEqual([]);
    expect(byType(resources, "docker:index/container:Container")).toEqual([]);
    const project = named(resources, "cmp-compose");
    expect(project.type).toBe("ephemery:containers:ComposeProject");
    const file = named(resources, "cmp-compose-file");
    expect(file.inputs.create).toContain("/var/lib/ephemery/cmp/compose/docker-compose.yml");
    const doc = yaml.load(file.inputs.stdin) as any;
    // Client services first; the monitoring stack joins the same project.
    expect(Object.keys(doc.services).slice(0, 3)).toEqual(["execution", "consensus", "validator"]);
    expect(Object.keys(doc.services)).toEqual(expect.arrayContaining(["prometheus", "grafana"]));
    expect(doc.services.consensus.container_name).toBe("cmp-consensus");
    expect(doc.services.consensus.ports).toContain("127.0.0.1:5052:5052/tcp");
    const up = named(resources, "cmp-compose-up");
    expect(up.inputs.create).toContain(`-p '\\''cmp'\\'' -f '\\''/var/lib/ephemery/cmp/compose/docker-compose.yml'\\'' up -d --remove-orphans`);
    expect(up.inputs.delete).toContain("down --remove-orphans");
    expect(up.inputs.delete).not.toContain("-v");
    expect(up.dependsOn).toEqual(expect.arrayContaining(["cmp-compose-file", "cmp-jwt-file", "cmp-reset-release"]));
    // The client components still exist, as plain facts for policies.
    expect(named(resources, "cmp-execution").inputs.ports).toContainEqual(expect.objectContaining({ purpose: "rpc", bindAddress: "127.0.0.1" }));
  });
});
