import { DEFAULT_IMAGES } from "../../config/images";
import { beaconEndpoint, metricsPortOf, validatorSpec } from "../common";
import { PATHS, ValidatorClientModule } from "../types";

export const prysmValidator: ValidatorClientModule = {
  name: "prysm",
  defaultImage: DEFAULT_IMAGES.prysmValidator,
  defaultMemoryMiB: 1024,
  build(ctx) {
    const vc = ctx.validator;
    const metricsPort = metricsPortOf(ctx, "validator");
    // The key installer imports keystores into the wallet under /data/wallet. The keymanager token's default
    // path is under $HOME and ignores --wallet-dir (cmd/validator/flags/flags.go): name it, so it lives in the
    // data volume where KEY_TOOLS.prysm.apiTokenPath reads it.
    const entry = {
      entrypoint: ["/app/cmd/validator/validator"],
      command: [
        `--datadir=${PATHS.data}`,
        `--wallet-dir=${PATHS.data}/wallet`,
        `--wallet-password-file=${PATHS.keys}/prysm/wallet-password.txt`,
        `--keymanager-token-file=${PATHS.data}/wallet/auth-token`,
        `--chain-config-file=${PATHS.testnet}/config.yaml`,
        "--enable-beacon-rest-api",
        `--beacon-rest-api-provider=${beaconEndpoint(ctx)}`,
        `--suggested-fee-recipient=${vc.feeRecipient}`,
        `--graffiti=${vc.graffiti}`,
        ...(vc.doppelganger ? ["--enable-doppelganger"] : []),
        "--rpc",
        "--http-host=0.0.0.0",
        `--http-port=${vc.keymanagerPort}`,
        "--monitoring-host=0.0.0.0",
        `--monitoring-port=${metricsPort}`,
        "--accept-terms-of-use",
        ...vc.extraArgs,
      ],
    };
    return validatorSpec(ctx, prysmValidator, { entry, slashingProtection: ["validator.db"] });
  },
};
