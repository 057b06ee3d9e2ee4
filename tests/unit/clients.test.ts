import { spawnSync } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { allSpecs, buildNodeSpecs, consensusClients, executionClients, p2pPortsOf, validatorClients } from "../../lib/clients";
import { ContainerSpec, PATHS, PRIVATE_PORT_PURPOSES } from "../../lib/clients/types";
import { CONSENSUS_CLIENTS, EXECUTION_CLIENTS, VALIDATOR_CLIENTS } from "../../lib/config/clients";
import { DEFAULT_IMAGES, isPinned, parseImage } from "../../lib/config/images";
import { hostSchema, HostConfig } from "../../lib/config/schema";
import { renderCompose } from "../../lib/compose";
import { keysScriptValues } from "../../lib/keys/hostValues";
import { KEY_TOOLS } from "../../lib/keys/layout";
import { freePort } from "../support/sshd";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";

function host(overrides: Record<string, unknown> = {}): HostConfig {
  return hostSchema.parse({ name: "n1", kind: "local", dataDir: "/srv/eph", ...overrides });
}

function specsFor(h: HostConfig, urls = ["https://cp.example"]) {
  return buildNodeSpecs({ node: h.name, host: h, checkpointSyncUrls: urls });
}

/** The whole command line as the container would see it (entry script included). */
function commandText(s: ContainerSpec): string {
  return [...(s.entrypoint ?? []), ...s.command].join(" ");
}

function published(s: ContainerSpec) {
  return s.ports.filter((p) => p.hostPort !== undefined);
}

describe("every client module", () => {
  test("the registries cover every client the schema accepts", () => {
    expect(Object.keys(executionClients).sort()).toEqual([...EXECUTION_CLIENTS].sort());
    expect(Object.keys(consensusClients).sort()).toEqual([...CONSENSUS_CLIENTS].sort());
    expect(Object.keys(validatorClients).sort()).toEqual([...VALIDATOR_CLIENTS].sort());
  });

  test("default images are all pinned", () => {
    for (const ref of Object.values(DEFAULT_IMAGES)) expect(isPinned(parseImage(ref))).toBe(true);
  });

  const pairs = EXECUTION_CLIENTS.flatMap((el, i) => [{ el, cl: CONSENSUS_CLIENTS[i], vc: VALIDATOR_CLIENTS[(i + 2) % 5] }]);

  test.each(pairs)("$el + $cl + $vc validator: safe ports, shared files, metrics on", ({ el, cl, vc }) => {
    const h = host({ execution: { client: el }, consensus: { client: cl }, validator: { client: vc, feeRecipient: FEE } });
    const specs = specsFor(h);
    for (const s of allSpecs(specs)) {
      expect(s.name).toBe(`n1-${s.role}`);
      // Only p2p is public; every API and metrics port stays on loopback or the private network.
      for (const p of published(s)) {
        if (p.purpose === "p2p") expect(p.bindAddress).toBe("0.0.0.0");
        else {
          expect(PRIVATE_PORT_PURPOSES).toContain(p.purpose);
          expect(p.bindAddress).toBe("127.0.0.1");
        }
      }
      expect(s.ports.find((p) => p.purpose === "engine")?.hostPort).toBeUndefined();
      expect(s.metrics?.port).toBeDefined();
      expect(commandText(s)).toContain(String(s.metrics!.port));
      expect(s.mounts).toContainEqual({ kind: "bind", source: "/srv/eph/n1/testnet", target: PATHS.testnetRoot, readOnly: true });
      expect(s.mounts).toContainEqual({ kind: "volume", source: `n1-${s.role}-data`, target: PATHS.data, readOnly: false });
      expect(s.restart).toBe("unless-stopped");
      expect(s.memoryMiB).toBeGreaterThan(0);
    }
    // EL and CL share one JWT file; the validator never sees it.
    for (const s of [specs.execution, specs.consensus]) {
      expect(s.mounts).toContainEqual({ kind: "bind", source: "/srv/eph/n1/jwt", target: PATHS.jwtDir, readOnly: true });
      expect(commandText(s)).toContain(PATHS.jwt);
    }
    expect(specs.validator!.mounts.some((m) => m.target === PATHS.jwtDir)).toBe(false);
    expect(specs.validator!.mounts).toContainEqual({ kind: "bind", source: "/srv/eph/n1/validator-keys", target: PATHS.keysRoot, readOnly: true });
    // Wiring: CL -> EL engine API, VC -> CL beacon API, by container name on the node network.
    expect(commandText(specs.consensus)).toContain("http://n1-execution:8551");
    expect(commandText(specs.validator!)).toContain("http://n1-consensus:5052");
    expect(specs.consensus.dependsOn).toEqual(["n1-execution"]);
    expect(specs.validator!.dependsOn).toEqual(["n1-consensus"]);
    expect(specs.validator!.slashingProtection?.length).toBeGreaterThan(0);
  });
});

