import { DEFAULT_IMAGES } from "../../config/images";
import { beaconEndpoint, COPY_KEYS, KEYS_IN_DATA, metricsPortOf, shellEntry, validatorSpec } from "../common";
import { PATHS, ValidatorClientModule } from "../types";

export const lighthouseValidator: ValidatorClientModule = {
  name: "lighthouse",
  defaultImage: DEFAULT_IMAGES.lighthouse,
  defaultMemoryMiB: 1024,
  build(ctx) {
    const vc = ctx.validator;
    const metricsPort = metricsPortOf(ctx, "validator");
    const entry = shellEntry(
      [
        COPY_KEYS,
        `mkdir -p ${PATHS.data}/validators`,
        `cp ${KEYS_IN_DATA}/lighthouse/validator_definitions.yml ${PATHS.data}/validators/validator_definitions.yml`,
        [
          "exec lighthouse validator_client",
          `--testnet-dir=${PATHS.testnet}`,
          `--datadir=${PATHS.data}`,
          `--validators-dir=${PATHS.data}/validators`,
          `--beacon-nodes=${beaconEndpoint(ctx)}`,
          `--suggested-fee-recipient=${vc.feeRecipient}`,
          `--graffiti='${vc.graffiti}'`,
          // A reset archives the old chain's database; the new chain starts with a fresh one.
          "--init-slashing-protection",
          ...(vc.doppelganger ? ["--enable-doppelganger-protection"] : []),
          `--http --http-address=0.0.0.0 --http-port=${vc.keymanagerPort} --unencrypted-http-transport`,
          `--metrics --metrics-address=0.0.0.0 --metrics-port=${metricsPort}`,
          '"$@"',
        ].join(" "),
      ],
      vc.extraArgs,
    );
    return validatorSpec(ctx, lighthouseValidator, { entry, slashingProtection: ["validators/slashing_protection.sqlite"] });
  },
};
