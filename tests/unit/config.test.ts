import { ConfigEntry, formatPath, loadStackConfig, Problem } from "../../lib/config/load";
import { parseStackFile } from "../../lib/config/stackFile";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

function entries(config: Record<string, unknown>, secret: string[] = []): Map<string, ConfigEntry> {
  return new Map(Object.entries(config).map(([k, v]) => [k, { value: v, secret: secret.includes(k) }]));
}

function problemsOf(config: Record<string, unknown>, secret: string[] = []): Problem[] {
  const r = loadStackConfig(entries(config, secret));
  return r.ok ? [] : r.problems;
}

describe("stack config", () => {
  test("one host and its address is a valid stack, with safe defaults", () => {
    const r = loadStackConfig(entries({ "ephemery:hosts": [{ name: "node1", address: "203.0.113.10" }], "ephemery:sshPrivateKey": KEY }, ["ephemery:sshPrivateKey"]));
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const h = r.config.hosts[0];
    expect(h).toMatchObject({
      name: "node1",
      runtime: "docker",
      dataDir: "/var/lib/ephemery",
      ssh: { user: "root", port: 22, useAgent: false },
      execution: { client: "geth", exposeRpc: false },
      consensus: { client: "lighthouse", exposeBeaconApi: false },
      monitoring: { enabled: true, exposePublicly: false },
      reset: { enabled: true, schedule: "* * * * *" },
    });
    expect(h.validator).toBeUndefined();
    expect(r.config.network.checkpointSyncUrls.length).toBeGreaterThan(0);
    expect(r.config.network.release.archiveUrl).toContain("{tag}");
  });

  test("a local host needs no address and no key", () => {
    expect(problemsOf({ "ephemery:hosts": [{ name: "local", kind: "local" }] })).toEqual([]);
    expect(problemsOf({ "ephemery:hosts": [{ name: "local" }] })).toEqual([]);
  });

  const bad: { name: string; config: Record<string, unknown>; secret?: string[]; expected: Problem[] }[] = [
    {
      name: "misspelt client names the choices",
      config: { "ephemery:hosts": [{ name: "a", kind: "local" }, { name: "b", kind: "local", consensus: { client: "lighthous" } }] },
      expected: [
        { path: "hosts[1].consensus.client", message: '"lighthous" is not one of lighthouse, teku, prysm, nimbus, lodestar' },
        { path: "hosts", message: "only one host can be kind local: the workstation runs one node" },
      ],
    },
    {
      name: "a plain-text secret names the --secret command",
      config: { "ephemery:hosts": [{ name: "n1", address: "10.0.0.1" }], "ephemery:sshPrivateKey": KEY },
      expected: [{ path: "ephemery:sshPrivateKey", message: "is a secret but is stored in plain text; run: pulumi config set --secret ephemery:sshPrivateKey < ~/.ssh/id_ed25519" }],
    },
    {
      name: "a plain cloud token is caught too",
      config: { "ephemery:hosts": [{ name: "n1", kind: "local" }], "hcloud:token": "abc" },
      expected: [{ path: "hcloud:token", message: "is stored in plain text; run: pulumi config set --secret hcloud:token <value>" }],
    },
    {
      name: "an ssh host without address or key",
      config: { "ephemery:hosts": [{ name: "n1", kind: "ssh" }] },
      expected: [{ path: "hosts[0].address", message: "an ssh host needs an address: set address to the machine's IP or DNS name" }],
    },
    {
      name: "an ssh host without a key",
      config: { "ephemery:hosts": [{ name: "n1", address: "10.0.0.1" }] },
      expected: [{ path: "hosts[0].ssh", message: 'host "n1" is reached over SSH but no key is set; run: pulumi config set --secret ephemery:sshPrivateKey < ~/.ssh/id_ed25519 (or set ssh.useAgent: true)' }],
    },
    {
      name: "unknown settings at every level",
      config: { "ephemery:hostz": [], "ephemery:hosts": [{ name: "n1", kind: "local", executon: {} }] },
      expected: [
        { path: "ephemery:hostz", message: expect.stringContaining("is not a setting; known settings: ephemery:network, ephemery:hosts") as unknown as string },
        { path: "hosts[0].executon", message: "is not a setting here; check the spelling (see the config reference in README.md)" },
      ],
    },
    {
      name: "duplicate host names and bad values, all at once",
      config: {
        "ephemery:hosts": [
          { name: "n1", kind: "local", execution: { rpcPort: 99999 } },
          { name: "n1", kind: "hcloud" },
          { name: "Bad_Name", kind: "aws", aws: { region: "eu-west-1" }, dataDir: "relative/path" },
        ],
        "ephemery:sshPrivateKey": KEY,
      },
      secret: ["ephemery:sshPrivateKey"],
      expected: [
        { path: "hosts[0].execution.rpcPort", message: "99999 is too large: at most 65535" },
        { path: "hosts[1].hcloud", message: "kind hcloud needs an hcloud block (location and serverType have defaults: hcloud: {})" },
        { path: "hosts[2].name", message: '"Bad_Name" must start with a letter and use only a-z, 0-9 and -, at most 30 characters' },
        { path: "hosts[2].dataDir", message: '"relative/path" must be an absolute path (or ~/... on a local host)' },
        { path: "hosts[1].name", message: '"n1" is also the name of hosts[0]; host names must be unique' },
      ],
    },
    {
      name: "validator settings are checked",
      config: { "ephemery:hosts": [{ name: "n1", kind: "local", validator: { feeRecipient: "0x12", graffiti: "it's" } }] },
      expected: [
        { path: "hosts[0].validator.feeRecipient", message: '"0x12" must be a 0x-prefixed 20-byte hex address' },
        { path: "hosts[0].validator.graffiti", message: `"it's" must not contain ' or control characters` },
      ],
    },
    {
      name: "images and URLs have a form",
      config: {
        "ephemery:hosts": [{ name: "n1", kind: "local", execution: { image: "Not An Image" } }],
        "ephemery:network": { release: { archiveUrl: "https://mirror.example/testnet-all.tar.gz" }, checkpointSyncUrls: ["ftp://x"] },
      },
      expected: [
        { path: "network.release.archiveUrl", message: '"https://mirror.example/testnet-all.tar.gz" must be an http(s) URL containing {tag}' },
        { path: "network.checkpointSyncUrls[0]", message: '"ftp://x" must be an http(s) URL' },
        { path: "hosts[0].execution.image", message: "must be an image reference such as repository:tag or repository:tag@sha256:<digest>" },
      ],
    },
    {
      name: "colliding p2p ports and ~ on a remote host",
      config: { "ephemery:hosts": [{ name: "n1", address: "10.0.0.1", ssh: { useAgent: true }, dataDir: "~/eph", consensus: { p2pPort: 30303 } }] },
      expected: [
        { path: "hosts[0].dataDir", message: '"~/eph" uses ~, which only a local host can resolve; give an absolute path' },
        { path: "hosts[0].consensus.p2pPort", message: "p2p ports collide (execution 30303, consensus 30303, quic 9001); give each its own" },
      ],
    },
    {
      name: "no hosts",
      config: {},
      expected: [{ path: "ephemery:hosts", message: "is missing: list at least one host, e.g. hosts: [{ name: node1, address: 203.0.113.10 }]" }],
    },
  ];

  test.each(bad)("$name", ({ config, secret, expected }) => {
    const problems = problemsOf(config, secret);
    expect(problems).toEqual(expect.arrayContaining(expected));
    expect(problems).toHaveLength(expected.length);
  });

  test("a secret's value never appears in a problem message", () => {
    const problems = problemsOf({ "ephemery:hosts": [{ name: "n1", kind: "local" }], "ephemery:grafanaAdminPassword": "hunter2" }, ["ephemery:grafanaAdminPassword"]);
    expect(problems).toEqual([{ path: "ephemery:grafanaAdminPassword", message: "the value is too small: at least 12 characters" }]);
    expect(JSON.stringify(problems)).not.toContain("hunter2");
  });

  test("formatPath renders list indexes and fields", () => {
    expect(formatPath(["hosts", 1, "consensus", "client"])).toBe("hosts[1].consensus.client");
  });
});

describe("stack files", () => {
  test("secure leaves make a key secret; values stay hidden", () => {
    const e = parseStackFile(`config:
  ephemery:sshPrivateKey:
    secure: v1:abc
  ephemery:sshPrivateKeys:
    node1:
      secure: v1:def
  ephemery:hosts:
    - name: node1
      address: 1.2.3.4
`);
    expect(e.get("ephemery:sshPrivateKey")).toEqual({ value: "[secret]", secret: true });
    expect(e.get("ephemery:sshPrivateKeys")).toEqual({ value: { node1: "[secret]" }, secret: true });
    expect(e.get("ephemery:hosts")?.secret).toBe(false);
  });

  test("invalid YAML is named", () => {
    expect(() => parseStackFile("config: [", "Pulumi.x.yaml")).toThrow(/Pulumi.x.yaml is not valid YAML/);
  });
});