describe("execution clients read per-iteration values from the testnet dir at start", () => {
  const cases: { client: string; flags: string[]; keep: string[]; wipe: string[] }[] = [
    { client: "geth", flags: ['--bootnodes="$BOOTNODE_ENODE_LIST"', "geth init"], keep: ["geth/nodekey"], wipe: ["geth"] },
    { client: "nethermind", flags: ["--config=none", '--Init.ChainSpecPath="$SPEC"', '--Init.GenesisHash="$GENESIS_BLOCK"', '--Network.Bootnodes="$BOOTNODE_ENODE_LIST"', "--data-dir=/data"], keep: ["keystore/node.key.plain"], wipe: ["."] },
    { client: "besu", flags: ['--genesis-file="$GENESIS"', '--bootnodes="$BOOTNODE_ENODE_LIST"'], keep: ["key"], wipe: ["."] },
    { client: "reth", flags: ['--chain="$T/genesis.json"', '--bootnodes="$BOOTNODE_ENODE_LIST"'], keep: ["discovery-secret"], wipe: ["."] },
    { client: "erigon", flags: ['--networkid="$CHAIN_ID"', '--bootnodes="$BOOTNODE_ENODE_LIST"', "erigon init", "--externalcl"], keep: ["nodekey"], wipe: ["."] },
  ];
  test.each(cases)("$client", ({ client, flags, keep, wipe }) => {
    const s = specsFor(host({ execution: { client } })).execution;
    expect(s.entrypoint).toEqual(["/bin/sh", "-c"]);
    expect(s.command[0]).toContain(`. "$T/nodevars_env.txt"`);
    expect(s.command[0]).toContain(`T=${PATHS.testnet}`);
    for (const f of flags) expect(s.command[0]).toContain(f);
    expect(s.data.reset).toEqual({ wipe, keep });
    expect(s.image).toBe(executionClients[client as keyof typeof executionClients].defaultImage);
    // No chain id or bootnode is baked into the spec: a reset needs no new `pulumi up`.
    expect(commandText(s)).not.toMatch(/39438\d{3}|enode:\/\//);
  });

  test("JSON-RPC is published publicly only when the operator opts in", () => {
    const safe = specsFor(host()).execution;
    const open = specsFor(host({ execution: { exposeRpc: true } })).execution;
    expect(safe.ports.find((p) => p.purpose === "rpc")?.bindAddress).toBe("127.0.0.1");
    expect(open.ports.find((p) => p.purpose === "rpc")?.bindAddress).toBe("0.0.0.0");
  });

  test("extra flags arrive after the client's own, unquoted by the shell", () => {
    const s = specsFor(host({ execution: { extraArgs: ["--cache=4096", "--log.format=json"] } })).execution;
    expect(s.command.slice(1)).toEqual(["ephemery-entry", "--cache=4096", "--log.format=json"]);
    expect(s.command[0].trimEnd().endsWith('"$@"')).toBe(true);
  });
});

describe("consensus clients", () => {
  const cases: { client: string; must: string[]; keep: string[] }[] = [
    { client: "lighthouse", must: [`--testnet-dir=${PATHS.testnet}`], keep: ["beacon/network"] },
    { client: "teku", must: ['--network="$T/config.yaml"', '--genesis-state="$T/genesis.ssz"', '--p2p-discovery-bootnodes="$BOOTNODE_ENR_LIST"'], keep: ["beacon/kvstore"] },
    { client: "prysm", must: ['--chain-config-file="$T/config.yaml"', '--genesis-state="$T/genesis.ssz"', "--contract-deployment-block=0", "--accept-terms-of-use", "--p2p-static-id"], keep: ["network-keys"] },
    { client: "nimbus", must: ['--network="$T"', '--bootstrap-node="$enr"'], keep: [] },
    { client: "lodestar", must: ['--paramsFile="$T/config.yaml"', '--genesisStateFile="$T/genesis.ssz"', '--bootnodes="$BOOTNODE_ENR_LIST"', "export SKIP_FETCH_NETWORK_BOOTNODES=true"], keep: [] },
  ];
  test.each(cases)("$client", ({ client, must, keep }) => {
    const s = specsFor(host({ consensus: { client } })).consensus;
    for (const f of must) expect(commandText(s)).toContain(f);
    expect(s.data.reset.keep).toEqual(keep);
    expect(published(s).filter((p) => p.purpose === "p2p").every((p) => p.bindAddress === "0.0.0.0")).toBe(true);
    expect(s.ports.find((p) => p.purpose === "beacon")).toMatchObject({ hostPort: 5052, bindAddress: "127.0.0.1" });
  });

  test.each(CONSENSUS_CLIENTS.map((c) => ({ c })))("$c: the checkpoint URL comes from the testnet dir at start, never from the spec", ({ c }) => {
    const s = specsFor(host({ consensus: { client: c } }), ["https://cp.example"]).consensus;
    expect(commandText(s)).not.toContain("cp.example");
    expect(s.command[0]).toContain(`${PATHS.testnetRoot}/checkpoint-sync-url`);
    expect(lodestarDeprecated(commandText(s))).toBe(false);
    // Lighthouse and prysm read everything from the release's files; they never source its shell vars.
    expect(s.command[0].includes("nodevars_env.txt")).toBe(!["lighthouse", "prysm"].includes(c));
  });
});

/** Lodestar's deposit-contract block is a no-op since deposit tracking left it. */
function lodestarDeprecated(text: string) {
  return text.includes("--eth1.depositContractDeployBlock");
}

describe("hosts[].publicIp: the address peers are told", () => {
  // Each client's own flag for it, as its pinned version defines it (the option guard checks the names).
  const advertised: [string, "execution" | "consensus", string][] = [
    ["geth", "execution", "--nat=extip:203.0.113.10"],
    ["nethermind", "execution", "--Network.ExternalIp=203.0.113.10"],
    ["besu", "execution", "--p2p-host=203.0.113.10"],
    ["reth", "execution", "--nat=extip:203.0.113.10"],
    ["erigon", "execution", "--nat=extip:203.0.113.10"],
    ["lighthouse", "consensus", "--enr-address=203.0.113.10"],
    ["teku", "consensus", "--p2p-advertised-ip=203.0.113.10"],
    ["prysm", "consensus", "--p2p-host-ip=203.0.113.10"],
    ["nimbus", "consensus", "--nat=extip:203.0.113.10"],
    ["lodestar", "consensus", "--enr.ip=203.0.113.10"],
  ];
  test("all ten p2p clients are covered", () => {
    expect(advertised.map(([c]) => c).sort()).toEqual([...EXECUTION_CLIENTS, ...CONSENSUS_CLIENTS].sort());
  });
  test.each(advertised.map(([client, role, flag]) => ({ client, role, flag })))("$client advertises it with $flag, and nothing when unset", ({ client, role, flag }) => {
    const withIp = specsFor(host({ publicIp: "203.0.113.10", [role]: { client } }))[role];
    const without = specsFor(host({ [role]: { client } }))[role];
    expect(commandText(withIp)).toContain(` ${flag} `);
    expect(commandText(without)).not.toContain("203.0.113.10");
    expect(commandText(without)).not.toContain(flag.split("=")[0] + "=");
  });
  test.each(["10.0.0.300", "203.0.113", "0.0.0.0", "224.0.0.1", "255.255.255.255", "203.0.113.10;id", "::1", "host.example"])("%s is refused with the setting named", (ip) => {
    const r = hostSchema.safeParse({ name: "n1", kind: "local", publicIp: ip });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0].path).toEqual(["publicIp"]);
    expect(r.error!.issues[0].message).toMatch(/IPv4/);
  });
});

