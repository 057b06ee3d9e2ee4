import { DEFAULT_IMAGES } from "../../config/images";
import { ENGINE_PORT, executionSpec, metricsPortOf, shellEntry } from "../common";
import { ExecutionClientModule, PATHS } from "../types";

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
        `if [ ! -d ${PATHS.data}/chaindata ]; then erigon init --datadir=${PATHS.data} "$T/genesis.json"; fi`,
        [
          "exec erigon",
          `--datadir=${PATHS.data}`,
          '--networkid="$CHAIN_ID"',
          '--bootnodes="$BOOTNODE_ENODE_LIST"',
          // Erigon 3 runs its own CL (Caplin) unless told that an external one drives it.
          "--externalcl",
          `--port=${el.p2pPort}`,
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
