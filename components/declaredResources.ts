/**
 * Provider resources registered as their SDK classes register them, declaring as properties only the inputs
 * set and the outputs the program reads. The generated classes list every property of the provider's schema
 * (docker.Container ~80, command.local.Command 16), and the Pulumi SDK makes an Output (an object, four
 * promises, resolvers and resource sets) for each one on every resource whether or not anything reads it:
 * most of a fleet's evaluation time and memory. The engine gets the same type, inputs, options (the SDK class's
 * secret outputs and replaceOnChanges included) and provider version, so plans, state, policies and
 * `pulumi preview` are as with the SDK classes (tests/components/declaredResources.test.ts compares them).
 */
import * as command from "@pulumi/command";
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

const versions = new Map<string, string>();

/** The plugin version a provider package's generated classes ask for (the package's own), looked up once. */
function providerVersion(pkg: "@pulumi/docker" | "@pulumi/command"): string {
  let version = versions.get(pkg);
  if (version === undefined) {
    version = (require(`${pkg}/utilities`) as { getVersion(): string }).getVersion();
    versions.set(pkg, version);
  }
  return version;
}

/** Set inputs, plus the named outputs as undefined (how the SDK classes declare outputs). Unset inputs are dropped, as serialization drops them. */
function declared(args: object, outputs: readonly string[]): Record<string, unknown> {
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) if (v !== undefined) props[k] = v;
  for (const k of outputs) if (!(k in props)) props[k] = undefined;
  return props;
}

/** Options as the SDK class merges them: its defaults first, the caller's, then the class's own additions. */
function classOptions(pkg: "@pulumi/docker" | "@pulumi/command", opts: pulumi.CustomResourceOptions, ...own: pulumi.CustomResourceOptions[]): pulumi.CustomResourceOptions {
  let merged = pulumi.mergeOptions({ version: providerVersion(pkg) }, opts);
  for (const o of own) merged = pulumi.mergeOptions(merged, o);
  return merged;
}

/** The generated classes' own check, with their message. */
function required(args: object, key: string): void {
  if ((args as Record<string, unknown>)[key] === undefined) throw new Error(`Missing required property '${key}'`);
}

/** docker.Container; no outputs read (dependencies only). */
export class DockerContainer extends pulumi.CustomResource {
  constructor(name: string, args: docker.ContainerArgs, opts: pulumi.CustomResourceOptions = {}) {
    required(args, "image");
    super("docker:index/container:Container", name, declared(args, []), classOptions("@pulumi/docker", opts));
  }
}

/** docker.RemoteImage; its `imageId` is what containers run. */
export class DockerImage extends pulumi.CustomResource {
  declare public readonly imageId: pulumi.Output<string>;
  constructor(name: string, args: docker.RemoteImageArgs, opts: pulumi.CustomResourceOptions = {}) {
    required(args, "name");
    super("docker:index/remoteImage:RemoteImage", name, declared(args, ["imageId"]), classOptions("@pulumi/docker", opts));
  }
}

/** docker.Volume; no outputs read. */
export class DockerVolume extends pulumi.CustomResource {
  constructor(name: string, args: docker.VolumeArgs, opts: pulumi.CustomResourceOptions = {}) {
    super("docker:index/volume:Volume", name, declared(args, []), classOptions("@pulumi/docker", opts));
  }
}

/**
 * The connection as command.remote.Command sends it: its defaults applied, as a secret. The SDK class wraps
 * it anew for every command (an apply and a secret: two Outputs); a host's commands share one connection
 * object, so they share one wrapped connection too, with the same value and dependencies.
 */
const wrappedConnections = new WeakMap<object, pulumi.Output<command.types.input.remote.ConnectionArgs>>();
function remoteConnection(connection: pulumi.Input<command.types.input.remote.ConnectionArgs>): pulumi.Output<command.types.input.remote.ConnectionArgs> {
  const wrap = () => pulumi.secret(pulumi.output(connection).apply(command.types.input.remote.connectionArgsProvideDefaults));
  if (typeof connection !== "object" || connection === null) return wrap();
  let wrapped = wrappedConnections.get(connection);
  if (!wrapped) {
    wrapped = wrap();
    wrappedConnections.set(connection, wrapped);
  }
  return wrapped;
}

/** command.remote.Command; its `stdout` is read (generated values, releases). */
export class RemoteCommand extends pulumi.CustomResource {
  declare public readonly stdout: pulumi.Output<string>;
  constructor(name: string, args: command.remote.CommandArgs, opts: pulumi.CustomResourceOptions = {}) {
    required(args, "connection");
    super("command:remote:Command", name, declared({ ...args, connection: remoteConnection(args.connection) }, ["stdout"]),
      classOptions("@pulumi/command", opts, { additionalSecretOutputs: ["connection"] }, { replaceOnChanges: ["triggers[*]"] }));
  }
}

/** command.local.Command; its `stdout` is read (generated secrets). */
export class LocalCommand extends pulumi.CustomResource {
  declare public readonly stdout: pulumi.Output<string>;
  constructor(name: string, args: command.local.CommandArgs, opts: pulumi.CustomResourceOptions = {}) {
    super("command:local:Command", name, declared(args, ["stdout"]), classOptions("@pulumi/command", opts, { replaceOnChanges: ["triggers[*]"] }));
  }
}
