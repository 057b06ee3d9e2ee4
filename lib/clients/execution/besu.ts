import { DEFAULT_IMAGES } from "../../config/images";
import { apiPort, DEFAULT_METRICS_PORT, ENGINE_PORT, baseSpec, p2pPorts, privatePort, sharedMounts, shellEntry } from "../common";
import { ExecutionClientModule, PATHS } from "../types";

export const besu: ExecutionClientModule = {
  name: "besu",
  defaultImage: DEFAULT_IMAGES.besu,
  defaultMemoryMiB: 8192,
  minDiskGiB: 50,
  build(ctx) {
    const el = ctx.host.execution;
    const metricsPort = el.metricsPort ?? DEFAULT_METRICS_PORT.execution;
    const entry = shellEntry(
      [
        [
          "exec /opt/besu/bin/besu",
          '--genesis-file="$T/besu.json"',
          '--bootnodes="$BOOTNODE_ENODE_LIST"',
          `--data-path=${PATHS.data}`,
          "--sync-mode=FULL",
          `--p2p-port=${el.p2pPort}`,
          `--rpc-http-enabled --rpc-http-host=0.0.0.0 --rpc-http-port=${el.rpcPort} --host-allowlist=*`,
          `--rpc-ws-enabled --rpc-ws-host=0.0.0.0 --rpc-ws-port=${el.wsPort}`,
          `--engine-rpc-port=${ENGINE_PORT} --engine-host-allowlist=* --engine-jwt-secret=${PATHS.jwt}`,
          `--metrics-enabled --metrics-host=0.0.0.0 --metrics-port=${metricsPort}`,
          '"$@"',
        ].join(" "),
      ],
      el.extraArgs,
    );
    return baseSpec(ctx, "execution", "besu", {
      image: el.image ?? besu.defaultImage,
      memoryMiB: el.memoryMiB ?? besu.defaultMemoryMiB,
      ...entry,
      ports: [
        ...p2pPorts(el.p2pPort),
        apiPort(el.rpcPort, "rpc", el.exposeRpc),
        apiPort(el.wsPort, "ws", el.exposeRpc),
        privatePort(ENGINE_PORT, "engine"),
      ],
      mounts: sharedMounts(ctx, { jwt: true }),
      metricsPort,
      reset: { wipe: ["."], keep: ["key"] },
    });
  },
};
