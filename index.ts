/**
 * pulumi-ephemery: stack config -> one EphemeryNode per host. Everything else lives in components/ and lib/.
 */
import * as pulumi from "@pulumi/pulumi";
import { readProgramConfig } from "./components/config";
import { EphemeryNode } from "./components/ephemeryNode";
import { nodeOutputs } from "./components/outputs";

const { config, sshKeyFor } = readProgramConfig();

const nodes = config.hosts.map(
  (host) =>
    new EphemeryNode(host.name, {
      config: host,
      network: config.network,
      checkpointSyncUrls: host.consensus.checkpointSyncUrls ?? config.network.checkpointSyncUrls,
      sshPrivateKey: sshKeyFor(host.name),
    }),
);

export const hosts = pulumi.all(nodes.map(nodeOutputs));
