/**
 * The stack configuration (`ephemery:*` keys), validated before any resource exists.
 * Pure: used by the Pulumi program, the `ephemery` CLI and the tests alike.
 */
import { z } from "zod";
import { ADDRESS_RULE, charsetString, CHECKPOINT_URL_RULE, CLOUD_ID_RULE, DATA_DIR_RULE, EXTRA_ARG_RULE, GRAFFITI_RULE, TAG_URL_RULE, URL_RULE } from "./charsets";
import { CONSENSUS_CLIENTS, EXECUTION_CLIENTS, VALIDATOR_CLIENTS } from "./clients";
import { fleetSchema } from "./fleet";
import { imageRefSchema } from "./images";
import { keySourceSchema, redepositSchema } from "./keys";
import { kubernetesSchema } from "./kubernetes";
import { monitoringSchema } from "./monitoring";
import { resetSchema } from "./reset";
import { DEFAULT_SCHEDULE } from "../ephemery";

export const HOST_KINDS = ["local", "ssh", "aws", "hcloud", "kubernetes"] as const;
export const RUNTIMES = ["docker", "compose"] as const;
export type HostKind = (typeof HOST_KINDS)[number];
export type Runtime = (typeof RUNTIMES)[number];

/** Ephemery's public checkpoint providers; any of them may be down or behind after a reset. */
export const DEFAULT_CHECKPOINT_SYNC_URLS = [
  "https://checkpoint-sync.ephemery.ethpandaops.io",
  "https://ephemery.beaconstate.ethstaker.cc",
  "https://beaconstate-ephemery.chainsafe.dev",
  "https://checkpointz.bordel.wtf",
];

export const DEFAULT_RELEASE = {
  latestUrl: "https://api.github.com/repos/ephemery-testnet/ephemery-genesis/releases/latest",
  archiveUrl: "https://github.com/ephemery-testnet/ephemery-genesis/releases/download/{tag}/testnet-all.tar.gz",
};

const port = z.number().int().min(1).max(65535);
const image = imageRefSchema;
// URLs reach client command lines and the reset program: a safe character set, not only a shape.
const httpUrl = charsetString(URL_RULE);
const checkpointUrl = charsetString(CHECKPOINT_URL_RULE);
const cloudId = charsetString(CLOUD_ID_RULE);
const extraArgs = z.array(charsetString(EXTRA_ARG_RULE)).max(64).default([]).describe("Extra command-line flags appended to the client's own.");
const memoryMiB = z.number().int().min(256).optional().describe("Container memory limit in MiB (default: the client's recommendation).");

export const releaseSchema = z
  .strictObject({
    latestUrl: httpUrl.default(DEFAULT_RELEASE.latestUrl)
      .describe("URL answering like GitHub's releases/latest (JSON with tag_name)."),
    archiveUrl: charsetString(TAG_URL_RULE)
      .default(DEFAULT_RELEASE.archiveUrl)
      .describe("URL of testnet-all.tar.gz; {tag} is replaced by the release tag."),
  })
  .prefault({});

const seconds = z.number().int().min(0).max(1e11);
export const scheduleSchema = z
  .strictObject({
    baseTime: seconds.default(DEFAULT_SCHEDULE.baseTime)
      .describe("EL genesis of iteration 0 on the closed-form schedule, unix seconds (default 1393527600)."),
    periodSec: z.number().int().min(60).max(366 * 86400).default(DEFAULT_SCHEDULE.periodSec)
      .describe("Length of one iteration in seconds (default 2419200, 28 days); each release's GENESIS_RESET_INTERVAL is checked against it."),
    genesisDelaySec: z.number().int().min(0).max(86400).default(DEFAULT_SCHEDULE.genesisDelaySec)
      .describe("CL genesis minus EL genesis in seconds (default 600, config.yaml GENESIS_DELAY)."),
    chainIdBase: z.number().int().min(1).max(2 ** 52).default(DEFAULT_SCHEDULE.chainIdBase)
      .describe("Chain id of iteration 0 (default 39438000): chain id = chainIdBase + iteration."),
  })
  .prefault({});