describe("validator clients", () => {
  test.each(VALIDATOR_CLIENTS.map((vc) => ({ vc })))("$vc: fee recipient, graffiti, doppelganger on by default", ({ vc }) => {
    const on = specsFor(host({ validator: { client: vc, feeRecipient: FEE, graffiti: "my node" } })).validator!;
    const off = specsFor(host({ validator: { client: vc, feeRecipient: FEE, doppelganger: false } })).validator!;
    expect(commandText(on)).toContain(FEE);
    expect(commandText(on)).toContain("my node");
    expect(commandText(on)).toMatch(/doppelganger/i);
    expect(commandText(on)).not.toMatch(/doppelganger[-a-z]*=false/i);
    expect(commandText(off)).not.toMatch(/--enable-doppelganger|--doppelgangerProtection|doppelganger[-a-z]*=true/i);
    expect(on.ports).toEqual([{ containerPort: 5062, hostPort: 5062, protocol: "tcp", purpose: "keymanager", bindAddress: "127.0.0.1" }, expect.objectContaining({ purpose: "metrics" })]);
  });

  test("a prysm validator next to a prysm beacon node talks gRPC to it over the node network; next to another, REST", () => {
    const own = specsFor(host({ consensus: { client: "prysm" }, validator: { feeRecipient: FEE } }));
    expect(own.validator!.command).toContain("--beacon-rpc-provider=n1-consensus:4000");
    expect(own.validator!.command).not.toContain("--enable-beacon-rest-api");
    // The beacon listens for gRPC on all container addresses, yet publishes nothing on the host for it.
    expect(own.consensus.command[0]).toMatch(/ --rpc-host=0\.0\.0\.0 --rpc-port=4000 /);
    expect(own.consensus.ports.filter((p) => p.containerPort === 4000)).toEqual([{ containerPort: 4000, protocol: "tcp", purpose: "beacon", bindAddress: "127.0.0.1" }]);
    const mixed = specsFor(host({ consensus: { client: "lighthouse" }, validator: { client: "prysm", feeRecipient: FEE } })).validator!;
    expect(mixed.command).toEqual(expect.arrayContaining(["--enable-beacon-rest-api", "--beacon-rest-api-provider=http://n1-consensus:5052"]));
    expect(mixed.command.join(" ")).not.toContain("--beacon-rpc-provider");
  });

  test("the validator client defaults to the consensus client", () => {
    expect(specsFor(host({ consensus: { client: "teku" }, validator: { feeRecipient: FEE } })).validator!.client).toBe("teku");
  });
});

