/** Building blocks shared by the client modules. */
import type { ValidatorConfig } from "../config/schema";
import { ContainerSpec, MountSpec, NodeContext, PATHS, PortPurpose, PortSpec, ResetDataRule, Role, hostPaths } from "./types";

export const ENGINE_PORT = 8551;
export const DEFAULT_METRICS_PORT: Record<"execution" | "consensus" | "validator", number> = {
  execution: 6060,
  consensus: 5054,
  validator: 5064,
};

export function containerName(node: string, role: Role | string): string {
  return `${node}-${role}`;
}

export function volumeName(node: string, role: Role | string): string {
  return `${node}-${role}-data`;
}

export function executionEndpoint(node: string): string {
  return `http://${containerName(node, "execution")}:${ENGINE_PORT}`;
}

export function beaconEndpoint(ctx: NodeContext): string {
  return `http://${containerName(ctx.node, "consensus")}:${ctx.host.consensus.beaconApiPort}`;
}

/**
 * The prysm beacon node's gRPC port (its --rpc-port default, cmd/beacon-chain/flags/base.go, prysm v7.0.0), kept on
 * the node's private network: only a prysm validator client of the same node talks to it.
 */
export const PRYSM_GRPC_PORT = 4000;

/**
 * The client's own flag advertising `hosts[].publicIp` to peers (enode / ENR), or nothing when it is unset and the
 * client's NAT discovery decides. The schema holds the address to digits and dots, so it is safe in the line.
 * Each module's flag was read where its option list was (lib/clients/options/<client>.json): geth v1.16.7 and
 * prysm v7.0.0 also against the real `--help`; besu 25.11.0 and teku 25.11.1 picocli options; reth v1.9.3 clap
 * args; nethermind's 1.35.0 and erigon's v3.1.0 reference pages, lighthouse v5.3.0, nimbus v24.12.0 and lodestar
 * 1.30.0/1.44.0 (near versions of the pins, as those lists say).
 */
export function advertisedAddressArgs(ctx: NodeContext, flag: (ip: string) => string): string[] {
  return ctx.host.publicIp ? [flag(ctx.host.publicIp)] : [];
}

export function p2pPorts(port: number, opts: { udp?: boolean; quicPort?: number } = {}): PortSpec[] {
  const out: PortSpec[] = [{ containerPort: port, hostPort: port, protocol: "tcp", purpose: "p2p", bindAddress: "0.0.0.0" }];
  if (opts.udp !== false) out.push({ containerPort: port, hostPort: port, protocol: "udp", purpose: "p2p", bindAddress: "0.0.0.0" });
  if (opts.quicPort !== undefined) out.push({ containerPort: opts.quicPort, hostPort: opts.quicPort, protocol: "udp", purpose: "p2p", bindAddress: "0.0.0.0" });
  return out;
}

/** An API port published on the host's loopback, or on all addresses when the operator opted in. */
export function apiPort(port: number, purpose: PortPurpose, expose = false): PortSpec {
  return { containerPort: port, hostPort: port, protocol: "tcp", purpose, bindAddress: expose ? "0.0.0.0" : "127.0.0.1" };
}

/** A port reachable only from the node's private Docker network. */
export function privatePort(port: number, purpose: PortPurpose): PortSpec {
  return { containerPort: port, protocol: "tcp", purpose, bindAddress: "127.0.0.1" };
}

export function sharedMounts(ctx: NodeContext, opts: { jwt: boolean }): MountSpec[] {
  const paths = hostPaths(ctx.host.dataDir, ctx.node);
  const mounts: MountSpec[] = [{ kind: "bind", source: paths.testnetRoot, target: PATHS.testnetRoot, readOnly: true }];
  if (opts.jwt) mounts.push({ kind: "bind", source: paths.jwtDir, target: PATHS.jwtDir, readOnly: true });
  return mounts;
}

export function dataMount(ctx: NodeContext, role: Role): MountSpec {
  return { kind: "volume", source: volumeName(ctx.node, role), target: PATHS.data, readOnly: false };
}

/**
 * Runs `script` with `sh -c`, so per-iteration values (chain id, bootnodes, genesis hash) are read from the
 * testnet dir at every start; extra flags arrive as "$@" and need no quoting.
 */
export function shellEntry(script: string[], extraArgs: string[], opts: { nodevars?: boolean } = {}): { entrypoint: string[]; command: string[] } {
  // Clients that take every value from files of their own (lighthouse, prysm) do not source the release's vars.
  const vars = opts.nodevars === false ? [] : [`. "$T/nodevars_env.txt"`];
  const body = ["set -eu", `T=${PATHS.testnet}`, ...vars, ...script].join("\n");
  return { entrypoint: ["/bin/sh", "-c"], command: [body, "ephemery-entry", ...extraArgs] };
}