export const networkSchema = z
  .strictObject({
    release: releaseSchema.describe("Where the Ephemery genesis releases come from (GitHub, a mirror, a local server)."),
    schedule: scheduleSchema.describe("The schedule releases are expected on; a release that disagrees is followed and alerted on (EphemeryScheduleMismatch)."),
    checkpointSyncUrls: z.array(checkpointUrl).default(DEFAULT_CHECKPOINT_SYNC_URLS)
      .describe("Checkpoint-sync providers, tried best first."),
    genesisSyncFallback: z.boolean().default(true)
      .describe("Sync from genesis.ssz when no checkpoint provider serves the current chain."),
  })
  .prefault({});

export const executionSchema = z
  .strictObject({
    client: z.enum(EXECUTION_CLIENTS).default("geth").describe("Execution client."),
    image: image.optional().describe("Image override (default: the pinned image for the client)."),
    extraArgs,
    memoryMiB,
    p2pPort: port.default(30303).describe("Public p2p port (TCP and UDP)."),
    rpcPort: port.default(8545).describe("JSON-RPC port, on loopback unless exposeRpc."),
    wsPort: port.default(8546).describe("WebSocket RPC port, on loopback unless exposeRpc."),
    metricsPort: port.optional().describe("Metrics port on loopback (default: the client's own)."),
    exposeRpc: z.boolean().default(false).describe("Publish JSON-RPC and WebSocket on all addresses (unsafe)."),
  })
  .prefault({});

export const consensusSchema = z
  .strictObject({
    client: z.enum(CONSENSUS_CLIENTS).default("lighthouse").describe("Consensus client."),
    image: image.optional().describe("Image override (default: the pinned image for the client)."),
    extraArgs,
    memoryMiB,
    p2pPort: port.default(9000).describe("Public p2p port (TCP and UDP)."),
    quicPort: port.default(9001).describe("Public QUIC port (UDP) for clients that use it."),
    beaconApiPort: port.default(5052).describe("Beacon API port, on loopback unless exposeBeaconApi."),
    metricsPort: port.optional().describe("Metrics port on loopback (default: the client's own)."),
    exposeBeaconApi: z.boolean().default(false).describe("Publish the beacon API on all addresses (unsafe)."),
    checkpointSyncUrls: z.array(checkpointUrl).optional()
      .describe("Checkpoint providers for this host (default: network.checkpointSyncUrls)."),
  })
  .prefault({});

export const validatorSchema = z.strictObject({
  client: z.enum(VALIDATOR_CLIENTS).optional().describe("Validator client (default: the consensus client)."),
  image: image.optional().describe("Image override (default: the pinned image for the client)."),
  extraArgs,
  memoryMiB,
  feeRecipient: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte hex address")
    .describe("Address that receives priority fees of proposed blocks."),
  graffiti: charsetString(GRAFFITI_RULE).default("pulumi-ephemery").describe("Graffiti in proposed blocks (32 bytes at most)."),
  doppelganger: z.boolean().default(true).describe("Doppelganger protection: wait and watch before signing."),
  keymanagerPort: port.default(5062).describe("Keymanager API port, on loopback."),
  metricsPort: port.optional().describe("Metrics port on loopback (default: the client's own)."),
  keys: keySourceSchema.optional().describe("Validator keys to install (see the keys section)."),
  redeposit: redepositSchema.prefault({}).describe("Re-deposit after each reset (off by default)."),
});

const sshSchema = z
  .strictObject({
    user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, "must be a Unix user name").default("root").describe("SSH user."),
    port: port.default(22).describe("SSH port."),
    useAgent: z.boolean().default(false)
      .describe("Authenticate with the workstation's ssh-agent instead of ephemery:sshPrivateKey."),
  })
  .prefault({});

/** A unicast IPv4 literal (dotted quad, each part 0-255); only digits and dots, so it is safe in a command line. */
const publicIpv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/, "must be an IPv4 address such as 203.0.113.10")
  .refine((ip) => { const first = Number(ip.split(".")[0]); return ip !== "0.0.0.0" && ip !== "255.255.255.255" && first < 224; }, "must be a unicast IPv4 address that peers can reach (not 0.0.0.0, broadcast or multicast)");

