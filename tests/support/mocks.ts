/**
 * Runs the real program (index.ts) under `pulumi.runtime.setMocks` and records every resource it registers,
 * with its inputs. Unknown provider functions throw, so nothing passes by accident.
 */
import * as pulumi from "@pulumi/pulumi";
import { restorePromiseStacks } from "../../components/promiseStacks";

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
  /** Input names whose values the program marked secret. */
  secretInputs: string[];
  /** Names of the resources this one was told to wait for (`dependsOn`), and its parent's name. */
  dependsOn: string[];
  parent?: string;
  /** The provider reference (`urn::id`) for custom resources with an explicit or inherited provider. */
  provider?: string;
}

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

function isSecretValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[pulumi.runtime.specialSigKey] === SECRET_SIG;
}

/** Unwraps secret markers (recording which top-level inputs were secret). */
function unwrap(v: any): any {
  if (isSecretValue(v)) return unwrap(v.value);
  if (Array.isArray(v)) return v.map(unwrap);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  return v;
}

function containsSecret(v: any): boolean {
  if (isSecretValue(v)) return true;
  if (Array.isArray(v)) return v.some(containsSecret);
  if (v && typeof v === "object") return Object.values(v).some(containsSecret);
  return false;
}

/** Outputs a few resources produce that the program reads back. */
function fakeOutputs(type: string, name: string, inputs: Record<string, any>, stdoutOf?: (name: string) => string | undefined): Record<string, any> {
  switch (type) {
    case "command:local:Command":
    case "command:remote:Command":
      if (stdoutOf?.(name) !== undefined) return { stdout: stdoutOf(name), stderr: "" };
      if (name.endsWith("-jwt-generate")) return { stdout: "ab".repeat(32), stderr: "" };
      // Stands in for openssl's CA, certificate and key (the real script runs in the engine tier).
      if (name.endsWith("-tls-generate")) return { stdout: ["CERTIFICATE", "CERTIFICATE", "PRIVATE KEY"].map((k, i) => `-----BEGIN ${k}-----\nMOCK${i}${name}\n-----END ${k}-----\n`).join(""), stderr: "" };
      if (name.endsWith("-secret-generate")) return { stdout: `mock-fleet-secret-${name}`, stderr: "" };
      return { stdout: name.endsWith("-reset-release") ? "fetched ephemery-171\niteration=171" : "", stderr: "" };
    case "docker:index/remoteImage:RemoteImage":
      return { imageId: `sha256:${"0".repeat(64)}`, repoDigest: `${inputs.name}@sha256:${"0".repeat(64)}` };
    case "aws:ec2/instance:Instance":
      return { publicIp: "198.51.100.7", arn: "arn:aws:ec2:instance/i-1" };
    case "hcloud:index/server:Server":
      return { ipv4Address: "198.51.100.8" };
    case "aws:ec2/keyPair:KeyPair":
      return { keyName: `${name}-key` };
    default:
      return {};
  }
}

export async function runProgram(
  config: Record<string, unknown>,
  opts: {
    secretKeys?: string[];
    stack?: string;
    preview?: boolean;
    load?: () => Record<string, unknown>;
    /** Probe checkpoint providers as a real deploy would (off by default: tests stay offline). */
    probeCheckpoints?: boolean;
    /**
     * Record each resource's inputs, secret inputs and options (default). A benchmark turns it off: it needs
     * the count only, and the copies of every input (and the stack transformation that sees the options)
     * would otherwise count against the program's heap and time.
     */
    record?: boolean;
    /** A command's stdout, standing in for what it prints on the machine (e.g. a key release's export). */
    stdoutOf?: (name: string) => string | undefined;
  } = {},
): Promise<{ resources: RecordedResource[]; outputs: Record<string, unknown>; harnessMs: number }> {
  const resources: RecordedResource[] = [];
  // Time spent recording and unwrapping inputs, so a benchmark can tell the program's cost from the harness's
  // (besides this, the final wait for registrations to settle idles for 100 ms).
  let harnessNs = 0n;
  const optionsByName = new Map<string, { dependsOn: string[]; parent?: string }>();
  let ids = 0;
  const record = opts.record ?? true;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const start = process.hrtime.bigint();
        const raw = args.inputs as Record<string, any>;
        const inputs = unwrap(raw);
        if (record) {
          const secretInputs = Object.entries(raw).filter(([, v]) => containsSecret(v)).map(([k]) => k);
          const o = optionsByName.get(args.name);
          resources.push({ type: args.type, name: args.name, inputs, secretInputs, dependsOn: o?.dependsOn ?? [], parent: o?.parent, provider: args.provider });
        } else {
          resources.push({ type: args.type, name: args.name, inputs: {}, secretInputs: [], dependsOn: [] });
        }
        const result = { id: `${args.name}-id-${ids++}`, state: { ...inputs, ...fakeOutputs(args.type, args.name, inputs, opts.stdoutOf) } };
        harnessNs += process.hrtime.bigint() - start;
        return result;
      },
      call(args) {
        if (args.token === "aws:ec2/getAmi:getAmi") return { id: "ami-0debian12", architecture: "x86_64" };
        throw new Error(`unexpected provider function in test: ${args.token}`);
      },
    },
    "ephemery",
    opts.stack ?? "test",
    opts.preview ?? false,
  );
  // The SDK's mock monitor keeps every resource's serialized state in this process, where the real engine
  // keeps it in its own: a heap (and garbage-collection work) that grows with the fleet and is not the
  // program's. A benchmark keeps only the URN and id it needs to answer later calls.
  if (!record) dropMockedStates();
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) flat[k] = typeof v === "string" ? v : JSON.stringify(v);
  pulumi.runtime.setAllConfig(flat, opts.secretKeys ?? []);
  if (opts.probeCheckpoints) delete process.env.EPHEMERY_SKIP_CHECKPOINT_PROBE;
  else process.env.EPHEMERY_SKIP_CHECKPOINT_PROBE = "1";

  const outputs: Record<string, unknown> = {};
  let failure: unknown;
  await pulumi.runtime.runInPulumiStack(async () => {
    // Resource options are invisible to mocks; a stack transformation sees them as the program sets them.
    if (record) pulumi.runtime.registerStackTransformation((t) => {
      const names = (deps: unknown): string[] => {
        const list = deps === undefined ? [] : Array.isArray(deps) ? deps : [deps];
        return list.filter((d): d is pulumi.Resource => pulumi.Resource.isInstance(d as unknown)).map(resourceName);
      };
      const deps = t.opts.dependsOn;
      const entry = { dependsOn: names(deps), parent: t.opts.parent ? resourceName(t.opts.parent) : undefined };
      // A list known only later (a promise or Output): filled in when it resolves, which the SDK awaits before
      // it registers the resource, so the record is complete by the time the mocks see it.
      if (pulumi.Output.isInstance(deps)) (deps as pulumi.Output<unknown>).apply((list) => { entry.dependsOn.push(...names(list)); });
      else if (deps instanceof Promise) void deps.then((list) => { entry.dependsOn.push(...names(list)); });
      optionsByName.set(t.name, entry);
      return undefined;
    });
    let program: Record<string, unknown> = {};
    try {
      const loaded = (opts.load ?? loadIsolated)() as unknown;
      // The program exports an async function, as Pulumi runs it; plain module exports work too.
      program = typeof loaded === "function" ? ((await (loaded as () => Promise<Record<string, unknown>>)()) ?? {}) : (loaded as Record<string, unknown>);
    } catch (e) {
      // Thrown inside the stack's initialisation it would escape as an unhandled rejection.
      failure = e;
      return {};
    }
    for (const [k, v] of Object.entries(program)) {
      outputs[k] = pulumi.Output.isInstance(v) ? await outputValue(v) : v;
    }
    return {};
  });
  // The program turns stack capture off for its whole run (a deployment's process ends with it); this
  // process goes on, so traces come back once the run has settled (or failed).
  if (failure) { restorePromiseStacks(); throw failure; }
  await settle(() => resources.length);
  restorePromiseStacks();
  return { resources, outputs, harnessMs: Number(harnessNs) / 1e6 };
}