describe("compose rendering", () => {
  test("the compose file carries the same names, ports, volumes and limits as the specs", () => {
    const h = host({ runtime: "compose", validator: { feeRecipient: FEE } });
    const specs = specsFor(h);
    const doc = yaml.load(renderCompose("n1", allSpecs(specs))) as any;
    expect(doc.version).toBe("2.4");
    expect(Object.keys(doc.services)).toEqual(["execution", "consensus", "validator"]);
    const el = doc.services.execution;
    expect(el.container_name).toBe("n1-execution");
    expect(el.image).toBe(specs.execution.image);
    expect(el.mem_limit).toBe(`${specs.execution.memoryMiB}m`);
    expect(el.restart).toBe("unless-stopped");
    expect(el.ports).toEqual(expect.arrayContaining(["0.0.0.0:30303:30303/tcp", "0.0.0.0:30303:30303/udp", "127.0.0.1:8545:8545/tcp"]));
    expect(el.ports.some((p: string) => p.includes("8551"))).toBe(false);
    expect(el.volumes).toContain("n1-execution-data:/data");
    expect(el.volumes).toContain("/srv/eph/n1/testnet:/ephemery/testnet:ro");
    // `$` reaches the container unexpanded by compose.
    expect(el.command[0]).toContain('--bootnodes="$$BOOTNODE_ENODE_LIST"');
    expect(doc.services.consensus.depends_on).toEqual(["execution"]);
    expect(doc.networks).toEqual({ "n1-net": { name: "n1-net" } });
    expect(doc.volumes["n1-execution-data"]).toEqual({ name: "n1-execution-data" });
  });

  test("p2p ports for firewalls", () => {
    expect(p2pPortsOf(specsFor(host({ consensus: { client: "lighthouse" } })))).toEqual([
      { port: 30303, protocol: "tcp" }, { port: 30303, protocol: "udp" }, { port: 9000, protocol: "tcp" }, { port: 9000, protocol: "udp" }, { port: 9001, protocol: "udp" },
    ]);
  });
});