const cidr = z.string().regex(/^([0-9.]+\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/, "must be a CIDR such as 203.0.113.4/32");

const awsSchema = z.strictObject({
  region: cloudId.describe("AWS region."),
  instanceType: cloudId.default("m6i.xlarge").describe("EC2 instance type."),
  ami: cloudId.optional().describe("AMI id (default: the newest Debian 12 image)."),
  dataVolumeGiB: z.number().int().min(20).optional().describe("Data volume size (default: sized for the clients)."),
  sshAllowedCidrs: z.array(cidr).default(["0.0.0.0/0"]).describe("Who may reach SSH."),
  subnetId: cloudId.optional().describe("Subnet to launch into (default: the default VPC)."),
});

const hcloudSchema = z.strictObject({
  location: cloudId.default("fsn1").describe("Hetzner location."),
  serverType: cloudId.default("cpx41").describe("Hetzner server type."),
  image: cloudId.default("debian-12").describe("Hetzner OS image."),
  volumeGiB: z.number().int().min(10).optional().describe("Data volume size (default: sized for the clients)."),
  sshAllowedCidrs: z.array(cidr).default(["0.0.0.0/0", "::/0"]).describe("Who may reach SSH."),
});

export const hostSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,29}$/, "must start with a letter and use only a-z, 0-9 and -, at most 30 characters")
    .describe("Host name; names containers, volumes and resources."),
  kind: z.enum(HOST_KINDS).optional().describe("local, ssh, aws, hcloud or kubernetes (default: ssh when address is set, else local)."),
  address: charsetString(ADDRESS_RULE).optional().describe("Address of an existing machine (kind ssh)."),
  publicIp: publicIpv4.optional()
    .describe("IPv4 address other nodes reach this host's p2p ports on; every client advertises it (default: each client's own NAT discovery). Set it behind NAT or a Docker bridge."),
  ssh: sshSchema.describe("How to reach the machine over SSH."),
  aws: awsSchema.optional().describe("EC2 settings (kind aws)."),
  hcloud: hcloudSchema.optional().describe("Hetzner Cloud settings (kind hcloud)."),
  kubernetes: kubernetesSchema.optional().describe("Cluster settings (kind kubernetes); the kubeconfig is the secret ephemery:kubeconfig."),
  runtime: z.enum(RUNTIMES).default("docker").describe("docker: Pulumi manages each container; compose: one compose project per node."),
  dataDir: charsetString(DATA_DIR_RULE).default("/var/lib/ephemery")
    .describe("Host directory for testnet files, JWT, scripts and backups; ~/ is allowed for local hosts."),
  execution: executionSchema,
  consensus: consensusSchema,
  validator: validatorSchema.optional().describe("Validator client; omit for a full node."),
  monitoring: monitoringSchema,
  reset: resetSchema,
}).superRefine((h, ctx) => {
  // Checks within one host run even when another host has mistakes, so every problem shows at once.
  const at = (...rest: (string | number)[]) => rest;
  const kind = resolveHostKind(h);
  if (kind === "ssh" && !h.address) {
    ctx.addIssue({ code: "custom", path: at("address"), message: "an ssh host needs an address: set address to the machine's IP or DNS name" });
  }
  if (kind !== "local" && h.dataDir.startsWith("~")) {
    ctx.addIssue({ code: "custom", path: at("dataDir"), message: `"${h.dataDir}" uses ~, which only a local host can resolve; give an absolute path` });
  }
  if (kind === "local" && h.address) ctx.addIssue({ code: "custom", path: at("address"), message: "a local host has no address: remove it, or set kind: ssh" });
  if (kind === "aws" && !h.aws) ctx.addIssue({ code: "custom", path: at("aws"), message: "kind aws needs an aws block with at least region" });
  if (kind === "hcloud" && !h.hcloud) ctx.addIssue({ code: "custom", path: at("hcloud"), message: "kind hcloud needs an hcloud block (location and serverType have defaults: hcloud: {})" });
  if (h.aws && kind !== "aws") ctx.addIssue({ code: "custom", path: at("aws"), message: `an aws block only applies to kind aws, this host is ${kind}` });
  if (kind === "kubernetes" && !h.kubernetes) ctx.addIssue({ code: "custom", path: at("kubernetes"), message: "kind kubernetes needs a kubernetes block (every field has a default: kubernetes: {})" });
  if (h.kubernetes && kind !== "kubernetes") ctx.addIssue({ code: "custom", path: at("kubernetes"), message: `a kubernetes block only applies to kind kubernetes, this host is ${kind}` });
  if (kind === "kubernetes" && h.address) ctx.addIssue({ code: "custom", path: at("address"), message: "a kubernetes host has no address: the cluster is reached through ephemery:kubeconfig; remove address" });
  if (kind === "kubernetes" && h.validator?.redeposit.enabled) ctx.addIssue({ code: "custom", path: at("validator", "redeposit", "enabled"), message: "re-deposit after a reset does not run on kind kubernetes yet (the reset job in the cluster carries no funding key): turn it off and deposit with `ephemery keys deposit`, or run this validator on an ssh, aws, hcloud or local host" });
  if (kind === "kubernetes" && h.runtime !== "docker") ctx.addIssue({ code: "custom", path: at("runtime"), message: "runtime does not apply to kind kubernetes (the cluster runs the containers): remove it" });
  if (h.hcloud && kind !== "hcloud") ctx.addIssue({ code: "custom", path: at("hcloud"), message: `an hcloud block only applies to kind hcloud, this host is ${kind}` });
  const publicPorts = [h.execution.p2pPort, h.consensus.p2pPort, h.consensus.quicPort];
  if (new Set(publicPorts).size !== publicPorts.length) {
    ctx.addIssue({ code: "custom", path: at("consensus", "p2pPort"), message: `p2p ports collide (execution ${h.execution.p2pPort}, consensus ${h.consensus.p2pPort}, quic ${h.consensus.quicPort}); give each its own` });
  }
});

