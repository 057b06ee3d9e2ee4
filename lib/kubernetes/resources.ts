/**
 * What components/kubernetesNode.ts constructs for a node's rendered objects: one typed @pulumi/kubernetes
 * resource per object, so Pulumi diffs, refreshes and deletes each object on its own. Pure: no Pulumi, no cluster;
 * the component looks each `type` up in its table of classes.
 *
 * - The Namespace is not one of them: a namespace may hold several nodes, and deleting it would delete their
 *   PVCs. The node's namespace command makes it when missing (lib/kubernetes/kubectl.ts namespaceCommand).
 * - `pulumi.com/patchForce`: the provider's server-side apply takes over the fields an earlier `kubectl apply`
 *   of the node owns (without it, a field conflict with "kubectl-client-side-apply"; tests/k8s/provider.test.ts).
 * - `pulumi.com/skipAwait` on every object but StatefulSets: the provider would wait for a Service's endpoints
 *   (the pod's readiness) and for nothing useful elsewhere. A StatefulSet keeps the provider's await: its
 *   delete waits until the object and, through the foreground propagation the provider asks for, its pods are
 *   gone, so a replaced StatefulSet's new pod never runs beside the old one (one validator key, at most once).
 */
import { KubeObject } from "./manifests";

export const PATCH_FORCE = "pulumi.com/patchForce";
export const SKIP_AWAIT = "pulumi.com/skipAwait";

/** `<apiVersion>/<kind>` of each kind the node's renderers produce, and the @pulumi/kubernetes class for it. */
export const RESOURCE_TYPES = {
  "v1/ConfigMap": "core.v1.ConfigMap",
  "v1/Secret": "core.v1.Secret",
  "v1/Service": "core.v1.Service",
  "v1/ServiceAccount": "core.v1.ServiceAccount",
  "apps/v1/StatefulSet": "apps.v1.StatefulSet",
  "batch/v1/CronJob": "batch.v1.CronJob",
  "rbac.authorization.k8s.io/v1/Role": "rbac.v1.Role",
  "rbac.authorization.k8s.io/v1/RoleBinding": "rbac.v1.RoleBinding",
} as const;
export type ResourceType = (typeof RESOURCE_TYPES)[keyof typeof RESOURCE_TYPES];

export interface PlannedResource {
  /** The Pulumi resource name: `<node>-<kind>-<name>`, lower-case; stable, so a rename of the class never replaces. */
  resourceName: string;
  type: ResourceType;
  /** The object with the provider annotations added: the resource's args. */
  object: KubeObject;
}

export class KubernetesResourceError extends Error {}

export function resourceName(node: string, o: Pick<KubeObject, "kind" | "metadata">): string {
  return `${node}-${o.kind}-${o.metadata.name}`.toLowerCase();
}

/** The object with patchForce, and skipAwait unless it is a StatefulSet; its own annotations are kept. */
export function withProviderAnnotations(o: KubeObject): KubeObject {
  const annotations = { ...(o.metadata.annotations ?? {}), [PATCH_FORCE]: "true", ...(o.kind === "StatefulSet" ? {} : { [SKIP_AWAIT]: "true" }) };
  return { ...o, metadata: { ...o.metadata, annotations } };
}

/** One planned resource per object, the Namespace left out; an unknown kind or a duplicate name is refused. */
export function planResources(node: string, objects: KubeObject[]): PlannedResource[] {
  const seen = new Set<string>();
  const out: PlannedResource[] = [];
  for (const o of objects) {
    if (o.apiVersion === "v1" && o.kind === "Namespace") continue;
    const type = (RESOURCE_TYPES as Record<string, ResourceType>)[`${o.apiVersion}/${o.kind}`];
    if (!type) throw new KubernetesResourceError(`${node}: no @pulumi/kubernetes class is mapped for ${o.apiVersion} ${o.kind} "${o.metadata.name}" (lib/kubernetes/resources.ts RESOURCE_TYPES)`);
    const name = resourceName(node, o);
    if (seen.has(name)) throw new KubernetesResourceError(`${node}: two objects would be the Pulumi resource ${name} (${o.kind} "${o.metadata.name}")`);
    seen.add(name);
    out.push({ resourceName: name, type, object: withProviderAnnotations(o) });
  }
  return out;
}
