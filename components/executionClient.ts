import * as pulumi from "@pulumi/pulumi";
import { ClientContainer, ClientContainerArgs } from "./clientContainer";

/** The execution client of one node; its container spec comes from lib/clients/execution. */
export class ExecutionClient extends ClientContainer {
  constructor(name: string, args: ClientContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ephemery:execution:ExecutionClient", name, args, opts);
  }
}
