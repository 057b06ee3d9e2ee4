import { DEFAULT_IMAGES } from "../../config/images";
import { ENGINE_PORT, advertisedAddressArgs, executionSpec, metricsPortOf, shellEntry } from "../common";
import { ExecutionClientModule, PATHS } from "../types";

export const geth: ExecutionClientModule = {
  name: "geth",
  defaultImage: DEFAULT_IMAGES.geth,
  defaultMemoryMiB: 8192,
  minDiskGiB: 50,
  build(ctx) {
    const el = ctx.host.execution;
    const metricsPort = metricsPortOf(ctx, "execution");
    const entry = shellEntry(
      [
        // Init at every start: on a wiped dir (first start, after a reset) it writes this iteration's genesis; on an
        // initialised one it is a no-op; a chain of another genesis makes it fail loudly. A test of the directory
        // instead let a failed init (partial chaindata) run geth without the release's genesis (geth v1.16.7, tried).
        `geth init --datadir=${PATHS.data} --state.scheme=path "$T/genesis.json"`,
        // No --networkid: geth takes the network id from genesis.json's chain id (eth/backend.go) and warns on the flag.
        [
          "exec geth",
          `--datadir=${PATHS.data}`,
          '--bootnodes="$BOOTNODE_ENODE_LIST"',
          "--syncmode=full",
          `--port=${el.p2pPort}`,
          `--discovery.port=${el.p2pPort}`,
          ...advertisedAddressArgs(ctx, (ip) => `--nat=extip:${ip}`),
          "--http --http.addr=0.0.0.0",
          `--http.port=${el.rpcPort}`,
          "--http.vhosts=* --http.api=eth,net,web3",
          "--ws --ws.addr=0.0.0.0",
          `--ws.port=${el.wsPort}`,
          "--ws.api=eth,net,web3",
          `--authrpc.addr=0.0.0.0 --authrpc.port=${ENGINE_PORT} --authrpc.vhosts=*`,
          `--authrpc.jwtsecret=${PATHS.jwt}`,
          `--metrics --metrics.addr=0.0.0.0 --metrics.port=${metricsPort}`,
          '"$@"',
        ].join(" "),
      ],
      el.extraArgs,
    );
    return executionSpec(ctx, geth, { entry, reset: { wipe: ["geth"], keep: ["geth/nodekey"] }, metricsPath: "/debug/metrics/prometheus" });
  },
};
