/**
 * DockerContainer registers what docker.Container registers (type, inputs, provider version) while declaring
 * only the properties it sets, so the SDK makes a handful of Outputs per container instead of ~80.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DockerContainer, dockerContainerArgs } from "../../components/containers";
import { ContainerSpec } from "../../lib/clients/types";

interface Seen { type: string; inputs: Record<string, unknown>; version?: string; outputKeys: string[] }

/** Builds one container with `make` under mocks; returns what the engine would be sent, and the resource's own keys. */
async function register(make: (name: string, args: docker.ContainerArgs) => pulumi.CustomResource, args: docker.ContainerArgs): Promise<Seen> {
  const seen: Partial<Seen> = {};
  await pulumi.runtime.setMocks({
    newResource(a) { seen.type = a.type; seen.inputs = a.inputs; return { id: `${a.name}-id`, state: a.inputs }; },
    call() { throw new Error("no calls expected"); },
  }, "ephemery", "test", false);
  let resource: pulumi.CustomResource | undefined;
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((t) => { if (t.type.startsWith("docker:")) seen.version = t.opts.version; return undefined; });
    resource = make("c", args);
    await new Promise<void>((resolve) => resource!.urn.apply(() => resolve()));
    return {};
  });
  seen.outputKeys = Object.keys(resource!).filter((k) => pulumi.Output.isInstance((resource as unknown as Record<string, unknown>)[k]));
  return seen as Seen;
}

describe("DockerContainer", () => {
  const spec: ContainerSpec = {
    name: "node-0-execution", role: "execution", client: "geth", image: "ethereum/client-go:v1.16.7", command: ["--datadir=/data"],
    env: { TZ: "UTC" }, ports: [{ containerPort: 30303, hostPort: 30303, protocol: "tcp" }] as ContainerSpec["ports"],
    mounts: [{ kind: "volume", source: "node-0-execution-data", target: "/data", readOnly: false }] as ContainerSpec["mounts"],
    restart: "unless-stopped", memoryMiB: 4096, stopGraceSec: 180,
    data: { volume: "node-0-execution-data", mountPath: "/data", reset: "wipe" as never }, dependsOn: [],
  };
  const args = dockerContainerArgs(spec, "node-0-net", "sha256:abc");

  test("the engine is sent the same type, inputs and provider version as with docker.Container", async () => {
    const sdk = await register((n, a) => new docker.Container(n, a), args);
    const lean = await register((n, a) => new DockerContainer(n, a, {}), args);
    expect(lean.type).toBe("docker:index/container:Container");
    expect(lean.type).toBe(sdk.type);
    expect(lean.inputs).toEqual(sdk.inputs);
    expect(Object.keys(lean.inputs)).toEqual(expect.arrayContaining(["image", "name", "envs", "networksAdvanced", "mustRun"]));
    expect(lean.version).toBe(sdk.version);
    expect(lean.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  test("only the properties it sets become Outputs", async () => {
    const sdk = await register((n, a) => new docker.Container(n, a), args);
    const lean = await register((n, a) => new DockerContainer(n, a, {}), args);
    const set = Object.entries(args).filter(([, v]) => v !== undefined).map(([k]) => k);
    expect(lean.outputKeys.sort()).toEqual(["id", "urn", ...set].sort());
    expect(sdk.outputKeys.length).toBeGreaterThan(lean.outputKeys.length * 3);
  });

  test("an image is required, as docker.Container requires it", () => {
    expect(() => new DockerContainer("c", { ...args, image: undefined } as unknown as docker.ContainerArgs, {})).toThrow("Missing required property 'image'");
  });
});
