import { DEFAULT_IMAGES } from "../../config/images";
import { beaconEndpoint, createTokenFile, KEYS_IN_DATA, metricsPortOf, shellEntry, validatorSpec } from "../common";
import { PATHS, ValidatorClientModule } from "../types";

/** The keymanager API token, in the validator's data volume (KEY_TOOLS.nimbus.apiTokenPath reads it). */
export const NIMBUS_KEYMANAGER_TOKEN = `${PATHS.data}/keymanager-token`;

export const nimbusValidator: ValidatorClientModule = {
  name: "nimbus",
  defaultImage: DEFAULT_IMAGES.nimbusValidator,
  defaultMemoryMiB: 1024,
  build(ctx) {
    const vc = ctx.validator;
    const metricsPort = metricsPortOf(ctx, "validator");
    const entry = shellEntry(
      [
        // Nimbus keeps its slashing database inside the validators dir: refresh the key folders, keep the database.
        `mkdir -p ${PATHS.data}/validators`,
        `find ${PATHS.data}/validators -mindepth 1 -maxdepth 1 -type d -name '0x*' -exec rm -rf {} +`,
        `cp -Rp ${PATHS.keys}/nimbus/validators/. ${PATHS.data}/validators/`,
        `rm -rf ${KEYS_IN_DATA} && mkdir -p ${KEYS_IN_DATA} && cp -Rp ${PATHS.keys}/nimbus/secrets ${KEYS_IN_DATA}/secrets`,
        // --keymanager-token-file must name an existing, non-empty file: made once, random, only in this volume.
        createTokenFile(NIMBUS_KEYMANAGER_TOKEN),
        [
          "exec /home/user/nimbus_validator_client",
          `--data-dir=${PATHS.data}`,
          `--validators-dir=${PATHS.data}/validators`,
          `--secrets-dir=${KEYS_IN_DATA}/secrets`,
          `--beacon-node=${beaconEndpoint(ctx)}`,
          `--suggested-fee-recipient=${vc.feeRecipient}`,
          `--graffiti='${vc.graffiti}'`,
          `--doppelganger-detection=${vc.doppelganger}`,
          `--keymanager --keymanager-address=0.0.0.0 --keymanager-port=${vc.keymanagerPort} --keymanager-token-file=${NIMBUS_KEYMANAGER_TOKEN}`,
          `--metrics --metrics-address=0.0.0.0 --metrics-port=${metricsPort}`,
          '"$@"',
        ].join(" "),
      ],
      vc.extraArgs,
    );
    return validatorSpec(ctx, nimbusValidator, { entry, slashingProtection: ["validators/slashing_protection.sqlite3"] });
  },
};
