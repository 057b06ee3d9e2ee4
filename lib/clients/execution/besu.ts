import { DEFAULT_IMAGES } from "../../config/images";
import { ENGINE_PORT, advertisedAddressArgs, executionSpec, metricsPortOf, shellEntry } from "../common";
import { ExecutionClientModule, PATHS } from "../types";

export const besu: ExecutionClientModule = {
  name: "besu",
  defaultImage: DEFAULT_IMAGES.besu,
  defaultMemoryMiB: 8192,
  minDiskGiB: 50,
  build(ctx) {
    const el = ctx.host.execution;
    const metricsPort = metricsPortOf(ctx, "execution");
    const entry = shellEntry(
      [
        // Releases of genesis generator 6.x have no besu.json; besu reads a geth-style genesis.json as well.
        'GENESIS="$T/besu.json"; [ -f "$GENESIS" ] || GENESIS="$T/genesis.json"',
        [
          "exec /opt/besu/bin/besu",
          '--genesis-file="$GENESIS"',
          '--bootnodes="$BOOTNODE_ENODE_LIST"',
          `--data-path=${PATHS.data}`,
          "--sync-mode=FULL",
          `--p2p-port=${el.p2pPort}`,
          ...advertisedAddressArgs(ctx, (ip) => `--p2p-host=${ip}`),
          `--rpc-http-enabled --rpc-http-host=0.0.0.0 --rpc-http-port=${el.rpcPort} --host-allowlist=*`,
          `--rpc-ws-enabled --rpc-ws-host=0.0.0.0 --rpc-ws-port=${el.wsPort}`,
          `--engine-rpc-port=${ENGINE_PORT} --engine-host-allowlist=* --engine-jwt-secret=${PATHS.jwt}`,
          `--metrics-enabled --metrics-host=0.0.0.0 --metrics-port=${metricsPort}`,
          '"$@"',
        ].join(" "),
      ],
      el.extraArgs,
    );
    return executionSpec(ctx, besu, { entry, reset: { wipe: ["."], keep: ["key"] } });
  },
};
