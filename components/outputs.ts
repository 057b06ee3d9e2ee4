/** What each node exports: where it is, what runs there, and its local API ports. Nothing secret. */
import * as pulumi from "@pulumi/pulumi";
import { EphemeryNode } from "./ephemeryNode";

export function nodeOutputs(node: EphemeryNode) {
  const cfg = node.host.config;
  const { execution, consensus, validator } = node.specs;
  return pulumi.all([node.host.address, node.resetJob.installedIteration]).apply(([address, iteration]) => ({
    name: cfg.name,
    kind: node.host.kind,
    address,
    runtime: cfg.runtime,
    iteration,
    clients: {
      execution: { client: execution.client, image: execution.image, container: execution.name },
      consensus: { client: consensus.client, image: consensus.image, container: consensus.name },
      ...(validator ? { validator: { client: validator.client, image: validator.image, container: validator.name } } : {}),
    },
    localPorts: {
      rpc: cfg.execution.rpcPort,
      ws: cfg.execution.wsPort,
      beaconApi: cfg.consensus.beaconApiPort,
      ...(validator ? { keymanager: cfg.validator!.keymanagerPort } : {}),
    },
  }));
}