describe("images", () => {
  test.each([
    ["ethereum/client-go:v1.16.7", true],
    ["ethereum/client-go", false],
    ["ethereum/client-go:latest", false],
    [`ethereum/client-go@sha256:${"a".repeat(64)}`, true],
    ["localhost:5000/geth:stable", false],
  ])("%s pinned: %s", (ref, pinned) => {
    expect(isPinned(parseImage(ref as string))).toBe(pinned);
  });
  test("a bad reference is named", () => {
    expect(() => parseImage("Geth Latest")).toThrow(/"Geth Latest" is not a valid image reference/);
  });
});

/**
 * The start scripts run for real in /bin/sh, with the container paths moved into a temp dir and each client
 * binary replaced by a stub that prints its arguments one per line.
 */
describe("start scripts at container start", () => {
  let dir: string;
  let printArgs: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "clients-"));
    fs.mkdirSync(path.join(dir, "testnet", "current"), { recursive: true });
    fs.mkdirSync(path.join(dir, "data"));
    fs.writeFileSync(path.join(dir, "testnet", "current", "nodevars_env.txt"), 'BOOTNODE_ENR_LIST="enr:-a,enr:-b"\nBOOTNODE_ENODE_LIST="enode://x@1.2.3.4:30303"\nGENESIS_BLOCK="0xabc"\n');
    printArgs = path.join(dir, "print-args");
    fs.writeFileSync(printArgs, '#!/bin/sh\nfor a; do printf "%s\\n" "$a"; done\n', { mode: 0o755 });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const urlFile = () => path.join(dir, "testnet", "checkpoint-sync-url");
  const local = (script: string) => script
    .split(PATHS.testnetRoot).join(path.join(dir, "testnet"))
    .split(`${PATHS.data}/`).join(`${path.join(dir, "data")}/`)
    .split(`=${PATHS.data} `).join(`=${path.join(dir, "data")} `)
    .replace(/^exec /m, `exec ${printArgs} `);
  function start(s: ContainerSpec, replace: [string, string][] = []): { argv: string[]; stderr: string } {
    let script = local(s.command[0]);
    for (const [from, to] of replace) script = script.split(from).join(to);
    const r = spawnSync("/bin/sh", ["-c", script, ...s.command.slice(1)], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`start script failed (${r.status}): ${r.stderr}`);
    return { argv: r.stdout.split("\n").filter(Boolean), stderr: r.stderr };
  }
  const consensus = (client: string, extraArgs: string[] = []) => specsFor(host({ consensus: { client, extraArgs } })).consensus;

  const flagsOf: Record<string, string[]> = {
    lighthouse: ["--checkpoint-sync-url"],
    teku: ["--checkpoint-sync-url"],
    prysm: ["--checkpoint-sync-url", "--genesis-beacon-api-url"],
    lodestar: ["--checkpointSyncUrl"],
  };
  test.each(Object.keys(flagsOf).map((c) => ({ c })))("$c passes the provider file's URL as one argument, before the extra flags", ({ c }) => {
    fs.writeFileSync(urlFile(), "https://cp.example:443/a_b-c\n");
    const { argv } = start(consensus(c, ["--extra=1"]));
    for (const f of flagsOf[c]) expect(argv).toContain(`${f}=https://cp.example:443/a_b-c`);
    expect(argv[argv.length - 1]).toBe("--extra=1");
    expect(argv.join(" ")).not.toMatch(/allow-insecure-genesis-sync|ignore-weak-subjectivity/);
  });

  test.each([
    ["missing", undefined],
    ["empty", ""],
    ["command substitution", "https://cp.example/$(touch PWNED)\n"],
    ["a space and a second word", "https://cp.example --graffiti=x\n"],
    ["another scheme", "file:///etc/passwd\n"],
    ["a CR line ending", "https://cp.example\r\n"],
    ["too long", `https://cp.example/${"a".repeat(3000)}\n`],
  ])("a provider file that is %s means genesis sync", (why, content) => {
    if (content !== undefined) fs.writeFileSync(urlFile(), content);
    for (const c of ["lighthouse", "teku", "prysm", "lodestar"]) {
      const { argv, stderr } = start(consensus(c));
      expect(argv.join(" ")).not.toMatch(/checkpoint-?sync-?url|genesis-beacon-api-url/i);
      if (c === "lighthouse") expect(argv).toContain("--allow-insecure-genesis-sync");
      if (c === "teku") expect(argv).toContain("--ignore-weak-subjectivity-period-enabled");
      if (content) expect(stderr).toContain("ignoring");
      else expect(stderr).toBe("");
    }
    expect(fs.existsSync(path.join(dir, "PWNED"))).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f === "PWNED")).toEqual([]);
  });

  test("nimbus runs trustedNodeSync once, only with a URL and an empty db, and falls back when it fails", () => {
    const sync = path.join(dir, "sync");
    fs.writeFileSync(sync, `#!/bin/sh\necho "$@" >> ${dir}/sync.log\n[ -z "\${FAIL:-}" ] || exit 1\nmkdir -p ${dir}/data/db\n`, { mode: 0o755 });
    const s = consensus("nimbus");
    const bin = "timeout 900 /home/user/nimbus_beacon_node trustedNodeSync";
    const log = () => (fs.existsSync(`${dir}/sync.log`) ? fs.readFileSync(`${dir}/sync.log`, "utf8") : "");
    start(s, [[bin, `${sync} trustedNodeSync`]]);
    expect(log()).toBe("");
    fs.writeFileSync(urlFile(), "https://cp.example\n");
    const { argv } = start(s, [[bin, `${sync} trustedNodeSync`]]);
    expect(log()).toContain("trustedNodeSync");
    expect(log()).toContain("--trusted-node-url=https://cp.example");
    expect(argv.filter((a) => a.startsWith("--bootstrap-node="))).toEqual(["--bootstrap-node=enr:-a", "--bootstrap-node=enr:-b"]);
    start(s, [[bin, `${sync} trustedNodeSync`]]);
    expect(log().split("\n").filter(Boolean)).toHaveLength(1);
    // A failing provider: the partial db goes, the node starts from genesis instead of crash-looping.
    fs.rmSync(`${dir}/data/db`, { recursive: true });
    fs.mkdirSync(`${dir}/partial`);
    const failing = spawnSync("/bin/sh", ["-c", local(s.command[0]).split(bin).join(`FAIL=1 ${sync} trustedNodeSync`), "ephemery-entry"], { encoding: "utf8" });
    expect(failing.status).toBe(0);
    expect(failing.stderr).toContain("trustedNodeSync from https://cp.example failed; syncing from genesis");
    expect(fs.existsSync(`${dir}/data/db`)).toBe(false);
  });

  test.each([
    ["besu", "besu.json", "--genesis-file="],
    ["nethermind", "chainspec.json", "--Init.ChainSpecPath="],
  ])("%s reads %s when the release has it, else genesis.json", (client, own, flag) => {
    const s = specsFor(host({ execution: { client } })).execution;
    const current = path.join(dir, "testnet", "current");
    const pick = () => start(s).argv.find((a) => a.startsWith(flag));
    expect(pick()).toBe(`${flag}${current}/genesis.json`);
    fs.writeFileSync(path.join(current, own), "{}");
    expect(pick()).toBe(`${flag}${current}/${own}`);
  });

  test("the nimbus validator makes its keymanager token once: random, 0600, never in the spec", () => {
    const s = specsFor(host({ validator: { client: "nimbus", feeRecipient: FEE } })).validator!;
    const keys = path.join(dir, "keys");
    fs.mkdirSync(path.join(keys, "nimbus", "validators"), { recursive: true });
    fs.mkdirSync(path.join(keys, "nimbus", "secrets"), { recursive: true });
    const run = () => start(s, [[PATHS.keys, keys]]);
    const { argv } = run();
    const token = path.join(dir, "data", "keymanager-token");
    expect(argv).toContain(`--keymanager-token-file=${token}`);
    const first = fs.readFileSync(token, "utf8");
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.statSync(token).mode & 0o777).toBe(0o600);
    run();
    expect(fs.readFileSync(token, "utf8")).toBe(first);
    expect(JSON.stringify(s)).not.toContain(first);
    expect(KEY_TOOLS.nimbus.apiTokenPath).toBe(`${PATHS.data}/keymanager-token`);
  });
});

