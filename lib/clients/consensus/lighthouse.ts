import { DEFAULT_IMAGES } from "../../config/images";
import { consensusSpec, executionEndpoint, metricsPortOf } from "../common";
import { ConsensusClientModule, PATHS } from "../types";

export const lighthouse: ConsensusClientModule = {
  name: "lighthouse",
  defaultImage: DEFAULT_IMAGES.lighthouse,
  defaultMemoryMiB: 6144,
  minDiskGiB: 30,
  build(ctx) {
    const cl = ctx.host.consensus;
    const metricsPort = metricsPortOf(ctx, "consensus");
    const sync = ctx.checkpointSyncUrls.length > 0
      ? [`--checkpoint-sync-url=${ctx.checkpointSyncUrls[0]}`]
      : ["--allow-insecure-genesis-sync"];
    // Lighthouse reads config.yaml, genesis.ssz and boot_enr.yaml from the testnet dir itself.
    const entry = {
      entrypoint: ["lighthouse"],
      command: [
        "beacon_node",
        `--testnet-dir=${PATHS.testnet}`,
        `--datadir=${PATHS.data}`,
        `--execution-endpoint=${executionEndpoint(ctx.node)}`,
        `--execution-jwt=${PATHS.jwt}`,
        `--port=${cl.p2pPort}`,
        `--quic-port=${cl.quicPort}`,
        "--http",
        "--http-address=0.0.0.0",
        `--http-port=${cl.beaconApiPort}`,
        "--metrics",
        "--metrics-address=0.0.0.0",
        `--metrics-port=${metricsPort}`,
        "--disable-upnp",
        ...sync,
        ...cl.extraArgs,
      ],
    };
    return consensusSpec(ctx, lighthouse, { entry, reset: { wipe: ["beacon"], keep: ["beacon/network"] }, quic: true });
  },
};
