import { DEFAULT_IMAGES } from "../../config/images";
import { advertisedAddressArgs, checkpointArgs, consensusSpec, executionEndpoint, metricsPortOf, readCheckpointUrl, shellEntry } from "../common";
import { ConsensusClientModule, PATHS } from "../types";

export const LODESTAR_BIN = "node /usr/app/packages/cli/bin/lodestar";

export const lodestar: ConsensusClientModule = {
  name: "lodestar",
  defaultImage: DEFAULT_IMAGES.lodestar,
  defaultMemoryMiB: 6144,
  minDiskGiB: 30,
  build(ctx) {
    const cl = ctx.host.consensus;
    const metricsPort = metricsPortOf(ctx, "consensus");
    const entry = shellEntry(
      [
        // CONFIG_NAME in config.yaml makes lodestar treat the chain as its built-in "ephemery" network and fetch
        // bootnodes from ephemery.dev at start (packages/cli/src/networks/index.ts getNetworkBootnodes); this
        // host takes them from the release, so it must not depend on that fetch.
        "export SKIP_FETCH_NETWORK_BOOTNODES=true",
        readCheckpointUrl(),
        checkpointArgs(["--checkpointSyncUrl"]),
        [
          `exec ${LODESTAR_BIN} beacon`,
          '--paramsFile="$T/config.yaml"',
          '--genesisStateFile="$T/genesis.ssz"',
          '--bootnodes="$BOOTNODE_ENR_LIST"',
          `--dataDir=${PATHS.data}`,
          `--execution.urls=${executionEndpoint(ctx.node)}`,
          `--jwt-secret=${PATHS.jwt}`,
          `--port=${cl.p2pPort}`,
          ...advertisedAddressArgs(ctx, (ip) => `--enr.ip=${ip}`),
          `--rest --rest.address=0.0.0.0 --rest.port=${cl.beaconApiPort}`,
          `--metrics --metrics.address=0.0.0.0 --metrics.port=${metricsPort}`,
          '"$@"',
        ].join(" "),
      ],
      cl.extraArgs,
    );
    return consensusSpec(ctx, lodestar, { entry, reset: { wipe: ["chain-db"], keep: [] } });
  },
};
