/** What the three client components share: a spec, and its Docker resources when the node uses that runtime. */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { specFacts } from "../lib/clients";
import { ContainerSpec } from "../lib/clients/types";
import { Runtime } from "../lib/config/schema";
import { createDockerContainer } from "./containers";
import { DockerContainer } from "./declaredResources";

export interface ClientContainerArgs {
  /** The client's container spec, from its module in lib/clients. */
  readonly spec: ContainerSpec;
  /** `docker` creates the container here; `compose` leaves it to the node's compose project. */
  readonly runtime: Runtime;
  /** The node's Docker network (docker runtime only). */
  readonly network?: docker.Network;
  /** Resources the container waits for (files on the host, the client it talks to). */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export abstract class ClientContainer extends pulumi.ComponentResource {
  public readonly spec: ContainerSpec;
  public readonly image: string;
  public readonly containerName: string;
  /** The container resource (docker runtime), for dependencies and outputs. */
  public readonly container?: DockerContainer;

  protected constructor(type: string, name: string, args: ClientContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    // Plain facts about the container as the component's inputs, so policies judge both runtimes alike.
    super(type, name, specFacts(args.spec), opts);
    this.spec = args.spec;
    this.image = args.spec.image;
    this.containerName = args.spec.name;
    if (args.runtime === "docker") {
      if (!args.network) throw new Error(`${name}: the docker runtime needs the node's network`);
      this.container = createDockerContainer(name, args.spec, args.network, this, args.dependsOn ?? []).container;
    }
    this.registerOutputs({ ...specFacts(this.spec), containerName: this.containerName });
  }
}

