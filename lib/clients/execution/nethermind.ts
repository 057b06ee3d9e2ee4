import { DEFAULT_IMAGES } from "../../config/images";
import { ENGINE_PORT, advertisedAddressArgs, executionSpec, metricsPortOf, shellEntry } from "../common";
import { ExecutionClientModule, PATHS } from "../types";

export const nethermind: ExecutionClientModule = {
  name: "nethermind",
  defaultImage: DEFAULT_IMAGES.nethermind,
  defaultMemoryMiB: 8192,
  minDiskGiB: 50,
  build(ctx) {
    const el = ctx.host.execution;
    const metricsPort = metricsPortOf(ctx, "execution");
    const entry = shellEntry(
      [
        // Releases of genesis generator 6.x have no chainspec.json; nethermind detects a geth-style genesis.json.
        'SPEC="$T/chainspec.json"; [ -f "$SPEC" ] || SPEC="$T/genesis.json"',
        [
          "exec /nethermind/nethermind",
          "--config=none",
          '--Init.ChainSpecPath="$SPEC"',
          '--Init.GenesisHash="$GENESIS_BLOCK"',
          // Network.Bootnodes is the documented item (discovery and the peer manager read it); Discovery.* is hidden from the docs.
          '--Network.Bootnodes="$BOOTNODE_ENODE_LIST"',
          `--data-dir=${PATHS.data}`,
          `--Network.P2PPort=${el.p2pPort} --Network.DiscoveryPort=${el.p2pPort}`,
          ...advertisedAddressArgs(ctx, (ip) => `--Network.ExternalIp=${ip}`),
          "--JsonRpc.Enabled=true --JsonRpc.Host=0.0.0.0",
          `--JsonRpc.Port=${el.rpcPort} --JsonRpc.WebSocketsPort=${el.wsPort}`,
          `--JsonRpc.EngineHost=0.0.0.0 --JsonRpc.EnginePort=${ENGINE_PORT}`,
          `--JsonRpc.JwtSecretFile=${PATHS.jwt}`,
          `--Metrics.Enabled=true --Metrics.ExposeHost=0.0.0.0 --Metrics.ExposePort=${metricsPort}`,
          '"$@"',
        ].join(" "),
      ],
      el.extraArgs,
    );
    return executionSpec(ctx, nethermind, { entry, reset: { wipe: ["."], keep: ["keystore/node.key.plain"] } });
  },
};
