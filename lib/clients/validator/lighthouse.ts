import { DEFAULT_IMAGES } from "../../config/images";
import { apiPort, beaconEndpoint, baseSpec, containerName, COPY_KEYS, DEFAULT_METRICS_PORT, KEYS_IN_DATA, keysMount, sharedMounts, shellEntry } from "../common";
import { PATHS, ValidatorClientModule } from "../types";

export const lighthouseValidator: ValidatorClientModule = {
  name: "lighthouse",
  defaultImage: DEFAULT_IMAGES.lighthouse,
  defaultMemoryMiB: 1024,
  build(ctx) {
    const vc = ctx.validator;
    const metricsPort = vc.metricsPort ?? DEFAULT_METRICS_PORT.validator;
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
    return baseSpec(ctx, "validator", "lighthouse", {
      image: vc.image ?? lighthouseValidator.defaultImage,
      memoryMiB: vc.memoryMiB ?? lighthouseValidator.defaultMemoryMiB,
      ...entry,
      ports: [apiPort(vc.keymanagerPort, "keymanager")],
      mounts: [...sharedMounts(ctx, { jwt: false }), keysMount(ctx)],
      metricsPort,
      stopGraceSec: 30,
      slashingProtection: ["validators/slashing_protection.sqlite"],
      dependsOn: [containerName(ctx.node, "consensus")],
    });
  },
};
