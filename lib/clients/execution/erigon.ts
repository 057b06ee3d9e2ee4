import { DEFAULT_IMAGES } from "../../config/images";
import { ENGINE_PORT, advertisedAddressArgs, executionSpec, metricsPortOf, shellEntry } from "../common";
import { ExecutionClientModule, PATHS } from "../types";

/** Written in the data directory once `erigon init` of this iteration's genesis succeeded. */
export const ERIGON_INIT_MARKER = ".ephemery-genesis-initialised";

export const erigon: ExecutionClientModule = {
  name: "erigon",
  defaultImage: DEFAULT_IMAGES.erigon,
  defaultMemoryMiB: 8192,
  minDiskGiB: 50,
  build(ctx) {
    const el = ctx.host.execution;
    const metricsPort = metricsPortOf(ctx, "execution");
    const entry = shellEntry(
      [
        // A marker written only after init succeeded: a test of the chaindata directory would take a failed init's
        // partial directory for an initialised one and start erigon without the release's genesis (as geth did,
        // see geth.ts). Under `set -e` a failed init stops the container, and the next start runs init again.
        // The reset wipes the whole data directory but the nodekey, marker included.
        `if [ ! -f ${PATHS.data}/${ERIGON_INIT_MARKER} ]; then erigon init --datadir=${PATHS.data} "$T/genesis.json"; : > ${PATHS.data}/${ERIGON_INIT_MARKER}; fi`,
        [
          "exec erigon",
          `--datadir=${PATHS.data}`,
          '--networkid="$CHAIN_ID"',
          '--bootnodes="$BOOTNODE_ENODE_LIST"',
          // Erigon 3 runs its own CL (Caplin) unless told that an external one drives it.
          "--externalcl",
          `--port=${el.p2pPort}`,
          ...advertisedAddressArgs(ctx, (ip) => `--nat=extip:${ip}`),
          // Erigon serves WebSocket on the HTTP port.
          `--http --http.addr=0.0.0.0 --http.port=${el.rpcPort} --http.api=eth,net,web3 --ws`,
          `--authrpc.addr=0.0.0.0 --authrpc.port=${ENGINE_PORT} --authrpc.vhosts=* --authrpc.jwtsecret=${PATHS.jwt}`,
          `--metrics --metrics.addr=0.0.0.0 --metrics.port=${metricsPort}`,
          '"$@"',
        ].join(" "),
      ],
      el.extraArgs,
    );
    return executionSpec(ctx, erigon, { entry, reset: { wipe: ["."], keep: ["nodekey"] }, metricsPath: "/debug/metrics/prometheus", separateWsPort: false });
  },
};
