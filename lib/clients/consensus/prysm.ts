import { DEFAULT_IMAGES } from "../../config/images";
import { PRYSM_GRPC_PORT, advertisedAddressArgs, checkpointArgs, consensusSpec, executionEndpoint, metricsPortOf, privatePort, readCheckpointUrl, shellEntry } from "../common";
import { ConsensusClientModule, PATHS } from "../types";

export const prysm: ConsensusClientModule = {
  name: "prysm",
  defaultImage: DEFAULT_IMAGES.prysmBeacon,
  defaultMemoryMiB: 6144,
  minDiskGiB: 30,
  build(ctx) {
    const cl = ctx.host.consensus;
    const metricsPort = metricsPortOf(ctx, "consensus");
    // Bootnodes come from boot_enr.yaml, which --bootstrap-node accepts as a file. --p2p-static-id saves the
    // generated key to <datadir>/network-keys and reuses it: the peer id survives restarts, and the reset keeps that
    // file (beacon-chain/p2p/utils.go, prysm v7.0.0).
    const entry = shellEntry(
      [
        readCheckpointUrl(),
        checkpointArgs(["--checkpoint-sync-url", "--genesis-beacon-api-url"]),
        [
          "exec /app/cmd/beacon-chain/beacon-chain",
          `--datadir=${PATHS.data}`,
          '--chain-config-file="$T/config.yaml"',
          '--genesis-state="$T/genesis.ssz"',
          "--contract-deployment-block=0",
          '--bootstrap-node="$T/boot_enr.yaml"',
          `--execution-endpoint=${executionEndpoint(ctx.node)}`,
          `--jwt-secret=${PATHS.jwt}`,
          `--p2p-tcp-port=${cl.p2pPort}`,
          `--p2p-udp-port=${cl.p2pPort}`,
          ...advertisedAddressArgs(ctx, (ip) => `--p2p-host-ip=${ip}`),
          `--p2p-quic-port=${cl.quicPort}`,
          "--http-host=0.0.0.0",
          `--http-port=${cl.beaconApiPort}`,
          // gRPC for the prysm validator client, on the container network (the default host is 127.0.0.1).
          "--rpc-host=0.0.0.0",
          `--rpc-port=${PRYSM_GRPC_PORT}`,
          "--monitoring-host=0.0.0.0",
          `--monitoring-port=${metricsPort}`,
          "--p2p-static-id",
          "--accept-terms-of-use",
          '"$@"',
        ].join(" "),
      ],
      cl.extraArgs,
      { nodevars: false },
    );
    return consensusSpec(ctx, prysm, { entry, reset: { wipe: ["."], keep: ["network-keys"] }, quic: true, privatePorts: [privatePort(PRYSM_GRPC_PORT, "beacon")] });
  },
};
