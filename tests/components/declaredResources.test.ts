/**
 * The declared resources register what the SDK classes register (type, inputs, provider version, the classes'
 * own options) while declaring only the properties they set and the outputs the program reads.
 */
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { dockerContainerArgs } from "../../components/containers";
import { DockerContainer, DockerImage, DockerVolume, LocalCommand, RemoteCommand } from "../../components/declaredResources";
import { ContainerSpec } from "../../lib/clients/types";

interface Seen { type: string; inputs: Record<string, unknown>; opts: Record<string, unknown>; outputKeys: string[]; values: Record<string, unknown> }

/** Builds one resource with `make` under mocks: what the engine is sent, the options the SDK acts on, the resource's Output properties and their values. */
async function register(make: () => pulumi.CustomResource, readBack: string[] = []): Promise<Seen> {
  const seen: Partial<Seen> = { values: {} };
  await pulumi.runtime.setMocks({
    newResource(a) {
      seen.type = a.type; seen.inputs = a.inputs;
      return { id: `${a.name}-id`, state: { ...a.inputs, stdout: "printed", imageId: "sha256:0123" } };
    },
    call() { throw new Error("no calls expected"); },
  }, "ephemery", "test", false);
  let resource: pulumi.CustomResource | undefined;
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((t) => {
      const { version, additionalSecretOutputs, replaceOnChanges, retainOnDelete } = t.opts as Record<string, unknown>;
      seen.opts = { version, additionalSecretOutputs, replaceOnChanges, retainOnDelete };
      return undefined;
    });
    resource = make();
    const r = resource as unknown as Record<string, pulumi.Output<unknown>>;
    for (const k of readBack) seen.values![k] = await new Promise((resolve) => r[k].apply(resolve));
    await new Promise<void>((resolve) => resource!.urn.apply(() => resolve()));
    return {};
  });
  seen.outputKeys = Object.keys(resource!).filter((k) => pulumi.Output.isInstance((resource as unknown as Record<string, unknown>)[k])).sort();
  return seen as Seen;
}

const spec: ContainerSpec = {
  name: "node-0-execution", role: "execution", client: "geth", image: "ethereum/client-go:v1.16.7", command: ["--datadir=/data"],
  env: { TZ: "UTC" }, ports: [{ containerPort: 30303, hostPort: 30303, protocol: "tcp" }] as ContainerSpec["ports"],
  mounts: [{ kind: "volume", source: "node-0-execution-data", target: "/data", readOnly: false }] as ContainerSpec["mounts"],
  restart: "unless-stopped", memoryMiB: 4096, stopGraceSec: 180,
  data: { volume: "node-0-execution-data", mountPath: "/data", reset: "wipe" as never }, dependsOn: [],
};
const containerArgs = dockerContainerArgs(spec, "node-0-net", "sha256:abc");
const connection = pulumi.secret({ host: "10.0.0.1", user: "root", privateKey: "KEY" });
const remoteArgs: command.remote.CommandArgs = { connection, create: "bash -c 'cat > /x'", update: "bash -c 'cat > /x'", delete: "rm -f /x", stdin: "content", triggers: ["sha256:1"], logging: "none" };
const localArgs: command.local.CommandArgs = { create: "echo hi", interpreter: ["/bin/bash", "-c"], logging: "none", triggers: ["a"] };

describe.each([
  ["docker.Container", () => new docker.Container("c", containerArgs, { retainOnDelete: true }), () => new DockerContainer("c", containerArgs, { retainOnDelete: true }), [] as string[]],
  ["docker.RemoteImage", () => new docker.RemoteImage("i", { name: spec.image, keepLocally: true }), () => new DockerImage("i", { name: spec.image, keepLocally: true }), ["imageId"]],
  ["docker.Volume", () => new docker.Volume("v", { name: "data", labels: [{ label: "ephemery.role", value: "execution" }] }, { retainOnDelete: true }),
    () => new DockerVolume("v", { name: "data", labels: [{ label: "ephemery.role", value: "execution" }] }, { retainOnDelete: true }), []],
  ["command.remote.Command", () => new command.remote.Command("r", remoteArgs, { additionalSecretOutputs: ["stdout"] }), () => new RemoteCommand("r", remoteArgs, { additionalSecretOutputs: ["stdout"] }), ["stdout"]],
  ["command.local.Command", () => new command.local.Command("l", localArgs, { additionalSecretOutputs: ["stdout"] }), () => new LocalCommand("l", localArgs, { additionalSecretOutputs: ["stdout"] }), ["stdout"]],
])("as %s", (_what, sdkClass, declaredClass, reads) => {
  test("the engine is sent the same type, inputs and options, and the outputs read come back", async () => {
    const sdk = await register(sdkClass, reads);
    const lean = await register(declaredClass, reads);
    expect(lean.type).toBe(sdk.type);
    expect(lean.inputs).toEqual(sdk.inputs);
    expect(Object.keys(lean.inputs).length).toBeGreaterThan(1);
    expect(lean.opts).toEqual(sdk.opts);
    expect(lean.opts.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(lean.values).toEqual(sdk.values);
  });

  test("only the inputs set and the outputs read become Outputs", async () => {
    const sdk = await register(sdkClass);
    const lean = await register(declaredClass);
    expect(lean.outputKeys).toEqual(["id", "urn", ...Object.keys(lean.inputs), ...reads].filter((k, i, a) => a.indexOf(k) === i).sort());
    expect(sdk.outputKeys.length).toBeGreaterThan(lean.outputKeys.length);
    expect(sdk.outputKeys).toEqual(expect.arrayContaining(lean.outputKeys));
  });
});

test("required inputs are required, as the SDK classes require them", () => {
  expect(() => new DockerContainer("c", { ...containerArgs, image: undefined } as unknown as docker.ContainerArgs)).toThrow("Missing required property 'image'");
  expect(() => new DockerImage("i", {} as docker.RemoteImageArgs)).toThrow("Missing required property 'name'");
  expect(() => new RemoteCommand("r", { create: "x" } as command.remote.CommandArgs)).toThrow("Missing required property 'connection'");
});
