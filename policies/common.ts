/**
 * What every area module shares: the plain shape rules work on, and the two adapters that turn a pure rule
 * into a CrossGuard resource or stack policy. Rules never see the Pulumi engine, so tests call them directly.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { KUBERNETES_KEYS_TYPE } from "../lib/kubernetes/keys";

/** A resource as rules see it: its inputs (or outputs, for stack rules), plus where it sits in the tree. */
export interface Facts {
  type: string;
  urn: string;
  name: string;
  props: Record<string, any>;
  /** URN of the parent resource, when it has one. */
  parent?: string;
}

/** A broken rule: what must hold and how to fix it; `urn` names the resource at fault (stack rules). */
export interface Violation {
  message: string;
  urn?: string;
}

interface PolicyInfo<C> {
  /** kebab-case, unique in the pack. */
  name: string;
  /** One sentence starting "Checks whether". */
  description: string;
  /** Thresholds and lists, each with a default. */
  config?: { [K in keyof C]: Omit<PolicyConfigJSONSchema, "default"> & { default: C[K]; description: string } };
}

export interface ResourceRule<C = {}> extends PolicyInfo<C> {
  /** Resource types the rule reads; undefined means every type. */
  types?: string[];
  check(resource: Facts, config: C): string[];
}

export interface StackRule<C = {}> extends PolicyInfo<C> {
  check(resources: Facts[], config: C): Violation[];
}

/**
 * Inputs seen by resource validations, by URN. The engine analyzes every resource's inputs before it
 * analyzes the stack, in the same policy-pack process; stack validations only get each resource's outputs,
 * which for a component are what it registered as outputs, not the facts it carries as inputs.
 */
const inputsByUrn = new Map<string, { type: string; name: string; props: Record<string, any>; parent?: string }>();

export function plainInputs(props: Record<string, any>): Record<string, any> {
  return plainCopy(props);
}

export function rememberInputs(args: Pick<ResourceValidationArgs, "urn" | "type" | "name" | "props" | "opts">): void {
  inputsByUrn.set(args.urn, { type: args.type, name: args.name, props: plainCopy(args.props), parent: args.opts?.parent || undefined });
}

/** For tests: forget what earlier runs recorded. */
export function forgetInputs(): void {
  inputsByUrn.clear();
}

/** Plain data (no proxies); values unknown during preview become undefined instead of throwing. */
function plainCopy(v: any): any {
  if (Array.isArray(v)) {
    // An index loop: Array methods on the SDK's nested proxies trip over the Array species lookup.
    const out: any[] = [];
    for (let i = 0; i < v.length; i++) out.push(plainCopy(safeGet(v, i)));
    return out;
  }
  if (v && typeof v === "object") {
    const out: Record<string, any> = {};
    for (const k of Object.keys(v)) out[k] = plainCopy(safeGet(v, k));
    return out;
  }
  return v;
}

function safeGet(obj: any, key: string | number): any {
  try {
    return obj[key];
  } catch {
    return undefined;
  }
}

/** Fills config defaults from the schema, so rules never see a missing threshold. */
export function withDefaults<C>(info: PolicyInfo<C>, given: Partial<C> | undefined): C {
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(info.config ?? {}) as [string, { default: unknown }][]) out[k] = spec.default;
  for (const [k, v] of Object.entries(given ?? {})) if (k !== "enforcementLevel" && v !== undefined) out[k] = v;
  return out as C;
}

function configSchema<C>(info: PolicyInfo<C>): PolicyConfigSchema | undefined {
  if (!info.config) return undefined;
  return { properties: info.config as unknown as PolicyConfigSchema["properties"] };
}

export function resourcePolicy<C>(rule: ResourceRule<C>): ResourceValidationPolicy {
  return {
    name: rule.name,
    description: rule.description,
    configSchema: configSchema(rule),
    validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
      rememberInputs(args);
      if (rule.types && !rule.types.includes(args.type)) return;
      const config = withDefaults(rule, args.getConfig<Partial<C>>());
      for (const message of rule.check(factsOf(args), config)) report(message);
    },
  };
}

export function stackPolicy<C>(rule: StackRule<C>): StackValidationPolicy {
  return {
    name: rule.name,
    description: rule.description,
    configSchema: configSchema(rule),
    validateStack: (args: StackValidationArgs, report: ReportViolation) => {
      const config = withDefaults(rule, args.getConfig<Partial<C>>());
      const resources = args.resources.map((r): Facts => {
        const seen = inputsByUrn.get(r.urn);
        return { type: r.type, urn: r.urn, name: r.name, props: { ...seen?.props, ...plainCopy(r.props) }, parent: r.parent?.urn ?? seen?.parent };
      });
      for (const v of rule.check(resources, config)) report(v.message, v.urn);
    },
  };
}

function factsOf(args: ResourceValidationArgs): Facts {
  return { type: args.type, urn: args.urn, name: args.name, props: plainCopy(args.props), parent: args.opts?.parent || undefined };
}

/**
 * The node a resource belongs to: its own `node` input, else the nearest ancestor's. Every ephemery
 * component carries `node`; cloud resources sit under the node's Host.
 */
export function nodeOf(resource: Facts, byUrn: Map<string, Facts>): string | undefined {
  let r: Facts | undefined = resource;
  for (let depth = 0; r && depth < 20; depth++) {
    if (typeof r.props.node === "string") return r.props.node;
    r = r.parent ? byUrn.get(r.parent) : undefined;
  }
  return undefined;
}

export function indexByUrn(resources: Facts[]): Map<string, Facts> {
  return new Map(resources.map((r) => [r.urn, r]));
}

export const CLIENT_TYPES = {
  execution: "ephemery:execution:ExecutionClient",
  consensus: "ephemery:consensus:ConsensusClient",
  validator: "ephemery:validator:ValidatorClient",
} as const;
export const COMPOSE_TYPE = "ephemery:containers:ComposeProject";
export const NODE_TYPE = "ephemery:node:EphemeryNode";
export const HOST_TYPE = "ephemery:host:Host";
export const RESET_TYPE = "ephemery:reset:ResetJob";
export const KEYS_TYPE = "ephemery:keys:ValidatorKeys";
/** Validator keys on a kind kubernetes node: the same facts, plus `replicas` and `workload`. */
export { KUBERNETES_KEYS_TYPE };
/** Every resource that says which validator keys a node runs. */
export const KEYS_TYPES = [KEYS_TYPE, KUBERNETES_KEYS_TYPE];
export const MONITORING_TYPE = "ephemery:monitoring:MonitoringStack";
export const COMMAND_TYPES = ["command:remote:Command", "command:local:Command"];
export const CONTAINER_TYPE = "docker:index/container:Container";

/** `"<name>" (<type>)`, the way messages name a resource. */
export function label(r: Facts): string {
  return `"${r.name}" (${r.type})`;
}

export function asArray<T = any>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}
