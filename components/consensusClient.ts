import * as pulumi from "@pulumi/pulumi";
import { ClientContainer, ClientContainerArgs } from "./clientContainer";

/** The consensus client of one node; its container spec comes from lib/clients/consensus. */
export class ConsensusClient extends ClientContainer {
  constructor(name: string, args: ClientContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ephemery:consensus:ConsensusClient", name, args, opts);
  }
}
