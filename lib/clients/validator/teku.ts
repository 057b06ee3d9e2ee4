import { DEFAULT_IMAGES } from "../../config/images";
import { apiPort, beaconEndpoint, baseSpec, containerName, COPY_KEYS, DEFAULT_METRICS_PORT, KEYS_IN_DATA, keysMount, sharedMounts, shellEntry } from "../common";
import { PATHS, ValidatorClientModule } from "../types";

export const tekuValidator: ValidatorClientModule = {
  name: "teku",
  defaultImage: DEFAULT_IMAGES.teku,
  defaultMemoryMiB: 2048,
  build(ctx) {
    const vc = ctx.validator;
    const metricsPort = vc.metricsPort ?? DEFAULT_METRICS_PORT.validator;
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
    return baseSpec(ctx, "validator", "teku", {
      image: vc.image ?? tekuValidator.defaultImage,
      memoryMiB: vc.memoryMiB ?? tekuValidator.defaultMemoryMiB,
      ...entry,
      ports: [apiPort(vc.keymanagerPort, "keymanager")],
      mounts: [...sharedMounts(ctx, { jwt: false }), keysMount(ctx)],
      metricsPort,
      stopGraceSec: 30,
      slashingProtection: ["validator/slashprotection"],
      dependsOn: [containerName(ctx.node, "consensus")],
    });
  },
};
