import { DEFAULT_IMAGES } from "../../config/images";
import { beaconEndpoint, containerName, metricsPortOf, PRYSM_GRPC_PORT, validatorSpec } from "../common";
import { PATHS, ValidatorClientModule } from "../types";

export const prysmValidator: ValidatorClientModule = {
  name: "prysm",
  defaultImage: DEFAULT_IMAGES.prysmValidator,
  defaultMemoryMiB: 1024,
  build(ctx) {
    const vc = ctx.validator;
    const metricsPort = metricsPortOf(ctx, "validator");
    // Next to a prysm beacon node the client talks gRPC: its DomainData applies EIP-7044 (voluntary exits signed
    // with the Capella fork version), which the REST client's own domain computation skips, so keymanager exits
    // were refused (beacon-chain/rpc/prysm/v1alpha1/validator/server.go vs validator/client/beacon-api/
    // domain_data.go, prysm v7.0.0). Any other beacon node only has the REST API. The REST provider stays named
    // in both modes: the keymanager server builds its REST handler from it.
    const beacon = ctx.host.consensus.client === "prysm"
      ? [`--beacon-rpc-provider=${containerName(ctx.node, "consensus")}:${PRYSM_GRPC_PORT}`]
      : ["--enable-beacon-rest-api"];
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
        ...beacon,
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
