/** Values rendered into host-scripts/keys-install.sh for one node. Pure. */
import { hostPaths, type ContainerSpec } from "../clients/types";
import type { HostConfig } from "../config/schema";
import type { ScriptValues } from "../hostScripts";
import { KEY_TOOLS, ValidatorClientName } from "./layout";

export const KEYS_SCRIPT = "keys-install.sh";
/** Where the installer lives on the host: `<node dir>/bin/ephemery-keys`; the CLI runs it over SSH. */
export const keysScriptPath = (dataDir: string, node: string) => `${hostPaths(dataDir, node).scripts}/ephemery-keys`;
/** Backups live under `<node dir>/backups/keys/<id>`. */
export const keysBackupsDir = (dataDir: string, node: string) => `${hostPaths(dataDir, node).backups}/keys`;

export function keysScriptValues(host: HostConfig, client: ValidatorClientName, spec: ContainerSpec): ScriptValues {
  const paths = hostPaths(host.dataDir, host.name);
  const tools = KEY_TOOLS[client];
  const keys = host.validator?.keys;
  return {
    NODE: host.name,
    CONTAINER: spec.name,
    // The image the key tools run in (the validator's, unless it lacks them).
    IMAGE: tools.toolImage ? tools.toolImage(spec.image) : spec.image,
    DATA_VOLUME: spec.data.volume,
    KEYS_ROOT: paths.keysRoot,
    TESTNET_ROOT: paths.testnetRoot,
    BACKUPS_DIR: keysBackupsDir(host.dataDir, host.name),
    KEEP_BACKUPS: keys?.backupsToKeep ?? 5,
    KEYMANAGER_PORT: host.validator?.keymanagerPort ?? 5062,
    API_TOKEN_PATH: tools.apiTokenPath,
    SP_EXPORT: tools.exportCmd,
    SP_IMPORT: tools.importCmd,
    PRYSM_WALLET_IMPORT: tools.walletImportCmd ?? "true",
    VERIFY_TIMEOUT_SEC: 180,
    STOP_GRACE_SEC: spec.stopGraceSec,
  };
}
