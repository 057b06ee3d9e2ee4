/** The values the host-side reset program is rendered with, derived from a node's config and specs. Pure. */
import { NodeSpecs } from "../clients";
import { hostPaths } from "../clients/types";
import { HostConfig, NetworkConfig } from "../config/schema";
import { composeCommand } from "../composeCommand";
import { ScriptValues } from "../hostScripts";

export const RESET_SCRIPT = "ephemery-reset.sh";

export function resetScriptValues(host: HostConfig, network: NetworkConfig, specs: NodeSpecs): ScriptValues {
  const paths = hostPaths(host.dataDir, host.name);
  const vc = specs.validator;
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
    RUNTIME: host.runtime,
    COMPOSE: host.runtime === "compose" ? composeCommand(host.name, `${paths.compose}/docker-compose.yml`) : "",
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
  };
}
