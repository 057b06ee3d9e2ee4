import { DEFAULT_IMAGES } from "../../config/images";
import { consensusSpec, executionEndpoint, metricsPortOf, shellEntry } from "../common";
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
    const url = ctx.checkpointSyncUrls[0];
    const entry = shellEntry(
      [
        [
          `exec ${LODESTAR_BIN} beacon`,
          '--paramsFile="$T/config.yaml"',
          '--genesisStateFile="$T/genesis.ssz"',
          '--bootnodes="$BOOTNODE_ENR_LIST"',
          "--eth1.depositContractDeployBlock=0",
          `--dataDir=${PATHS.data}`,
          `--execution.urls=${executionEndpoint(ctx.node)}`,
          `--jwt-secret=${PATHS.jwt}`,
          `--port=${cl.p2pPort}`,
          `--rest --rest.address=0.0.0.0 --rest.port=${cl.beaconApiPort}`,
          `--metrics --metrics.address=0.0.0.0 --metrics.port=${metricsPort}`,
          ...(url ? [`--checkpointSyncUrl=${url}`] : []),
          '"$@"',
        ].join(" "),
      ],
      cl.extraArgs,
    );
    return consensusSpec(ctx, lodestar, { entry: entry, reset: { wipe: ["chain-db"], keep: [] } });
  },
};
