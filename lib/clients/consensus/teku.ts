import { DEFAULT_IMAGES } from "../../config/images";
import { advertisedAddressArgs, checkpointArgs, consensusSpec, executionEndpoint, metricsPortOf, readCheckpointUrl, shellEntry } from "../common";
import { ConsensusClientModule, PATHS } from "../types";

export const teku: ConsensusClientModule = {
  name: "teku",
  defaultImage: DEFAULT_IMAGES.teku,
  defaultMemoryMiB: 6144,
  minDiskGiB: 30,
  build(ctx) {
    const cl = ctx.host.consensus;
    const metricsPort = metricsPortOf(ctx, "consensus");
    const entry = shellEntry(
      [
        readCheckpointUrl(),
        checkpointArgs(["--checkpoint-sync-url"], ["--ignore-weak-subjectivity-period-enabled"]),
        [
          "exec /opt/teku/bin/teku",
          '--network="$T/config.yaml"',
          '--genesis-state="$T/genesis.ssz"',
          '--p2p-discovery-bootnodes="$BOOTNODE_ENR_LIST"',
          `--data-path=${PATHS.data}`,
          `--ee-endpoint=${executionEndpoint(ctx.node)}`,
          `--ee-jwt-secret-file=${PATHS.jwt}`,
          `--p2p-port=${cl.p2pPort}`,
          ...advertisedAddressArgs(ctx, (ip) => `--p2p-advertised-ip=${ip}`),
          `--rest-api-enabled=true --rest-api-interface=0.0.0.0 --rest-api-port=${cl.beaconApiPort} --rest-api-host-allowlist=*`,
          `--metrics-enabled=true --metrics-interface=0.0.0.0 --metrics-port=${metricsPort} --metrics-host-allowlist=*`,
          '"$@"',
        ].join(" "),
      ],
      cl.extraArgs,
    );
    return consensusSpec(ctx, teku, { entry: entry, reset: { wipe: ["beacon"], keep: ["beacon/kvstore"] } });
  },
};
