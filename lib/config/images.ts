/** Image references: parsing and the pinned defaults. */
import { z } from "zod";

export interface ImageRef {
  /** Registry and repository, e.g. `ethereum/client-go`. */
  repository: string;
  /** Version tag; undefined when the reference has none. */
  tag?: string;
  /** `sha256:<64 hex>` when pinned by digest. */
  digest?: string;
}

const IMAGE_RE = /^([a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/;

export function parseImage(ref: string): ImageRef {
  const m = IMAGE_RE.exec(ref);
  if (!m) throw new Error(`"${ref}" is not a valid image reference (expected repository:tag or repository:tag@sha256:<digest>)`);
  return { repository: m[1], tag: m[2], digest: m[3] };
}

export function isImageRef(ref: string): boolean {
  return IMAGE_RE.test(ref);
}

/** A config field holding an image reference. */
export const imageRefSchema = z.string().refine(isImageRef, { message: "must be an image reference such as repository:tag or repository:tag@sha256:<digest>" });

export function formatImage(image: ImageRef): string {
  return `${image.repository}${image.tag ? `:${image.tag}` : ""}${image.digest ? `@${image.digest}` : ""}`;
}

/** Pinned means a version tag or a digest; `latest` and friends move under a running node. */
export function isPinned(image: ImageRef): boolean {
  if (image.digest) return true;
  if (!image.tag) return false;
  return !["latest", "stable", "unstable", "develop", "master", "main", "nightly", "edge"].includes(image.tag.toLowerCase());
}

/**
 * Default images, pinned to releases known to run Ephemery (post-Fusaka clients).
 * Override per host with `execution.image`, `consensus.image`, `validator.image`.
 */
export const DEFAULT_IMAGES = {
  geth: "ethereum/client-go:v1.16.7",
  nethermind: "nethermind/nethermind:1.35.2",
  besu: "hyperledger/besu:25.11.0",
  reth: "ghcr.io/paradigmxyz/reth:v1.9.3",
  erigon: "erigontech/erigon:v3.2.2",
  lighthouse: "sigp/lighthouse:v8.0.1",
  teku: "consensys/teku:25.11.1",
  prysmBeacon: "gcr.io/offchainlabs/prysm/beacon-chain:v7.0.0",
  prysmValidator: "gcr.io/offchainlabs/prysm/validator:v7.0.0",
  nimbusBeacon: "statusim/nimbus-eth2:multiarch-v25.11.0",
  nimbusValidator: "statusim/nimbus-validator-client:multiarch-v25.11.0",
  lodestar: "chainsafe/lodestar:v1.36.0",
  prometheus: "prom/prometheus:v3.7.3",
  alertmanager: "prom/alertmanager:v0.29.0",
  grafana: "grafana/grafana:12.3.0",
  nodeExporter: "prom/node-exporter:v1.10.2",
  /** Runs the validator-performance exporter (exporter/validator-exporter.js, mounted read-only). */
  validatorExporter: "node:22.21.1-alpine",
  /** The in-cluster reset (kind kubernetes): bash, curl, GNU tar, coreutils, util-linux and node >= 18 (Debian-based). */
  kubernetesReset: "node:22.21.1-bookworm",
} as const;

/**
 * Monitoring images that scripts/client-images.sh builds from Debian's packages and the npm registry's Node.js
 * build, for machines that cannot pull (the test tiers, an offline devnet): older than the pins above, set through
 * `monitoring.images`. The script checks each binary's version against its tag. Grafana has no Debian package.
 */
export const LOCAL_MONITORING_IMAGES = {
  prometheus: "pulumi-ephemery/prometheus:2.42.0-debian12",
  alertmanager: "pulumi-ephemery/alertmanager:0.25.0-debian12",
  nodeExporter: "pulumi-ephemery/node-exporter:1.5.0-debian12",
  validatorExporter: "pulumi-ephemery/node:22.21.1",
} as const;