/**
 * The program, loaded once per test file and run afresh for each call: it reads its config when it runs and
 * keeps no state between runs but the key-move registry, reset here. (A fresh module registry per run, as
 * jest.isolateModules gives, re-evaluated the Pulumi SDK and every provider package each time: most of a
 * component test's time.)
 */
function loadIsolated(): Record<string, unknown> {
  require("../../components/validatorKeys").resetKeyMoveRegistry();
  return require("../../index");
}

/** Makes the mock monitor keep each registered resource's URN and id, not its state (see `runProgram`). */
function dropMockedStates(): void {
  type Entry = { urn?: string; id?: string | null; state?: unknown };
  const monitor = (pulumi.runtime as unknown as { getMonitor(): { resources?: Map<string, Entry> } }).getMonitor();
  const kept = monitor.resources;
  if (!(kept instanceof Map)) throw new Error("the Pulumi SDK's mock monitor no longer keeps a resources map; update dropMockedStates");
  // Component outputs are assigned to the entry later (registerResourceOutputs): dropped too.
  monitor.resources = new (class extends Map<string, Entry> {
    set(urn: string, entry: Entry) {
      return super.set(urn, { urn: entry.urn, id: entry.id, get state() { return undefined; }, set state(_dropped: unknown) { /* not kept */ } });
    }
  })();
}

function resourceName(r: pulumi.Resource): string {
  return (r as unknown as { __name: string }).__name;
}

/** Resolves an Output's value the way the engine would see it (secrets included, unwrapped). */
export function outputValue<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => { resolve(v); return v; }));
}

export function isSecretOutput(o: pulumi.Output<unknown>): Promise<boolean> {
  return (o as any).isSecret as Promise<boolean>;
}

/** Waits until no new resources have registered for a while. */
async function settle(count: () => number): Promise<void> {
  let last = -1;
  while (count() !== last) {
    last = count();
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function byType(resources: RecordedResource[], type: string): RecordedResource[] {
  return resources.filter((r) => r.type === type);
}

export function named(resources: RecordedResource[], name: string): RecordedResource {
  const r = resources.find((x) => x.name === name);
  if (!r) throw new Error(`no resource named ${name}; have: ${resources.map((x) => x.name).join(", ")}`);
  return r;
}

/** The node's typed Kubernetes objects (`kubernetes:*` resources named `<node>-…`) as the objects they create, in registration order. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function kubeObjects(resources: RecordedResource[], node: string): any[] {
  return resources.filter((r) => r.type.startsWith("kubernetes:") && r.name.startsWith(`${node}-`)).map((r) => r.inputs);
}

/** The one typed Kubernetes object of `node` with this kind and name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function kubeObject(resources: RecordedResource[], node: string, kind: string, name: string): any {
  const o = kubeObjects(resources, node).find((x) => x.kind === kind && x.metadata?.name === name);
  if (!o) throw new Error(`no ${kind} ${name} among ${node}'s objects: ${kubeObjects(resources, node).map((x) => `${x.kind}/${x.metadata?.name}`).join(", ")}`);
  return o;
}
