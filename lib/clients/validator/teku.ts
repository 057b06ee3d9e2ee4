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
          // Plain HTTP on 0.0.0.0 inside the container, so Docker can publish it, and only on the host's loopback
          // (apiPort): from outside the host nothing reaches it; the node network and host loopback need the bearer
          // token. TLS would need a certificate the host-side key check trusts, which teku cannot make itself.
          // Teku 25.11.1 refuses plain HTTP off localhost unless told (ValidatorRestApiConfig.java), and only
          // the hidden --Xvalidator-api-* options exist for that (ValidatorRestApiOptions.java).
          `--validator-api-enabled=true --validator-api-interface=0.0.0.0 --validator-api-port=${vc.keymanagerPort}`,
          "--validator-api-host-allowlist=localhost,127.0.0.1",
          "--Xvalidator-api-ssl-enabled=false --Xvalidator-api-unsafe-hosts-enabled=true",
          `--metrics-enabled=true --metrics-interface=0.0.0.0 --metrics-port=${metricsPort} --metrics-host-allowlist=*`,
          '"$@"',
        ].join(" "),
      ],
      vc.extraArgs,
    );
    return validatorSpec(ctx, tekuValidator, { entry, slashingProtection: ["validator/slashprotection"] });
  },
};
