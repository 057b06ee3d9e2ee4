/**
 * The one interface every client module implements: plain data in, a plain container spec out.
 * Renderers (components/containers.ts for Docker, lib/compose.ts for compose) turn specs into resources.
 */
import { homedir } from "os";
import type { ConsensusConfig, ExecutionConfig, HostConfig, ValidatorConfig } from "../config/schema";

export type Role = "execution" | "consensus" | "validator" | "monitoring";
export type PortPurpose =
  | "p2p" | "rpc" | "ws" | "engine" | "beacon" | "keymanager" | "metrics"
  | "prometheus" | "alertmanager" | "grafana" | "node-exporter" | "exporter"
  /** The fleet monitor's remote_write receiver: TLS and basic auth, the one monitoring port meant to be public. */
  | "fleet-receiver";

/** Ports that must never be reachable from the internet (the network policies check this list). */
export const PRIVATE_PORT_PURPOSES: readonly PortPurpose[] = [
  "rpc", "ws", "engine", "beacon", "keymanager", "metrics", "prometheus", "alertmanager", "grafana", "node-exporter", "exporter",
];

export interface PortSpec {
  containerPort: number;
  /** Host port to publish on; undefined keeps the port on the node's private Docker network. */
  hostPort?: number;
  protocol: "tcp" | "udp";
  purpose: PortPurpose;
  /** `0.0.0.0` for p2p (and opted-in APIs), `127.0.0.1` otherwise. */
  bindAddress: "0.0.0.0" | "127.0.0.1";
}

export interface MountSpec {
  kind: "volume" | "bind";
  /** Volume name, or absolute host path for a bind mount. */
  source: string;
  target: string;
  readOnly: boolean;
}

/** What a reset wipes in a client's data volume, and what it keeps (node identity). */
export interface ResetDataRule {
  /** Directories (relative to the data root, "." for all of it) whose content a reset deletes. */
  wipe: string[];
  /** Paths (relative to the data root) kept inside the wiped directories. */
  keep: string[];
}

export interface MetricsSpec {
  /** Port inside the container; Prometheus scrapes `<container>:<port><path>` on the node network. */
  port: number;
  path: string;
  /** Prometheus job name, e.g. `execution`. */
  job: string;
}

export interface ContainerSpec {
  /** Container name, `<node>-<role>` for clients. */
  name: string;
  role: Role;
  /** Client or component name, e.g. `geth`, `prometheus`. */
  client: string;
  image: string;
  entrypoint?: string[];
  command: string[];
  env: Record<string, string>;
  ports: PortSpec[];
  mounts: MountSpec[];
  restart: "unless-stopped";
  memoryMiB: number;
  /** Seconds the client gets to shut down cleanly before it is killed (databases need time). */
  stopGraceSec: number;
  user?: string;
  metrics?: MetricsSpec;
  /** The named volume that holds the client's data and the reset rule for it. */
  data: { volume: string; mountPath: string; reset: ResetDataRule };
  /** Validator clients: paths in the data volume that hold the slashing-protection database. */
  slashingProtection?: string[];
  /** Containers that must exist first (by name). */
  dependsOn: string[];
}

/** Paths inside every client container. */
export const PATHS = {
  data: "/data",
  /** The host's testnet dir is mounted here; `current` is a relative symlink to the active release. */
  testnetRoot: "/ephemery/testnet",
  testnet: "/ephemery/testnet/current",
  jwt: "/ephemery/jwt/jwt.hex",
  jwtDir: "/ephemery/jwt",
  keysRoot: "/ephemery/validator-keys",
  keys: "/ephemery/validator-keys/current",
} as const;

/** `~/x` -> `<home>/x`; only local hosts may use it (the schema checks). */
export function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? `${homedir()}${p.slice(1)}` : p;
}

/** Host-side layout under `dataDir/<node>`. */
export function hostPaths(dataDir: string, node: string) {
  const root = `${expandHome(dataDir).replace(/\/+$/, "")}/${node}`;
  return {
    root,
    testnetRoot: `${root}/testnet`,
    testnet: `${root}/testnet/current`,
    jwtDir: `${root}/jwt`,
    jwt: `${root}/jwt/jwt.hex`,
    keysRoot: `${root}/validator-keys`,
    scripts: `${root}/bin`,
    state: `${root}/state`,
    archive: `${root}/archive`,
    backups: `${root}/backups`,
    compose: `${root}/compose`,
    monitoring: `${root}/monitoring`,
    textfile: `${root}/node-exporter`,
  };
}

export interface NodeContext {
  /** The node's name (the host's name); prefixes every container and volume. */
  node: string;
  host: HostConfig;
  /**
   * Checkpoint providers in the order to try; empty means genesis sync. Not rendered into commands: the reset
   * program picks one per iteration and writes it to `<testnetRoot>/checkpoint-sync-url`, which CLs read at start.
   */
  checkpointSyncUrls: string[];
}

export interface ExecutionClientModule {
  name: ExecutionConfig["client"];
  defaultImage: string;
  defaultMemoryMiB: number;
  /** Minimum disk for a data volume, GiB; used by sizing and by policies. */
  minDiskGiB: number;
  build(ctx: NodeContext): ContainerSpec;
}

export interface ConsensusClientModule {
  name: ConsensusConfig["client"];
  defaultImage: string;
  defaultMemoryMiB: number;
  minDiskGiB: number;
  build(ctx: NodeContext): ContainerSpec;
}

export interface ValidatorClientModule {
  name: NonNullable<ValidatorConfig["client"]>;
  defaultImage: string;
  defaultMemoryMiB: number;
  build(ctx: NodeContext & { validator: ValidatorConfig }): ContainerSpec;
}