describe("key tools", () => {
  test("lodestar's slashing-protection tools get the release's genesis_validators_root from loopback, not a beacon node", async () => {
    // The container has loopback to itself; here the port may be taken, so the test moves it.
    const port = String(await freePort());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lodestar-tools-"));
    try {
      const gvr = `0x${"ab".repeat(32)}`;
      fs.mkdirSync(path.join(dir, "testnet", "current"), { recursive: true });
      fs.writeFileSync(path.join(dir, "testnet", "current", "genesis_validators_root.txt"), `${gvr}\n`);
      // Stands in for lodestar: asks --beaconNodes for the genesis, as lodestar does on a fresh database.
      const stub = path.join(dir, "lodestar.js");
      fs.writeFileSync(stub, [
        "const args = Object.fromEntries(process.argv.slice(2).filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')));",
        "fetch(args.beaconNodes + '/eth/v1/beacon/genesis').then((r) => r.json()).then((j) => {",
        "  const root = j.data.genesis_validators_root;",
        "  if (process.argv.includes('export')) require('fs').writeFileSync(args.file, JSON.stringify({ metadata: { genesis_validators_root: root } }));",
        "  else if (JSON.parse(require('fs').readFileSync(args.file, 'utf8')).metadata.genesis_validators_root !== root) process.exit(3);",
        "}).catch((e) => { console.error(e); process.exit(4); });",
      ].join("\n"));
      const local = (cmd: string) => cmd
        .split("/tmp/").join(`${dir}/`)
        .split("/ephemery/testnet").join(path.join(dir, "testnet"))
        .split("node /usr/app/packages/cli/bin/lodestar").join(`node ${stub}`)
        .split(":9596").join(`:${port}`)
        .split("listen(9596,").join(`listen(${port},`);
      const run = (cmd: string, input = "") => spawnSync("/bin/sh", ["-c", local(cmd)], { encoding: "utf8", input, timeout: 30_000 });

      const exported = run(KEY_TOOLS.lodestar.exportCmd);
      expect(exported.status).toBe(0);
      expect(JSON.parse(exported.stdout).metadata.genesis_validators_root).toBe(gvr);
      expect(run(KEY_TOOLS.lodestar.importCmd, exported.stdout).status).toBe(0);
      // The stub fails the import when the roots differ: the served root is the release's, checked end to end.
      expect(run(KEY_TOOLS.lodestar.importCmd, JSON.stringify({ metadata: { genesis_validators_root: `0x${"cd".repeat(32)}` } })).status).not.toBe(0);

      // A release file that is not a root is refused before lodestar runs.
      fs.writeFileSync(path.join(dir, "testnet", "current", "genesis_validators_root.txt"), "0x12'; touch PWNED; '\n");
      const bad = run(KEY_TOOLS.lodestar.exportCmd);
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toContain("genesis_validators_root.txt of the current release is not 0x and 64 hex digits");
      expect(fs.existsSync(path.join(dir, "PWNED"))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("nimbus key tools run in the beacon image of the validator's release", () => {
    const tools = KEY_TOOLS.nimbus;
    expect(tools.toolImage!(DEFAULT_IMAGES.nimbusValidator)).toBe(DEFAULT_IMAGES.nimbusBeacon);
    expect(tools.toolImage!("statusim/nimbus-validator-client:multiarch-v25.12.0")).toBe("statusim/nimbus-eth2:multiarch-v25.12.0");
    expect(tools.toolImage!("registry.example/my-nimbus-vc:1")).toBe(DEFAULT_IMAGES.nimbusBeacon);
    expect(tools.exportCmd).toContain("/home/user/nimbus_beacon_node slashingdb export");
    const h = host({ validator: { client: "nimbus", feeRecipient: FEE } });
    const spec = specsFor(h).validator!;
    expect(keysScriptValues(h, "nimbus", spec).IMAGE).toBe(DEFAULT_IMAGES.nimbusBeacon);
    expect(keysScriptValues(h, "nimbus", spec).API_TOKEN_PATH).toBe("/data/keymanager-token");
    const lh = host({ validator: { client: "lighthouse", feeRecipient: FEE } });
    expect(keysScriptValues(lh, "lighthouse", specsFor(lh).validator!).IMAGE).toBe(DEFAULT_IMAGES.lighthouse);
  });

  test("teku's keymanager: plain HTTP only with the options 25.11.1 defines, host names limited to loopback", () => {
    const line = commandText(specsFor(host({ validator: { client: "teku", feeRecipient: FEE } })).validator!);
    expect(line).not.toContain("--validator-api-ssl-enabled");
    expect(line).toContain("--Xvalidator-api-ssl-enabled=false --Xvalidator-api-unsafe-hosts-enabled=true");
    expect(line).toContain("--validator-api-host-allowlist=localhost,127.0.0.1");
  });
});
