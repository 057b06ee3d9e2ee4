/**
 * `--host NAME` for commands that talk to a node's loopback APIs (JSON-RPC, beacon API, keymanager): the host is
 * looked up in the stack, reached over SSH like `ephemery status`, and each API gets a local tunnel whose URL the
 * command uses as it would a URL given by hand. Nothing is published on the host.
 */
import { resolveHostKind, HostConfig } from "../../lib/config/schema";
import { hostPaths } from "../../lib/clients/types";
import { shellQuote } from "../../lib/hostScripts";
import { CommandIO, stringOpt, UsageError } from "../command";
import { withProgress } from "../progress";
import { HostSession, openSession, openTunnel, Tunnel } from "../ssh";
import { STACK_OPTIONS } from "../stack";
import { loadConfigOrThrow, parseHostScript, SSH_OPTIONS, sshAuthOf, stackAddresses, statusScriptOf, targetOf } from "./status";

export const HOST_API_OPTIONS = { ...STACK_OPTIONS, ...SSH_OPTIONS, host: { type: "string" as const } };

/** The largest release file read from a host (config.yaml is a few KiB). */
const MAX_REMOTE_FILE_BYTES = 1024 * 1024;

export type HostApi = "rpc" | "beacon" | "keymanager";

export interface HostApis {
  host: HostConfig;
  session: HostSession;
  /** Local URLs (no trailing slash) of the tunnelled APIs. */
  urls: Record<HostApi, string>;
  /** The release's config.yaml as the host has it installed (testnet/current). */
  releaseConfig(): Promise<string>;
  /** The validator client's keymanager token, read from its container as `ephemery status` does. */
  keymanagerToken(): Promise<string | undefined>;
  close(): Promise<void>;
}

function portOf(host: HostConfig, api: HostApi): number {
  if (api === "rpc") return host.execution.rpcPort;
  if (api === "beacon") return host.consensus.beaconApiPort;
  if (!host.validator) throw new UsageError(`host ${host.name} runs no validator client, so it has no keymanager API`);
  return host.validator.keymanagerPort;
}

/** Opens the SSH session and one tunnel per API; the caller must close() it. */
export async function openHostApis(values: Record<string, unknown>, io: CommandIO, apis: HostApi[]): Promise<HostApis> {
  const name = stringOpt(values, "host")!;
  const { file, config } = loadConfigOrThrow(values, io);
  const host = config.hosts.find((h) => h.name === name);
  if (!host) throw new UsageError(`no host "${name}" in ${file}; hosts: ${config.hosts.map((h) => h.name).join(", ")}`);
  const ports = apis.map((api) => portOf(host, api));
  const addresses = ["aws", "hcloud"].includes(resolveHostKind(host)) ? await stackAddresses(stringOpt(values, "stack"), io.cwd) : {};
  const target = targetOf(host, addresses);
  if (target.kind === "ssh" && !target.address) throw new Error(`no address known for host ${name}: run pulumi up, or check that \`pulumi stack output hosts\` works here`);
  const session = await withProgress(io, `connecting to ${name}`, () => openSession(target, sshAuthOf(values)));
  if (session.hostKeyNote) io.err(`warning: ${session.hostKeyNote}\n`);
  const tunnels: Tunnel[] = [];
  const close = async () => { await Promise.all(tunnels.map((t) => t.close())); session.close(); };
  try {
    for (const [i, api] of apis.entries()) {
      tunnels.push(await openTunnel(session, ports[i], 0, (e) => io.err(`${api} API of ${name}: ${e.message} (check: ephemery status --host ${name})\n`)));
    }
  } catch (e) {
    await close();
    throw e;
  }
  const urls = Object.fromEntries(apis.map((api, i) => [api, tunnels[i].url.replace(/\/$/, "")])) as Record<HostApi, string>;
  const paths = hostPaths(host.dataDir, host.name);
  return {
    host, session, urls, close,
    async releaseConfig() {
      const configPath = `${paths.testnet}/config.yaml`;
      const r = await session.exec(`head -c ${MAX_REMOTE_FILE_BYTES} -- ${shellQuote(configPath)}\n`, 30_000);
      if (r.code !== 0 || !r.stdout) throw new Error(`cannot read ${configPath} on ${name}: ${r.stderr.trim().slice(0, 200) || `exit ${r.code}`}; is a release installed (ephemery status --host ${name})?`);
      return r.stdout;
    },
    async keymanagerToken() {
      return host.validator ? parseHostScript((await session.exec(statusScriptOf(host), 30_000)).stdout).keymanagerToken : undefined;
    },
  };
}
