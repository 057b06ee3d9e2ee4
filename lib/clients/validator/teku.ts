import { DEFAULT_IMAGES } from "../../config/images";
import { beaconEndpoint, COPY_KEYS, KEYS_IN_DATA, metricsPortOf, shellEntry, validatorSpec } from "../common";
import { PATHS, ValidatorClientModule } from "../types";

export const tekuValidator: ValidatorClientModule = {
  name: "teku",
  defaultImage: DEFAULT_IMAGES.teku,
  defaultMemoryMiB: 2048,
  build(ctx) {
    const vc = ctx.validator;
    const metricsPort = metricsPortOf(ctx, "validator");
    const entry = shellEntry(
      [
        COPY_KEYS,
        [
          "exec /opt/teku/bin/teku validator-client",
          '--network="$T/config.yaml"',
          `--beacon-node-api-endpoint=${beaconEndpoint(ctx)}`,
          `--data-path=${PATHS.data}`,
          // Teku pairs keystores/<name>.json with secrets/<name>.txt.
          `--validator-keys=${KEYS_IN_DATA}/keystores:${KEYS_IN_DATA}/secrets`,
          `--validators-proposer-default-fee-recipient=${vc.feeRecipient}`,
          `--validators-graffiti='${vc.graffiti}'`,
          `--doppelganger-detection-enabled=${vc.doppelganger}`,
          `--validator-api-enabled=true --validator-api-interface=0.0.0.0 --validator-api-port=${vc.keymanagerPort} --validator-api-host-allowlist=* --validator-api-ssl-enabled=false`,
          `--metrics-enabled=true --metrics-interface=0.0.0.0 --metrics-port=${metricsPort} --metrics-host-allowlist=*`,
          '"$@"',
        ].join(" "),
      ],
      vc.extraArgs,
    );
    return validatorSpec(ctx, tekuValidator, { entry, slashingProtection: ["validator/slashprotection"] });
  },
};
