/**
 * pulumi-ephemery: stack config -> one EphemeryNode per host. Everything else lives in components/ and lib/.
 */
import * as pulumi from "@pulumi/pulumi";
import { readProgramConfig } from "./components/config";
import { EphemeryNode } from "./components/ephemeryNode";
import { nodeOutputs } from "./components/outputs";
import { checkpointListsForHosts } from "./lib/checkpoint";

export = async () => {
  const { config, sshKeyFor, secrets } = readProgramConfig();

  // Checkpoint providers are probed once, before any node is built, so each node gets a plain, ranked list.
  const log = { info: (m: string) => pulumi.log.info(m), warn: (m: string) => pulumi.log.warn(m) };
  const checkpointLists = await checkpointListsForHosts(config, { env: process.env, log });

  const nodes = config.hosts.map(
    (host, i) =>
      new EphemeryNode(host.name, {
        config: host,
        network: config.network,
        checkpointSyncUrls: checkpointLists[i],
        sshPrivateKey: sshKeyFor(host.name),
        monitoringSecrets: { alertmanager: secrets.alertmanagerSecrets, grafanaAdminPassword: secrets.grafanaAdminPassword },
      }),
  );

  return { hosts: pulumi.all(nodes.map(nodeOutputs)) };
};
