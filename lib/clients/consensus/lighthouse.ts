import { DEFAULT_IMAGES } from "../../config/images";
import { apiPort, DEFAULT_METRICS_PORT, baseSpec, containerName, executionEndpoint, p2pPorts, sharedMounts } from "../common";
import { ConsensusClientModule, PATHS } from "../types";

export const lighthouse: ConsensusClientModule = {
  name: "lighthouse",
  defaultImage: DEFAULT_IMAGES.lighthouse,
  defaultMemoryMiB: 6144,
  minDiskGiB: 30,
  build(ctx) {
    const cl = ctx.host.consensus;
    const metricsPort = cl.metricsPort ?? DEFAULT_METRICS_PORT.consensus;
    const sync = ctx.checkpointSyncUrls.length > 0
      ? [`--checkpoint-sync-url=${ctx.checkpointSyncUrls[0]}`]
      : ["--allow-insecure-genesis-sync"];
    return baseSpec(ctx, "consensus", "lighthouse", {
      image: cl.image ?? lighthouse.defaultImage,
      memoryMiB: cl.memoryMiB ?? lighthouse.defaultMemoryMiB,
      // Lighthouse reads config.yaml, genesis.ssz and boot_enr.yaml from the testnet dir itself.
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
      ports: [...p2pPorts(cl.p2pPort, { quicPort: cl.quicPort }), apiPort(cl.beaconApiPort, "beacon", cl.exposeBeaconApi)],
      mounts: sharedMounts(ctx, { jwt: true }),
      metricsPort,
      reset: { wipe: ["beacon"], keep: ["beacon/network"] },
      dependsOn: [containerName(ctx.node, "execution")],
    });
  },
};
