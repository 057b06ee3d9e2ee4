/**
 * The two renderings of container specs. `docker`: one docker.Container (plus image and volume) per spec,
 * through the host's Docker provider, so `pulumi refresh` sees each container. `compose`: one compose project
 * per node, written to the host and converged with `docker compose up -d --remove-orphans`.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { specFacts } from "../lib/clients";
import { ContainerSpec } from "../lib/clients/types";
import { composeNetworkName, renderCompose } from "../lib/compose";
import { composeCommand } from "../lib/composeCommand";
import { shellQuote } from "../lib/hostScripts";
import { DockerContainer, DockerImage, DockerVolume } from "./declaredResources";
import { Host } from "./host";
import { hostCommand, hostFile } from "./hostCommand";

export interface DockerContainerResources {
  image: DockerImage;
  volume?: DockerVolume;
  container: DockerContainer;
}

/** The container args a spec turns into; exported for tests and for the policies' expectations. */
export function dockerContainerArgs(spec: ContainerSpec, network: pulumi.Input<string>, image: pulumi.Input<string>): docker.ContainerArgs {
  return {
    name: spec.name,
    image,
    entrypoints: spec.entrypoint,
    command: spec.command,
    envs: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    user: spec.user,
    restart: spec.restart,
    memory: spec.memoryMiB,
    destroyGraceSeconds: spec.stopGraceSec,
    stopTimeout: spec.stopGraceSec,
    ports: spec.ports
      .filter((p) => p.hostPort !== undefined)
      .map((p) => ({ internal: p.containerPort, external: p.hostPort, ip: p.bindAddress, protocol: p.protocol })),
    volumes: spec.mounts.map((m) =>
      m.kind === "volume"
        ? { volumeName: m.source, containerPath: m.target, readOnly: m.readOnly }
        : { hostPath: m.source, containerPath: m.target, readOnly: m.readOnly },
    ),
    networksAdvanced: [{ name: network, aliases: [spec.name] }],
    labels: [
      { label: "ephemery.role", value: spec.role },
      { label: "ephemery.client", value: spec.client },
    ],
    logDriver: "json-file",
    logOpts: { "max-size": "50m", "max-file": "5" },
    mustRun: true,
  };
}

/** Creates the image, data volume and container of one spec under `parent`. */
export function createDockerContainer(
  name: string,
  spec: ContainerSpec,
  network: docker.Network,
  parent: pulumi.Resource,
  dependsOn: pulumi.Input<pulumi.Resource>[],
): DockerContainerResources {
  const image = new DockerImage(`${name}-image`, { name: spec.image, keepLocally: true }, { parent });
  const volume = spec.data
    ? new DockerVolume(`${name}-volume`, { name: spec.data.volume, labels: [{ label: "ephemery.role", value: spec.role }] }, { parent, retainOnDelete: true })
    : undefined;
  const container = new DockerContainer(
    `${name}-container`,
    dockerContainerArgs(spec, network.name, image.imageId),
    { parent, dependsOn: [...dependsOn, ...(volume ? [volume] : [])] },
  );
  return { image, volume, container };
}

export interface ComposeProjectArgs {
  readonly host: Host;
  /** The node name: compose project, network and container prefix. */
  readonly node: string;
  readonly specs: ContainerSpec[];
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** One docker-compose.yml per node, converged on the host; it runs on without the workstation. */
export class ComposeProject extends pulumi.ComponentResource {
  public readonly file: string;
  public readonly content: string;

  constructor(name: string, args: ComposeProjectArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ephemery:containers:ComposeProject", name, { node: args.node, services: args.specs.map(specFacts) }, opts);
    this.content = renderCompose(args.node, args.specs);
    const dir = args.host.paths.compose;
    this.file = `${dir}/docker-compose.yml`;
    const compose = composeCommand(args.node, this.file);
    const write = hostFile(
      `${name}-file`,
      args.host.connection,
      { path: this.file, mode: "0644", content: this.content },
      { parent: this, dependsOn: [args.host.ready] },
    );
    // The file's digest is part of the command, so a new file updates in place (compose recreates only the
    // services that changed). A replacement would run the old resource's `down` after the new `up`; should one
    // happen anyway, it goes down first.
    const up = `${compose} up -d --remove-orphans # ${createHash("sha256").update(this.content).digest("hex").slice(0, 16)}`;
    hostCommand(
      `${name}-up`,
      args.host.connection,
      {
        create: up,
        update: up,
        // Named volumes are kept: chain data and node identity outlive the project.
        delete: `${compose} down --remove-orphans || true`,
      },
      { parent: this, dependsOn: [write, ...(args.dependsOn ?? [])], deleteBeforeReplace: true },
    );
    this.registerOutputs({ file: this.file, network: composeNetworkName(args.node), node: args.node, services: args.specs.map(specFacts) });
  }
}