export const stackConfigSchema = z
  .strictObject({
    network: networkSchema,
    hosts: z.array(hostSchema).min(1, "list at least one host"),
    fleet: fleetSchema.optional()
      .describe("The fleet monitor: every node's Prometheus sends its series there by remote_write over TLS; omit for none."),
  });

/**
 * Checks across hosts, run on the raw list so they are reported even when some host has other mistakes.
 */
export function hostListProblems(rawHosts: unknown): { path: string; message: string }[] {
  if (!Array.isArray(rawHosts)) return [];
  const problems: { path: string; message: string }[] = [];
  const seen = new Map<string, number>();
  let locals = 0;
  rawHosts.forEach((raw, i) => {
    if (typeof raw !== "object" || raw === null) return;
    const h = raw as { name?: unknown; kind?: HostKind; address?: string };
    if (typeof h.name === "string") {
      const prev = seen.get(h.name);
      if (prev !== undefined) {
        problems.push({ path: `hosts[${i}].name`, message: `"${h.name}" is also the name of hosts[${prev}]; host names must be unique` });
      } else {
        seen.set(h.name, i);
      }
    }
    if (resolveHostKind(h) === "local") locals++;
  });
  if (locals > 1) problems.push({ path: "hosts", message: "only one host can be kind local: the workstation runs one node" });
  return problems;
}

export type StackConfig = z.output<typeof stackConfigSchema>;
export type HostConfig = z.output<typeof hostSchema>;
export type ExecutionConfig = z.output<typeof executionSchema>;
export type ConsensusConfig = z.output<typeof consensusSchema>;
export type ValidatorConfig = z.output<typeof validatorSchema>;
export type NetworkConfig = z.output<typeof networkSchema>;

export function resolveHostKind(h: { kind?: HostKind; address?: string }): HostKind {
  return h.kind ?? (h.address ? "ssh" : "local");
}
