import { DEFAULT_IMAGES } from "../../config/images";
import { apiPort, beaconEndpoint, baseSpec, containerName, COPY_KEYS, DEFAULT_METRICS_PORT, KEYS_IN_DATA, keysMount, sharedMounts, shellEntry } from "../common";
import { LODESTAR_BIN } from "../consensus/lodestar";
import { PATHS, ValidatorClientModule } from "../types";

export const lodestarValidator: ValidatorClientModule = {
  name: "lodestar",
  defaultImage: DEFAULT_IMAGES.lodestar,
  defaultMemoryMiB: 2048,
  build(ctx) {
    const vc = ctx.validator;
    const metricsPort = vc.metricsPort ?? DEFAULT_METRICS_PORT.validator;
    const entry = shellEntry(
      [
        COPY_KEYS,
        [
          `exec ${LODESTAR_BIN} validator`,
          '--paramsFile="$T/config.yaml"',
          `--dataDir=${PATHS.data}`,
          `--beaconNodes=${beaconEndpoint(ctx)}`,
          // Lodestar's own layout: keystores/<0xpubkey>/voting-keystore.json and secrets/<0xpubkey>.
          `--keystoresDir=${KEYS_IN_DATA}/lodestar/keystores --secretsDir=${KEYS_IN_DATA}/lodestar/secrets`,
          `--suggestedFeeRecipient=${vc.feeRecipient}`,
          `--graffiti='${vc.graffiti}'`,
          ...(vc.doppelganger ? ["--doppelgangerProtection"] : []),
          `--keymanager --keymanager.address=0.0.0.0 --keymanager.port=${vc.keymanagerPort}`,
          `--metrics --metrics.address=0.0.0.0 --metrics.port=${metricsPort}`,
          '"$@"',
        ].join(" "),
      ],
      vc.extraArgs,
    );
    return baseSpec(ctx, "validator", "lodestar", {
      image: vc.image ?? lodestarValidator.defaultImage,
      memoryMiB: vc.memoryMiB ?? lodestarValidator.defaultMemoryMiB,
      ...entry,
      ports: [apiPort(vc.keymanagerPort, "keymanager")],
      mounts: [...sharedMounts(ctx, { jwt: false }), keysMount(ctx)],
      metricsPort,
      stopGraceSec: 30,
      slashingProtection: ["validator-db"],
      dependsOn: [containerName(ctx.node, "consensus")],
    });
  },
};