/**
 * The checkpoint provider the reset program chose for this iteration (reset-safety writes it): one URL line;
 * empty or missing means "sync from genesis.ssz". It is emptied at every reset switch, so a CL restarted on a
 * brand-new chain never asks a provider for the old one.
 */
export const CHECKPOINT_URL_FILE = `${PATHS.testnetRoot}/checkpoint-sync-url`;
/** Longest URL the start script accepts from that file. */
export const MAX_CHECKPOINT_URL_CHARS = 2048;
/**
 * The one shape of a checkpoint provider URL, everywhere it is used: the config schema refuses others, the reset
 * program writes only such a URL into the checkpoint file, and each CL's start script accepts only its characters.
 * No query, fragment, credentials or percent-escapes: a provider is a host, a port and a path.
 */
export const CHECKPOINT_URL_CHARS = "A-Za-z0-9.:/_-";
export const CHECKPOINT_URL_PATTERN = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._/-]*)?$";

/**
 * Shell that sets $CHECKPOINT_URL from `file` at container start, or to "" when the file is missing, empty
 * or holds anything but `^https?://[A-Za-z0-9.:/_-]+$` (then one line on stderr says why). Builtins only:
 * the value is data, never code, and some images have no grep.
 */
export function readCheckpointUrl(file: string = CHECKPOINT_URL_FILE): string {
  return [
    'CHECKPOINT_URL=""',
    `if [ -s ${file} ]; then IFS= read -r CHECKPOINT_URL < ${file} || true; fi`,
    'case "$CHECKPOINT_URL" in',
    '  "") ;;',
    `  http://?*|https://?*) case "$CHECKPOINT_URL" in *[!${CHECKPOINT_URL_CHARS}]*) CHECKPOINT_URL="bad";; esac ;;`,
    '  *) CHECKPOINT_URL="bad" ;;',
    "esac",
    `if [ "\${#CHECKPOINT_URL}" -gt ${MAX_CHECKPOINT_URL_CHARS} ]; then CHECKPOINT_URL="bad"; fi`,
    `if [ "$CHECKPOINT_URL" = "bad" ]; then echo "ephemery: ignoring ${file}: not one http(s) URL of [${CHECKPOINT_URL_CHARS}]; syncing from genesis" >&2; CHECKPOINT_URL=""; fi`,
  ].join("\n");
}

/**
 * Prepends `flags` (each `--name=` gets "$CHECKPOINT_URL" as one quoted argument) when a provider was chosen,
 * else `genesisFlags`; the exec line ends with "$@", so they land before the operator's extra flags.
 */
export function checkpointArgs(flags: string[], genesisFlags: string[] = []): string {
  const set = flags.map((f) => `${f}="$CHECKPOINT_URL"`).join(" ");
  const unset = genesisFlags.length ? `set -- ${genesisFlags.join(" ")} "$@"` : ":";
  return `if [ -n "$CHECKPOINT_URL" ]; then set -- ${set} "$@"; else ${unset}; fi`;
}

/** Appends `--flag=<url>` per ENR in $BOOTNODE_ENR_LIST, for clients that take one flag per bootnode. */
export function perEnrFlags(flag: string): string {
  return `for enr in $(echo "$BOOTNODE_ENR_LIST" | tr ',' ' '); do set -- "$@" ${flag}="$enr"; done`;
}

export function baseSpec(
  ctx: NodeContext,
  role: Role,
  client: string,
  fields: {
    image: string;
    memoryMiB: number;
    command: string[];
    entrypoint?: string[];
    ports: PortSpec[];
    mounts: MountSpec[];
    metricsPort: number;
    metricsPath?: string;
    reset?: ResetDataRule;
    dependsOn?: string[];
    stopGraceSec?: number;
    slashingProtection?: string[];
  },
): ContainerSpec {
  return {
    name: containerName(ctx.node, role),
    role,
    client,
    image: fields.image,
    entrypoint: fields.entrypoint,
    command: fields.command,
    env: {},
    ports: [...fields.ports, apiPort(fields.metricsPort, "metrics")],
    mounts: [...fields.mounts, dataMount(ctx, role)],
    restart: "unless-stopped",
    memoryMiB: fields.memoryMiB,
    stopGraceSec: fields.stopGraceSec ?? 180,
    // Files the program writes (JWT, keys) are root-owned 0600; clients run as root inside their container.
    user: "0:0",
    metrics: { port: fields.metricsPort, path: fields.metricsPath ?? "/metrics", job: role },
    data: { volume: volumeName(ctx.node, role), mountPath: PATHS.data, reset: fields.reset ?? { wipe: [], keep: [] } },
    slashingProtection: fields.slashingProtection,
    dependsOn: fields.dependsOn ?? [],
  };
}

