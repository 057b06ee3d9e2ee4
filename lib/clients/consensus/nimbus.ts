import { DEFAULT_IMAGES } from "../../config/images";
import { apiPort, DEFAULT_METRICS_PORT, baseSpec, containerName, executionEndpoint, p2pPorts, perEnrFlags, sharedMounts, shellEntry } from "../common";
import { ConsensusClientModule, PATHS } from "../types";

const BIN = "/home/user/nimbus_beacon_node";

export const nimbus: ConsensusClientModule = {
  name: "nimbus",
  defaultImage: DEFAULT_IMAGES.nimbusBeacon,
  defaultMemoryMiB: 4096,
  minDiskGiB: 30,
  build(ctx) {
    const cl = ctx.host.consensus;
    const metricsPort = cl.metricsPort ?? DEFAULT_METRICS_PORT.consensus;
    const url = ctx.checkpointSyncUrls[0];
    const entry = shellEntry(
      [
        perEnrFlags("--bootstrap-node"),
        // Nimbus checkpoint-syncs with a separate command before its first start.
        ...(url ? [`if [ ! -d ${PATHS.data}/db ]; then ${BIN} trustedNodeSync --network="$T" --data-dir=${PATHS.data} --trusted-node-url=${url} --backfill=false; fi`] : []),
        [
          `exec ${BIN}`,
          '--network="$T"',
          `--data-dir=${PATHS.data}`,
          `--el=${executionEndpoint(ctx.node)}`,
          `--jwt-secret=${PATHS.jwt}`,
          `--tcp-port=${cl.p2pPort} --udp-port=${cl.p2pPort}`,
          `--rest --rest-address=0.0.0.0 --rest-port=${cl.beaconApiPort}`,
          `--metrics --metrics-address=0.0.0.0 --metrics-port=${metricsPort}`,
          "--non-interactive",
          '"$@"',
        ].join(" "),
      ],
      cl.extraArgs,
    );
    return baseSpec(ctx, "consensus", "nimbus", {
      image: cl.image ?? nimbus.defaultImage,
      memoryMiB: cl.memoryMiB ?? nimbus.defaultMemoryMiB,
      ...entry,
      ports: [...p2pPorts(cl.p2pPort), apiPort(cl.beaconApiPort, "beacon", cl.exposeBeaconApi)],
      mounts: sharedMounts(ctx, { jwt: true }),
      metricsPort,
      reset: { wipe: ["."], keep: [] },
      dependsOn: [containerName(ctx.node, "execution")],
    });
  },
};
