import { DEFAULT_IMAGES } from "../../config/images";
import { advertisedAddressArgs, consensusSpec, executionEndpoint, metricsPortOf, perEnrFlags, readCheckpointUrl, shellEntry } from "../common";
import { ConsensusClientModule, PATHS } from "../types";

const BIN = "/home/user/nimbus_beacon_node";
/** A provider that stalls must not hold the node forever (the image is Debian: coreutils `timeout`). */
const TRUSTED_NODE_SYNC_TIMEOUT_SEC = 900;

export const nimbus: ConsensusClientModule = {
  name: "nimbus",
  defaultImage: DEFAULT_IMAGES.nimbusBeacon,
  defaultMemoryMiB: 4096,
  minDiskGiB: 30,
  build(ctx) {
    const cl = ctx.host.consensus;
    const metricsPort = metricsPortOf(ctx, "consensus");
    const entry = shellEntry(
      [
        perEnrFlags("--bootstrap-node"),
        // Nimbus checkpoint-syncs with a separate command before its first start.
        readCheckpointUrl(),
        // A provider that fails or stalls must not crash-loop the node: drop the partial db, sync from genesis.
        [
          `if [ -n "$CHECKPOINT_URL" ] && [ ! -d ${PATHS.data}/db ]; then`,
          `if ! timeout ${TRUSTED_NODE_SYNC_TIMEOUT_SEC} ${BIN} trustedNodeSync --network="$T" --data-dir=${PATHS.data} --trusted-node-url="$CHECKPOINT_URL" --backfill=false; then`,
          `echo "ephemery: trustedNodeSync from $CHECKPOINT_URL failed; syncing from genesis" >&2; rm -rf ${PATHS.data}/db; fi; fi`,
        ].join(" "),
        [
          `exec ${BIN}`,
          '--network="$T"',
          `--data-dir=${PATHS.data}`,
          `--el=${executionEndpoint(ctx.node)}`,
          `--jwt-secret=${PATHS.jwt}`,
          `--tcp-port=${cl.p2pPort} --udp-port=${cl.p2pPort}`,
          ...advertisedAddressArgs(ctx, (ip) => `--nat=extip:${ip}`),
          `--rest --rest-address=0.0.0.0 --rest-port=${cl.beaconApiPort}`,
          `--metrics --metrics-address=0.0.0.0 --metrics-port=${metricsPort}`,
          "--non-interactive",
          '"$@"',
        ].join(" "),
      ],
      cl.extraArgs,
    );
    return consensusSpec(ctx, nimbus, { entry, reset: { wipe: ["."], keep: [] } });
  },
};