/** Host dir of installed validator keys, mounted read-only; `current` is swapped atomically by the key installer. */
export function keysMount(ctx: NodeContext): MountSpec {
  return { kind: "bind", source: hostPaths(ctx.host.dataDir, ctx.node).keysRoot, target: PATHS.keysRoot, readOnly: true };
}

/**
 * Shell that writes 32 random bytes as hex to `file` (0600) unless it already holds a token, through a temp file
 * and rename so a crash never leaves an empty one. The token never leaves the data volume.
 */
export function createTokenFile(file: string): string {
  return `if [ ! -s ${file} ]; then (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \\n' > ${file}.tmp && [ -s ${file}.tmp ] && mv -f ${file}.tmp ${file}); fi`;
}

/** Validator clients write lock files next to their keys, so each start copies the installed set into /data/keys. */
export const COPY_KEYS = `rm -rf ${PATHS.data}/keys && cp -Rp ${PATHS.keys}/. ${PATHS.data}/keys`;
export const KEYS_IN_DATA = `${PATHS.data}/keys`;

interface ClientIdentity {
  name: string;
  defaultImage: string;
  defaultMemoryMiB: number;
}

/** The execution-client container around a client's own command: ports, JWT, data volume, metrics. */
export function executionSpec(
  ctx: NodeContext,
  client: ClientIdentity,
  fields: { entry: { entrypoint?: string[]; command: string[] }; reset: ResetDataRule; metricsPath?: string; separateWsPort?: boolean },
): ContainerSpec {
  const el = ctx.host.execution;
  return baseSpec(ctx, "execution", client.name, {
    image: el.image ?? client.defaultImage,
    memoryMiB: el.memoryMiB ?? client.defaultMemoryMiB,
    ...fields.entry,
    ports: [
      ...p2pPorts(el.p2pPort),
      apiPort(el.rpcPort, "rpc", el.exposeRpc),
      ...(fields.separateWsPort === false ? [] : [apiPort(el.wsPort, "ws", el.exposeRpc)]),
      privatePort(ENGINE_PORT, "engine"),
    ],
    mounts: sharedMounts(ctx, { jwt: true }),
    metricsPort: metricsPortOf(ctx, "execution"),
    metricsPath: fields.metricsPath,
    reset: fields.reset,
  });
}

/** The consensus-client container: p2p (and QUIC where used), beacon API, JWT, data volume, metrics. */
export function consensusSpec(
  ctx: NodeContext,
  client: ClientIdentity,
  fields: { entry: { entrypoint?: string[]; command: string[] }; reset: ResetDataRule; quic?: boolean; privatePorts?: PortSpec[] },
): ContainerSpec {
  const cl = ctx.host.consensus;
  return baseSpec(ctx, "consensus", client.name, {
    image: cl.image ?? client.defaultImage,
    memoryMiB: cl.memoryMiB ?? client.defaultMemoryMiB,
    ...fields.entry,
    ports: [...p2pPorts(cl.p2pPort, fields.quic ? { quicPort: cl.quicPort } : {}), apiPort(cl.beaconApiPort, "beacon", cl.exposeBeaconApi), ...(fields.privatePorts ?? [])],
    mounts: sharedMounts(ctx, { jwt: true }),
    metricsPort: metricsPortOf(ctx, "consensus"),
    reset: fields.reset,
    dependsOn: [containerName(ctx.node, "execution")],
  });
}

/** The metrics port a client listens on: the operator's setting, else the role's default. */
export function metricsPortOf(ctx: NodeContext, role: "execution" | "consensus" | "validator"): number {
  return ctx.host[role]?.metricsPort ?? DEFAULT_METRICS_PORT[role];
}

/** The validator-client container: keymanager on loopback, keys mounted read-only, slashing DB in its volume. */
export function validatorSpec(
  ctx: NodeContext & { validator: ValidatorConfig },
  client: ClientIdentity,
  fields: { entry: { entrypoint?: string[]; command: string[] }; slashingProtection: string[] },
): ContainerSpec {
  const vc = ctx.validator;
  return baseSpec(ctx, "validator", client.name, {
    image: vc.image ?? client.defaultImage,
    memoryMiB: vc.memoryMiB ?? client.defaultMemoryMiB,
    ...fields.entry,
    ports: [apiPort(vc.keymanagerPort, "keymanager")],
    mounts: [...sharedMounts(ctx, { jwt: false }), keysMount(ctx)],
    metricsPort: metricsPortOf(ctx, "validator"),
    stopGraceSec: 30,
    slashingProtection: fields.slashingProtection,
    dependsOn: [containerName(ctx.node, "consensus")],
  });
}

