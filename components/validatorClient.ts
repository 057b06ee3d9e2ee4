import * as pulumi from "@pulumi/pulumi";
import { ClientContainer, ClientContainerArgs } from "./clientContainer";

/** The validator client of one node; its container spec comes from lib/clients/validator. */
export class ValidatorClient extends ClientContainer {
  constructor(name: string, args: ClientContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ephemery:validator:ValidatorClient", name, args, opts);
  }
}
