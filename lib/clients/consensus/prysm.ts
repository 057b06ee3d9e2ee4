import { DEFAULT_IMAGES } from "../../config/images";
import { consensusSpec, executionEndpoint, metricsPortOf } from "../common";
import { ConsensusClientModule, PATHS } from "../types";

export const prysm: ConsensusClientModule = {
  name: "prysm",
  defaultImage: DEFAULT_IMAGES.prysmBeacon,
  defaultMemoryMiB: 6144,
  minDiskGiB: 30,
  build(ctx) {
    const cl = ctx.host.consensus;
    const metricsPort = metricsPortOf(ctx, "consensus");
    const url = ctx.checkpointSyncUrls[0];
    const sync = url ? [`--checkpoint-sync-url=${url}`, `--genesis-beacon-api-url=${url}`] : [];
    // Every value comes from files (bootnodes from boot_enr.yaml, which prysm reads when the flag names a .yaml).
    // --p2p-static-id saves the generated key to <datadir>/network-keys and reuses it: the peer id survives
    // restarts, and the reset keeps that file (beacon-chain/p2p/utils.go, prysm v7.0.0).
    const entry = {
      entrypoint: ["/app/cmd/beacon-chain/beacon-chain"],
      command: [
        `--datadir=${PATHS.data}`,
        `--chain-config-file=${PATHS.testnet}/config.yaml`,
        `--genesis-state=${PATHS.testnet}/genesis.ssz`,
        "--contract-deployment-block=0",
        `--bootstrap-node=${PATHS.testnet}/boot_enr.yaml`,
        `--execution-endpoint=${executionEndpoint(ctx.node)}`,
        `--jwt-secret=${PATHS.jwt}`,
        `--p2p-tcp-port=${cl.p2pPort}`,
        `--p2p-udp-port=${cl.p2pPort}`,
        `--p2p-quic-port=${cl.quicPort}`,
        "--http-host=0.0.0.0",
        `--http-port=${cl.beaconApiPort}`,
        "--monitoring-host=0.0.0.0",
        `--monitoring-port=${metricsPort}`,
        "--p2p-static-id",
        "--accept-terms-of-use",
        ...sync,
        ...cl.extraArgs,
      ],
    };
    return consensusSpec(ctx, prysm, { entry, reset: { wipe: ["."], keep: ["network-keys"] }, quic: true });
  },
};
