import { DEFAULT_IMAGES } from "../../config/images";
import { apiPort, DEFAULT_METRICS_PORT, ENGINE_PORT, baseSpec, p2pPorts, privatePort, sharedMounts, shellEntry } from "../common";
import { ExecutionClientModule, PATHS } from "../types";

export const erigon: ExecutionClientModule = {
  name: "erigon",
  defaultImage: DEFAULT_IMAGES.erigon,
  defaultMemoryMiB: 8192,
  minDiskGiB: 50,
  build(ctx) {
    const el = ctx.host.execution;
    const metricsPort = el.metricsPort ?? DEFAULT_METRICS_PORT.execution;
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
    return baseSpec(ctx, "execution", "erigon", {
      image: el.image ?? erigon.defaultImage,
      memoryMiB: el.memoryMiB ?? erigon.defaultMemoryMiB,
      ...entry,
      ports: [...p2pPorts(el.p2pPort), apiPort(el.rpcPort, "rpc", el.exposeRpc), privatePort(ENGINE_PORT, "engine")],
      mounts: sharedMounts(ctx, { jwt: true }),
      metricsPort,
      metricsPath: "/debug/metrics/prometheus",
      reset: { wipe: ["."], keep: ["nodekey"] },
    });
  },
};
