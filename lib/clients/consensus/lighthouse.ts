import { DEFAULT_IMAGES } from "../../config/images";
import { advertisedAddressArgs, checkpointArgs, consensusSpec, executionEndpoint, metricsPortOf, readCheckpointUrl, shellEntry } from "../common";
import { ConsensusClientModule, PATHS } from "../types";

export const lighthouse: ConsensusClientModule = {
  name: "lighthouse",
  defaultImage: DEFAULT_IMAGES.lighthouse,
  defaultMemoryMiB: 6144,
  minDiskGiB: 30,
  build(ctx) {
    const cl = ctx.host.consensus;
    const metricsPort = metricsPortOf(ctx, "consensus");
    // Lighthouse reads config.yaml, genesis.ssz and boot_enr.yaml from the testnet dir itself.
    const entry = shellEntry(
      [
        readCheckpointUrl(),
        checkpointArgs(["--checkpoint-sync-url"], ["--allow-insecure-genesis-sync"]),
        [
          "exec lighthouse beacon_node",
          `--testnet-dir=${PATHS.testnet}`,
          `--datadir=${PATHS.data}`,
          `--execution-endpoint=${executionEndpoint(ctx.node)}`,
          `--execution-jwt=${PATHS.jwt}`,
          `--port=${cl.p2pPort}`,
          ...advertisedAddressArgs(ctx, (ip) => `--enr-address=${ip}`),
          `--quic-port=${cl.quicPort}`,
          "--http --http-address=0.0.0.0",
          `--http-port=${cl.beaconApiPort}`,
          "--metrics --metrics-address=0.0.0.0",
          `--metrics-port=${metricsPort}`,
          "--disable-upnp",
          '"$@"',
        ].join(" "),
      ],
      cl.extraArgs,
      { nodevars: false },
    );
    return consensusSpec(ctx, lighthouse, { entry, reset: { wipe: ["beacon"], keep: ["beacon/network"] }, quic: true });
  },
};
