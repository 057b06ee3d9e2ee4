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
        { path: "hosts[0].validator.graffiti", message: `"it's" must be graffiti text (32 characters at most) using only printable ASCII other than ' " \` $ \\ & ; | < >; "'" at position 3 is not allowed` },
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
        { path: "network.checkpointSyncUrls[0]", message: '"ftp://x" must be http(s)://host[:port][/path] (no query, fragment or credentials)' },
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

describe("settings rendered into shell and cron lines use a safe character set", () => {
  const host = (extra: Record<string, unknown>) => ({ "ephemery:hosts": [{ name: "n1", kind: "local", ...extra }] });
  const validator = (extra: Record<string, unknown>) => host({ validator: { feeRecipient: `0x${"11".repeat(20)}`, ...extra } });
  const refused: { setting: string; config: Record<string, unknown>; message: string }[] = [
    // A checkpoint provider is host, port and path: the reset program and the CLs take nothing else.
    { setting: "hosts[0].consensus.checkpointSyncUrls[0]", config: host({ consensus: { checkpointSyncUrls: ["https://cp.example/?a=1&b=2"] } }), message: '"?" at position 20 is not allowed (a checkpoint provider is a host, a port and a path)' },
    { setting: "network.release.latestUrl", config: { ...host({}), "ephemery:network": { release: { latestUrl: "https://mirror.example/latest?a=1&b=2" } } }, message: '"&" at position 34 is not allowed (shell characters such as & ; $ ( ) ` \' and spaces are refused: percent-encode them (& is %26))' },
    { setting: "hosts[0].consensus.checkpointSyncUrls[0]", config: host({ consensus: { checkpointSyncUrls: ["https://cp.example/$(touch /tmp/x)"] } }), message: '"$" at position 20 is not allowed' },
    { setting: "network.checkpointSyncUrls[0]", config: { ...host({}), "ephemery:network": { checkpointSyncUrls: ["https://cp.example/`id`"] } }, message: '"`" at position 20 is not allowed' },
    { setting: "network.checkpointSyncUrls[0]", config: { ...host({}), "ephemery:network": { checkpointSyncUrls: ["https://cp.example/a;b"] } }, message: '";" at position 21 is not allowed' },
    { setting: "network.release.latestUrl", config: { ...host({}), "ephemery:network": { release: { latestUrl: "https://m.example/latest\nX=1" } } }, message: "U+000A (a newline) at position 25 is not allowed" },
    { setting: "network.release.archiveUrl", config: { ...host({}), "ephemery:network": { release: { archiveUrl: "https://m.example/{tag}/a b.tar.gz" } } }, message: "U+0020 (a space) at position 26 is not allowed" },
    { setting: "network.release.archiveUrl", config: { ...host({}), "ephemery:network": { release: { archiveUrl: "https://m.example/{tag}/{x}.tar.gz" } } }, message: '"https://m.example/{tag}/{x}.tar.gz" must be an http(s) URL containing {tag}' },
    { setting: "hosts[0].dataDir", config: host({ dataDir: "/srv/eph $(reboot)" }), message: "U+0020 (a space) at position 9 is not allowed" },
    { setting: "hosts[0].dataDir", config: host({ dataDir: "/srv/eph;id" }), message: '";" at position 9 is not allowed' },
    { setting: "hosts[0].dataDir", config: host({ dataDir: "/srv/eph%d" }), message: '"%" at position 9 is not allowed' },
    { setting: "hosts[0].dataDir", config: host({ dataDir: "/srv/../etc" }), message: '"/srv/../etc" must be an absolute path (or ~/... on a local host)' },
    { setting: "hosts[0].dataDir", config: host({ dataDir: "/srv/~x" }), message: '"/srv/~x" must be an absolute path (or ~/... on a local host)' },
    { setting: "hosts[0].address", config: { "ephemery:hosts": [{ name: "n1", address: "-oProxyCommand=id", ssh: { useAgent: true } }] }, message: '"=" at position 15 is not allowed' },
    { setting: "hosts[0].address", config: { "ephemery:hosts": [{ name: "n1", address: "-o", ssh: { useAgent: true } }] }, message: '"-o" must be a DNS name or an IP address' },
    { setting: "hosts[0].validator.graffiti", config: validator({ graffiti: "gm $(id)" }), message: '"$" at position 4 is not allowed' },
    { setting: "hosts[0].validator.graffiti", config: validator({ graffiti: "a".repeat(33) }), message: "is too long: must be graffiti text (32 characters at most), at most 32 characters" },
    { setting: "hosts[0].validator.graffiti", config: validator({ graffiti: "caf\u00e9" }), message: '"\u00e9" at position 4 is not allowed' },
    { setting: "hosts[0].execution.extraArgs[1]", config: host({ execution: { extraArgs: ["--a", "--b\nrm -rf /"] } }), message: "U+000A (a newline) at position 4 is not allowed" },
    { setting: "hosts[0].reset.schedule", config: host({ reset: { schedule: "* * * * *\nFOO=bar" } }), message: "U+000A (a newline) at position 10 is not allowed" },
    { setting: "hosts[0].reset.schedule", config: host({ reset: { schedule: "* * * * * /bin/id" } }), message: '"* * * * * /bin/id" must be a cron schedule such as "* * * * *"' },
    { setting: "hosts[0].reset.schedule", config: host({ reset: { schedule: "* * * *" } }), message: '"* * * *" must be a cron schedule such as "* * * * *"' },
    { setting: "hosts[0].reset.schedule", config: host({ reset: { schedule: "@reboot" } }), message: '"@reboot" must be a cron schedule such as "* * * * *"' },
    { setting: "hosts[0].reset.schedule", config: host({ reset: { schedule: "*  * * * *" } }), message: '"*  * * * *" must be a cron schedule such as "* * * * *"' },
    { setting: "hosts[0].aws.region", config: { "ephemery:hosts": [{ name: "n1", kind: "aws", aws: { region: "eu-west-1;id" } }] }, message: '";" at position 10 is not allowed' },
  ];
  test.each(refused)("$setting: $message", ({ setting, config, message }) => {
    const problems = problemsOf(config).filter((p) => !p.path.endsWith(".ssh") && p.path !== "ephemery:sshPrivateKey");
    expect(problems).toEqual([{ path: setting, message: expect.stringContaining(message) }]);
  });

  test("alert receiver URLs (secrets) are checked too, and the message never shows the value", () => {
    const withHook = (url: string) => problemsOf({
      "ephemery:hosts": [{ name: "n1", kind: "local", monitoring: { receivers: [{ name: "ops", type: "webhook", urlSecret: "hook" }, { name: "chat", type: "discord", webhookUrlSecret: "disc" }] } }],
      "ephemery:alertmanagerSecrets": { hook: url, disc: "https://discord.example/api/webhooks/1/tok?wait=true&thread_id=7" },
    }, ["ephemery:alertmanagerSecrets"]);
    const problems = withHook("https://hooks.example/T0KEN-s3cret path'x");
    expect(problems).toEqual([{ path: "hosts[0].monitoring.receivers[0].urlSecret", message: expect.stringContaining("the secret ephemery:alertmanagerSecrets.hook (value not shown) must be an http(s) URL using only") }]);
    expect(problems[0].message).toContain("U+0020 (a space) at position 35 is not allowed");
    expect(JSON.stringify(problems)).not.toContain("T0KEN-s3cret");
    expect(withHook("ftp://hooks.example/x")).toEqual([{ path: "hosts[0].monitoring.receivers[0].urlSecret", message: "the secret ephemery:alertmanagerSecrets.hook (value not shown) must be an http(s) URL" }]);
    // A query string stays expressible: these reach only alertmanager.yml, never a shell line.
    expect(withHook("https://hooks.example/x?a=1&b=2;c")).toEqual([]);
  });

  test("values at the edge of each set are accepted unchanged", () => {
    const edge = {
      "ephemery:network": {
        checkpointSyncUrls: ["https://cp-1.example.org:8443/a_b.c/d-e"],
        release: { latestUrl: "http://127.0.0.1:8080/latest", archiveUrl: "http://m.example/{tag}/testnet-{tag}.tar.gz?v=1" },
      },
      "ephemery:hosts": [{
        name: "n1", kind: "local", dataDir: "~/.eph_data/v-1.2",
        execution: { extraArgs: ["--x=a b 'c' $(d) `e` ; & | >"] },
        validator: { feeRecipient: `0x${"ab".repeat(20)}`, graffiti: "gm! (#1) *?[]{}~^=+,.:/@% 2026" },
        reset: { schedule: "*/5 1-3,7 * * 0" },
      }],
    };
    const r = loadStackConfig(entries(edge));
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.config.network.checkpointSyncUrls).toEqual(edge["ephemery:network"].checkpointSyncUrls);
    expect(r.config.hosts[0]).toMatchObject({ dataDir: "~/.eph_data/v-1.2", execution: { extraArgs: ["--x=a b 'c' $(d) `e` ; & | >"] }, validator: { graffiti: "gm! (#1) *?[]{}~^=+,.:/@% 2026" }, reset: { schedule: "*/5 1-3,7 * * 0" } });
    for (const schedule of ["@hourly", "@daily", "0 0 1 1 *"]) expect(problemsOf(host({ reset: { schedule } }))).toEqual([]);
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
