/** The real client binaries and images the live-chain tier runs (scripts/client-binaries.sh, scripts/client-images.sh). */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEFAULT_IMAGES, parseImage } from "../../lib/config/images";

const REPO = path.resolve(__dirname, "..", "..");
const CACHE = path.join(process.env.PULUMI_EPHEMERY_CACHE ?? path.join(os.homedir(), ".cache", "pulumi-ephemery"), "clients");

export interface ClientBinaries { geth: string; beaconChain: string; validator: string; prysmctl: string }

/** Paths of the cached binaries at the pinned versions; names the command that builds them when one is missing. */
export function clientBinaries(): ClientBinaries {
  const gethDir = path.join(CACHE, `geth-${parseImage(DEFAULT_IMAGES.geth).tag}`);
  const prysmDir = path.join(CACHE, `prysm-${parseImage(DEFAULT_IMAGES.prysmBeacon).tag}`);
  for (const dir of [gethDir, prysmDir]) {
    if (!fs.existsSync(path.join(dir, ".done"))) throw new Error(`${dir} is not built: run bash scripts/client-binaries.sh (the .ci/run script does)`);
  }
  return {
    geth: path.join(gethDir, "geth"),
    beaconChain: path.join(prysmDir, "beacon-chain"),
    validator: path.join(prysmDir, "validator"),
    prysmctl: path.join(prysmDir, "prysmctl"),
  };
}

/** Imports the client images into the running engine (seconds when the binaries are cached). */
export function ensureClientImages(): string[] {
  const out = execFileSync("bash", [path.join(REPO, "scripts", "client-images.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 3_600_000 });
  return out.split("\n").filter(Boolean);
}

/** The ports of one live-chain node's clients. */
export interface ChainNodePorts {
  elP2p: number; rpc: number; ws: number; elMetrics: number;
  clP2p: number; quic: number; beaconApi: number; clMetrics: number;
  keymanager: number; vcMetrics: number;
}

/**
 * The execution, consensus and validator settings of a live-chain node: geth, prysm and the prysm validator at
 * their pinned images, with two prysm flags only a lone node needs. `--min-sync-peers=0` lets it publish blocks
 * without peers; `--sync-from=head` resumes from its saved head after a restart (by default prysm restarts from
 * the justified checkpoint and fetches newer blocks from peers, and geth ignores a forkchoice update to an
 * ancestor of its head, so a lone node would stop producing blocks). The Docker bench (tests/chain/harness.ts)
 * and the cluster's (tests/k8s/chain.test.ts) both take them from here, so they run the same lines.
 */
export function chainNodeClients(p: ChainNodePorts, opts: { doppelganger?: boolean } = {}) {
  return {
    execution: { client: "geth" as const, p2pPort: p.elP2p, rpcPort: p.rpc, wsPort: p.ws, metricsPort: p.elMetrics },
    consensus: { client: "prysm" as const, p2pPort: p.clP2p, quicPort: p.quic, beaconApiPort: p.beaconApi, metricsPort: p.clMetrics, extraArgs: ["--min-sync-peers=0", "--sync-from=head"] },
    validator: { client: "prysm" as const, feeRecipient: `0x${"ee".repeat(20)}`, keymanagerPort: p.keymanager, metricsPort: p.vcMetrics, doppelganger: opts.doppelganger ?? true },
  };
}
