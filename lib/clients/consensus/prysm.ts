import { DEFAULT_IMAGES } from "../../config/images";
import { apiPort, DEFAULT_METRICS_PORT, baseSpec, containerName, executionEndpoint, p2pPorts, sharedMounts } from "../common";
import { ConsensusClientModule, PATHS } from "../types";

export const prysm: ConsensusClientModule = {
  name: "prysm",
  defaultImage: DEFAULT_IMAGES.prysmBeacon,
  defaultMemoryMiB: 6144,
  minDiskGiB: 30,
  build(ctx) {
    const cl = ctx.host.consensus;
    const metricsPort = cl.metricsPort ?? DEFAULT_METRICS_PORT.consensus;
    const url = ctx.checkpointSyncUrls[0];
    const sync = url ? [`--checkpoint-sync-url=${url}`, `--genesis-beacon-api-url=${url}`] : [];
    return baseSpec(ctx, "consensus", "prysm", {
      image: cl.image ?? prysm.defaultImage,
      memoryMiB: cl.memoryMiB ?? prysm.defaultMemoryMiB,
      // The prysm image has no shell: every value comes from files (bootnodes from boot_enr.yaml).
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
        "--accept-terms-of-use",
        ...sync,
        ...cl.extraArgs,
      ],
      ports: [...p2pPorts(cl.p2pPort, { quicPort: cl.quicPort }), apiPort(cl.beaconApiPort, "beacon", cl.exposeBeaconApi)],
      mounts: sharedMounts(ctx, { jwt: true }),
      metricsPort,
      reset: { wipe: ["."], keep: [] },
      dependsOn: [containerName(ctx.node, "execution")],
    });
  },
};
