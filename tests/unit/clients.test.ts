import * as yaml from "js-yaml";
import { allSpecs, buildNodeSpecs, consensusClients, executionClients, p2pPortsOf, validatorClients } from "../../lib/clients";
import { ContainerSpec, PATHS, PRIVATE_PORT_PURPOSES } from "../../lib/clients/types";
import { CONSENSUS_CLIENTS, EXECUTION_CLIENTS, VALIDATOR_CLIENTS } from "../../lib/config/clients";
import { DEFAULT_IMAGES, isPinned, parseImage } from "../../lib/config/images";
import { hostSchema, HostConfig } from "../../lib/config/schema";
import { renderCompose } from "../../lib/compose";

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
    { client: "geth", flags: ['--networkid="$CHAIN_ID"', '--bootnodes="$BOOTNODE_ENODE_LIST"', "geth init"], keep: ["geth/nodekey"], wipe: ["geth"] },
    { client: "nethermind", flags: ["--config=none", '--Init.ChainSpecPath="$T/chainspec.json"', '--Init.GenesisHash="$GENESIS_BLOCK"', '--Discovery.Bootnodes="$BOOTNODE_ENODE_LIST"'], keep: ["keystore/node.key.plain"], wipe: ["."] },
    { client: "besu", flags: ['--genesis-file="$T/besu.json"', '--bootnodes="$BOOTNODE_ENODE_LIST"'], keep: ["key"], wipe: ["."] },
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
    { client: "lighthouse", must: [`--testnet-dir=${PATHS.testnet}`, "--checkpoint-sync-url=https://cp.example"], keep: ["beacon/network"] },
    { client: "teku", must: ['--network="$T/config.yaml"', '--genesis-state="$T/genesis.ssz"', '--p2p-discovery-bootnodes="$BOOTNODE_ENR_LIST"', "--checkpoint-sync-url=https://cp.example"], keep: ["beacon/kvstore"] },
    { client: "prysm", must: [`--chain-config-file=${PATHS.testnet}/config.yaml`, `--genesis-state=${PATHS.testnet}/genesis.ssz`, "--contract-deployment-block=0", "--accept-terms-of-use", "--checkpoint-sync-url=https://cp.example", "--genesis-beacon-api-url=https://cp.example", "--p2p-static-id"], keep: ["network-keys"] },
    { client: "nimbus", must: ['--network="$T"', '--bootstrap-node="$enr"', "trustedNodeSync", "--trusted-node-url=https://cp.example"], keep: [] },
    { client: "lodestar", must: ['--paramsFile="$T/config.yaml"', '--genesisStateFile="$T/genesis.ssz"', '--bootnodes="$BOOTNODE_ENR_LIST"', "--eth1.depositContractDeployBlock=0", "--checkpointSyncUrl=https://cp.example"], keep: [] },
  ];
  test.each(cases)("$client", ({ client, must, keep }) => {
    const s = specsFor(host({ consensus: { client } })).consensus;
    for (const f of must) expect(commandText(s)).toContain(f);
    expect(s.data.reset.keep).toEqual(keep);
    expect(published(s).filter((p) => p.purpose === "p2p").every((p) => p.bindAddress === "0.0.0.0")).toBe(true);
    expect(s.ports.find((p) => p.purpose === "beacon")).toMatchObject({ hostPort: 5052, bindAddress: "127.0.0.1" });
  });

  test.each(CONSENSUS_CLIENTS.map((c) => ({ c })))("$c falls back to genesis sync with no provider", ({ c }) => {
    const s = specsFor(host({ consensus: { client: c } }), []).consensus;
    expect(commandText(s)).not.toMatch(/checkpoint-?sync-?url|trusted-node-url/i);
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
    expect(el.command[0]).toContain('--networkid="$$CHAIN_ID"');
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
