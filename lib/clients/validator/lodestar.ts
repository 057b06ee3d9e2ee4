import { DEFAULT_IMAGES } from "../../config/images";
import { beaconEndpoint, COPY_KEYS, KEYS_IN_DATA, metricsPortOf, shellEntry, validatorSpec } from "../common";
import { LODESTAR_BIN } from "../consensus/lodestar";
import { PATHS, ValidatorClientModule } from "../types";

export const lodestarValidator: ValidatorClientModule = {
  name: "lodestar",
  defaultImage: DEFAULT_IMAGES.lodestar,
  defaultMemoryMiB: 2048,
  build(ctx) {
    const vc = ctx.validator;
    const metricsPort = metricsPortOf(ctx, "validator");
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
    return validatorSpec(ctx, lodestarValidator, { entry, slashingProtection: ["validator-db"] });
  },
};
