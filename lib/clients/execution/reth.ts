import { DEFAULT_IMAGES } from "../../config/images";
import { apiPort, DEFAULT_METRICS_PORT, ENGINE_PORT, baseSpec, p2pPorts, privatePort, sharedMounts, shellEntry } from "../common";
import { ExecutionClientModule, PATHS } from "../types";

export const reth: ExecutionClientModule = {
  name: "reth",
  defaultImage: DEFAULT_IMAGES.reth,
  defaultMemoryMiB: 8192,
  minDiskGiB: 50,
  build(ctx) {
    const el = ctx.host.execution;
    const metricsPort = el.metricsPort ?? DEFAULT_METRICS_PORT.execution;
    const entry = shellEntry(
      [
        [
          "exec reth node",
          '--chain="$T/genesis.json"',
          '--bootnodes="$BOOTNODE_ENODE_LIST"',
          `--datadir=${PATHS.data}`,
          `--port=${el.p2pPort} --discovery.port=${el.p2pPort}`,
          `--http --http.addr=0.0.0.0 --http.port=${el.rpcPort} --http.api=eth,net,web3`,
          `--ws --ws.addr=0.0.0.0 --ws.port=${el.wsPort} --ws.api=eth,net,web3`,
          `--authrpc.addr=0.0.0.0 --authrpc.port=${ENGINE_PORT} --authrpc.jwtsecret=${PATHS.jwt}`,
          `--metrics=0.0.0.0:${metricsPort}`,
          '"$@"',
        ].join(" "),
      ],
      el.extraArgs,
    );
    return baseSpec(ctx, "execution", "reth", {
      image: el.image ?? reth.defaultImage,
      memoryMiB: el.memoryMiB ?? reth.defaultMemoryMiB,
      ...entry,
      ports: [
        ...p2pPorts(el.p2pPort),
        apiPort(el.rpcPort, "rpc", el.exposeRpc),
        apiPort(el.wsPort, "ws", el.exposeRpc),
        privatePort(ENGINE_PORT, "engine"),
      ],
      mounts: sharedMounts(ctx, { jwt: true }),
      metricsPort,
      reset: { wipe: ["."], keep: ["discovery-secret"] },
    });
  },
};
