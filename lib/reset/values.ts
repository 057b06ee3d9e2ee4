/** The values the host-side reset program is rendered with, derived from a node's config and specs. Pure. */
import { NodeSpecs } from "../clients";
import { CHECKPOINT_URL_PATTERN } from "../clients/common";
import { hostPaths } from "../clients/types";
import { HostConfig, NetworkConfig } from "../config/schema";
import { composeArgs } from "../composeCommand";
import { DEFAULT_IMAGES } from "../config/images";
import { DEFAULT_SCHEDULE } from "../ephemery";
import { ScriptValues, shellArray } from "../hostScripts";
import { releaseCheckerSource, releasePolicy } from "./releaseRunner";
import { redepositProgramPath, redepositSettings, redepositTimeoutSec } from "../keys/redepositValues";

export const RESET_SCRIPT = "ephemery-reset.sh";

/**
 * Files every release must carry for any client: the reset program and every container read nodevars_env.txt;
 * verification reads the rest. genesis.json serves every EL: generator 6.x releases have no besu.json or
 * chainspec.json, and besu/nethermind then start from genesis.json, so neither file is required.
 */
export const BASE_RELEASE_FILES = ["config.yaml", "genesis.json", "genesis.ssz", "nodevars_env.txt", "retention.vars", "genesis_validators_root.txt"];

/**
 * What each consensus client reads from the testnet dir beyond the base files (lighthouse
 * common/eth2_network_config: config.yaml, genesis.ssz, boot_enr.yaml, deposit_contract_block.txt; nimbus
 * --network=<dir>: deposit_contract.txt, deposit_contract_block.txt, bootstrap_nodes.txt; prysm's module passes
 * boot_enr.yaml; teku and lodestar take config.yaml and genesis.ssz by flag).
 */
export const CONSENSUS_RELEASE_FILES: Record<string, string[]> = {
  lighthouse: ["boot_enr.yaml", "deposit_contract_block.txt"],
  nimbus: ["deposit_contract.txt", "deposit_contract_block.txt", "bootstrap_nodes.txt"],
  prysm: ["boot_enr.yaml"],
  teku: [],
  lodestar: [],
};

/** The release files this node's clients need; a release without one of them is rejected before anything is wiped. */
export function requiredReleaseFiles(specs: NodeSpecs): string[] {
  return [...new Set([...BASE_RELEASE_FILES, ...(CONSENSUS_RELEASE_FILES[specs.consensus.client] ?? [])])];
}

/** Timing of the host program (seconds). */
export const RESET_TIMING = {
  /** Start polling for the next release this long before the next EL genesis (releases appear ~2 h before). */
  prestageWindowSec: 3 * 3600,
  /** Poll interval inside the pre-stage window; GitHub allows 60 anonymous API calls an hour. */
  pollIntervalSec: 300,
  /** Outside the window, look for a surprise release this often. */
  idleCheckIntervalSec: 6 * 3600,
  /** How long the EL/CL checks may take after the switch: the new chain's first slot is 600 s after it. */
  checkTimeoutSec: DEFAULT_SCHEDULE.genesisDelaySec - 60,
  /** An overdue release (its genesis has come, the source still names the old one): first retry after this... */
  overdueRetryMinSec: 120,
  /** ...doubling on every unchanged answer or failure, up to this. */
  overdueRetryMaxSec: 1800,
  /** After a 403/429 without Retry-After or x-ratelimit-reset, wait this long (GitHub's window is an hour). */
  rateLimitWaitSec: 900,
  /** Never wait longer than this for a rate limit, whatever the server says. */
  rateLimitMaxWaitSec: 6 * 3600,
  /** How often a node with an empty consensus volume looks for a checkpoint provider again. */
  checkpointRecheckSec: 300,
} as const;

/** Size and time bounds of everything the host program downloads. */
export const DOWNLOAD_LIMITS = {
  /** testnet-all.tar.gz: real ones are a few MiB (genesis.ssz dominates). */
  archiveMaxBytes: 256 * 1024 * 1024,
  archiveMaxTimeSec: 300,
  /** The release source's "latest" JSON (GitHub's, with its asset list, is tens of KiB). */
  apiMaxBytes: 1024 * 1024,
  apiMaxTimeSec: 20,
  /** One answer of a beacon API (genesis, finality checkpoints, the node's own checks). */
  probeMaxBytes: 64 * 1024,
  probeMaxTimeSec: 5,
} as const;

/** Time for `docker stop` of the three clients during a switch, all together. */
const STOP_BUDGET_SEC = 180;

/**
 * How long `ensure` waits for a cron run to release the lock: longer than the longest run can hold it (one API
 * query, one archive download, the stops, the post-switch checks, two beacon-API probes per checkpoint provider).
 */
export function lockWaitSec(checkpointProviders: number): number {
  const d = DOWNLOAD_LIMITS;
  return d.apiMaxTimeSec + d.archiveMaxTimeSec + STOP_BUDGET_SEC + RESET_TIMING.checkTimeoutSec + 2 * checkpointProviders * d.probeMaxTimeSec + 60;
}

/** The checkpoint providers the reset program may pick from: the host's list, else the network's. */
export function checkpointProviders(host: HostConfig, network: NetworkConfig): string[] {
  return host.consensus.checkpointSyncUrls ?? network.checkpointSyncUrls;
}

