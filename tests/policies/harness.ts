/**
 * Runs policies the way the CrossGuard SDK does, without the engine: a resource policy gets one resource's
 * inputs, a stack policy gets every resource with parents linked. Violations come back as {message, urn}.
 */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { Facts } from "../../policies/common";

export interface Reported {
  message: string;
  urn?: string;
}

export function urnOf(type: string, name: string): string {
  return `urn:pulumi:test::ephemery::${type}::${name}`;
}

/** A resource with a URN derived from its type and name. */
export function res(type: string, name: string, props: Record<string, any>, parent?: Facts): Facts {
  return { type, name, urn: urnOf(type, name), props, parent: parent?.urn };
}

export function runResource(policy: ResourceValidationPolicy, r: Facts, config: object = {}): Reported[] {
  const out: Reported[] = [];
  const validations = [policy.validateResource ?? []].flat();
  for (const validate of validations) {
    validate(
      {
        type: r.type, props: r.props, urn: r.urn, name: r.name,
        opts: { parent: r.parent, protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] },
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => config as T,
        notApplicable: () => { throw new Error("not applicable"); },
      },
      (message, urn) => out.push({ message, urn: urn ?? r.urn }),
    );
  }
  return out;
}

export function runStack(policy: StackValidationPolicy, resources: Facts[], config: object = {}): Reported[] {
  const out: Reported[] = [];
  const linked = new Map<string, PolicyResource>();
  for (const r of resources) {
    linked.set(r.urn, {
      type: r.type, props: r.props, urn: r.urn, name: r.name,
      opts: { parent: r.parent, protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] },
      dependencies: [], propertyDependencies: {},
      isType: () => false, asType: () => undefined,
    });
  }
  for (const r of resources) if (r.parent) linked.get(r.urn)!.parent = linked.get(r.parent);
  policy.validateStack(
    { resources: [...linked.values()], stackTags: new Map(), getConfig: <T extends object>() => config as T, notApplicable: () => { throw new Error("not applicable"); } },
    (message, urn) => out.push({ message, urn }),
  );
  return out;
}

/** A deep copy with one change, so each failing case differs from the happy path in one field. */
export function changed<T>(base: T, edit: (copy: T) => void): T {
  const copy = structuredClone(base);
  edit(copy);
  return copy;
}

/**
 * The SDK's own (de)serialisation between the engine's wire format and policy props. Marked @internal in
 * its typings, so loaded untyped; tests use it to hand remediations exactly what the engine would.
 */
export const wire = require("@pulumi/policy/deserialize") as {
  deserializeProperties(struct: { toJavaScript(): Record<string, unknown> }, proxySecrets: boolean): Record<string, any>;
  serializeProperties(props: unknown): Promise<Record<string, any>>;
};
