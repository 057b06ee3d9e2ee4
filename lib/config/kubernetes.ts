/**
 * The `kubernetes` block of a `kind: kubernetes` host: where in a cluster the node runs and how its p2p ports
 * reach the internet. The kubeconfig itself is a secret (`ephemery:kubeconfig` or `ephemery:kubeconfigs.<host>`),
 * never part of this block. Pure.
 */
import { z } from "zod";
import { IMAGE_PULL_POLICIES, P2P_EXPOSURES } from "../kubernetes/manifests";
import { DEFAULT_IMAGES, imageRefSchema } from "./images";

const dnsLabel = (what: string) =>
  z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, `must be a Kubernetes ${what}: a-z, 0-9 and -, starting and ending with a letter or digit, at most 63 characters`);
// Context names come from kubeconfigs (often `user@cluster` or an ARN); they reach kubectl as one argv word.
const contextName = z.string().regex(/^[A-Za-z0-9._@:/-]{1,253}$/, "must be a kubeconfig context name (letters, digits and . _ @ : / -)");
// Storage class names are DNS subdomains; "" means no class (pre-made PersistentVolumes).
const storageClass = z.string().regex(/^$|^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "must be a StorageClass name (a DNS subdomain), or \"\" for pre-made PersistentVolumes");

export const kubernetesSchema = z.strictObject({
  context: contextName.optional().describe("kubeconfig context to use (default: the kubeconfig's current-context)."),
  namespace: dnsLabel("namespace name").default("ephemery").describe("Namespace the node's objects live in (created when missing)."),
  storageClass: storageClass.optional()
    .describe("StorageClass of the node's PersistentVolumeClaims (default: the cluster's default class; \"\" binds pre-made PersistentVolumes)."),
  p2pExposure: z.enum(P2P_EXPOSURES).default("hostPort")
    .describe("How p2p ports reach peers: hostPort (the Kubernetes node's own address, like a host), NodePort (the port must be inside the cluster's NodePort range) or LoadBalancer (a cloud load balancer per node)."),
  imagePullPolicy: z.enum(IMAGE_PULL_POLICIES).default("IfNotPresent").describe("imagePullPolicy of every container (Never for images imported into the node's runtime)."),
  retainDataOnDestroy: z.boolean().default(true)
    .describe("Keep the data PersistentVolumeClaims (node keys, slashing protection) when the node is destroyed."),
  testnetVolumeGiB: z.number().int().min(1).default(2).describe("Size of the testnet volume (releases), GiB."),
  resetImage: imageRefSchema.default(DEFAULT_IMAGES.kubernetesReset)
    .describe("Image of the reset CronJob: it needs bash, curl, GNU tar, coreutils, util-linux (flock) and Node.js 18 or newer."),
});

export type KubernetesConfig = z.output<typeof kubernetesSchema>;