export function resetScriptValues(host: HostConfig, network: NetworkConfig, specs: NodeSpecs): ScriptValues {
  const paths = hostPaths(host.dataDir, host.name);
  const vc = specs.validator;
  const checkpoints = checkpointProviders(host, network);
  return {
    NODE: host.name,
    NODE_DIR: paths.root,
    TESTNET_DIR: paths.testnetRoot,
    STATE_DIR: paths.state,
    ARCHIVE_DIR: paths.archive,
    TEXTFILE_DIR: paths.textfile,
    RELEASE_LATEST_URL: network.release.latestUrl,
    RELEASE_ARCHIVE_URL: network.release.archiveUrl,
    KEEP_TESTNETS: host.reset.keepPreviousTestnets,
    PERIOD_SEC: network.schedule.periodSec,
    BASE_TIME: network.schedule.baseTime,
    GENESIS_DELAY_SEC: network.schedule.genesisDelaySec,
    CHAIN_ID_BASE: network.schedule.chainIdBase,
    RELEASE_POLICY: JSON.stringify(releasePolicy(network, specs, requiredReleaseFiles(specs))),
    RELEASE_CHECKER_JS: releaseCheckerSource().trimEnd(),
    /** Runs the checker where the host has no Node.js >= 18 (the pinned Node image the monitoring stack uses). */
    RELEASE_CHECK_IMAGE: DEFAULT_IMAGES.validatorExporter,
    PRESTAGE_WINDOW_SEC: RESET_TIMING.prestageWindowSec,
    POLL_INTERVAL_SEC: RESET_TIMING.pollIntervalSec,
    IDLE_CHECK_INTERVAL_SEC: RESET_TIMING.idleCheckIntervalSec,
    CHECK_TIMEOUT_SEC: RESET_TIMING.checkTimeoutSec,
    OVERDUE_RETRY_MIN_SEC: RESET_TIMING.overdueRetryMinSec,
    OVERDUE_RETRY_MAX_SEC: RESET_TIMING.overdueRetryMaxSec,
    RATE_LIMIT_WAIT_SEC: RESET_TIMING.rateLimitWaitSec,
    RATE_LIMIT_MAX_WAIT_SEC: RESET_TIMING.rateLimitMaxWaitSec,
    CHECKPOINT_RECHECK_SEC: RESET_TIMING.checkpointRecheckSec,
    ARCHIVE_MAX_BYTES: DOWNLOAD_LIMITS.archiveMaxBytes,
    ARCHIVE_MAX_TIME_SEC: DOWNLOAD_LIMITS.archiveMaxTimeSec,
    API_MAX_BYTES: DOWNLOAD_LIMITS.apiMaxBytes,
    API_MAX_TIME_SEC: DOWNLOAD_LIMITS.apiMaxTimeSec,
    PROBE_MAX_BYTES: DOWNLOAD_LIMITS.probeMaxBytes,
    PROBE_MAX_TIME_SEC: DOWNLOAD_LIMITS.probeMaxTimeSec,
    LOCK_WAIT_SEC: lockWaitSec(checkpoints.length),
    CHECKPOINT_URLS: checkpoints,
    CHECKPOINT_URL_RE: CHECKPOINT_URL_PATTERN,
    RUNTIME: host.runtime,
    // An array, never a command string: the script passes it as argv (no eval).
    COMPOSE_ARGS: shellArray(host.runtime === "compose" ? composeArgs(host.name, `${paths.compose}/docker-compose.yml`) : []),
    EL_CLIENT: specs.execution.client,
    EL_CONTAINER: specs.execution.name,
    EL_VOLUME: specs.execution.data.volume,
    EL_WIPE: specs.execution.data.reset.wipe,
    EL_KEEP: specs.execution.data.reset.keep,
    EL_RPC_URL: `http://127.0.0.1:${host.execution.rpcPort}`,
    CL_CLIENT: specs.consensus.client,
    CL_CONTAINER: specs.consensus.name,
    CL_VOLUME: specs.consensus.data.volume,
    CL_WIPE: specs.consensus.data.reset.wipe,
    CL_KEEP: specs.consensus.data.reset.keep,
    CL_API_URL: `http://127.0.0.1:${host.consensus.beaconApiPort}`,
    VC_CLIENT: vc?.client ?? "",
    VC_CONTAINER: vc?.name ?? "",
    VC_VOLUME: vc?.data.volume ?? "",
    VC_SLASHING_PATHS: vc?.slashingProtection ?? [],
    ...redepositValues(host),
  };
}

/** Empty REDEPOSIT_JS turns the step off (hosts[].validator.redeposit.enabled is false). */
function redepositValues(host: HostConfig): ScriptValues {
  const settings = redepositSettings(host);
  return {
    REDEPOSIT_JS: settings ? redepositProgramPath(host.dataDir, host.name) : "",
    REDEPOSIT_SETTINGS: settings ? JSON.stringify(settings) : "",
    REDEPOSIT_TIMEOUT_SEC: redepositTimeoutSec(host),
    REDEPOSIT_KEYS_DIR: settings?.keysDir ?? "",
    REDEPOSIT_FUNDING_KEY: settings?.fundingKeyFile ?? "",
    REDEPOSIT_RECORD_DIR: settings?.recordDir ?? "",
  };
}
