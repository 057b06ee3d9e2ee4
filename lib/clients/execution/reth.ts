import { DEFAULT_IMAGES } from "../../config/images";
import { ENGINE_PORT, advertisedAddressArgs, executionSpec, metricsPortOf, shellEntry } from "../common";
import { ExecutionClientModule, PATHS } from "../types";

export const reth: ExecutionClientModule = {
  name: "reth",
  defaultImage: DEFAULT_IMAGES.reth,
  defaultMemoryMiB: 8192,
  minDiskGiB: 50,
  build(ctx) {
    const el = ctx.host.execution;
    const metricsPort = metricsPortOf(ctx, "execution");
    const entry = shellEntry(
      [
        [
          "exec reth node",
          '--chain="$T/genesis.json"',
          '--bootnodes="$BOOTNODE_ENODE_LIST"',
          `--datadir=${PATHS.data}`,
          `--port=${el.p2pPort} --discovery.port=${el.p2pPort}`,
          ...advertisedAddressArgs(ctx, (ip) => `--nat=extip:${ip}`),
          `--http --http.addr=0.0.0.0 --http.port=${el.rpcPort} --http.api=eth,net,web3`,
          `--ws --ws.addr=0.0.0.0 --ws.port=${el.wsPort} --ws.api=eth,net,web3`,
          `--authrpc.addr=0.0.0.0 --authrpc.port=${ENGINE_PORT} --authrpc.jwtsecret=${PATHS.jwt}`,
          `--metrics=0.0.0.0:${metricsPort}`,
          '"$@"',
        ].join(" "),
      ],
      el.extraArgs,
    );
    return executionSpec(ctx, reth, { entry, reset: { wipe: ["."], keep: ["discovery-secret"] } });
  },
};
