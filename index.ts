/**
 * pulumi-ephemery: stack config -> one EphemeryNode per host. Everything else lives in components/ and lib/.
 */
import * as pulumi from "@pulumi/pulumi";
import { readProgramConfig } from "./components/config";
import { EphemeryNode } from "./components/ephemeryNode";
import { nodeOutputs } from "./components/outputs";
import { checkpointListsForHosts } from "./lib/checkpoint";

const { config, sshKeyFor, secrets } = readProgramConfig();

// Checkpoint providers are probed once, before any node is built (a plain promise, not an apply).
const checkpointLists = checkpointListsForHosts(config, { env: process.env, log: { info: (m) => pulumi.log.info(m), warn: (m) => pulumi.log.warn(m) } });

const nodes = checkpointLists.then((lists) => config.hosts.map(
  (host, i) =>
    new EphemeryNode(host.name, {
      config: host,
      network: config.network,
      checkpointSyncUrls: lists[i],
      sshPrivateKey: sshKeyFor(host.name),
      monitoringSecrets: { alertmanager: secrets.alertmanagerSecrets, grafanaAdminPassword: secrets.grafanaAdminPassword },
    }),
));

export const hosts = pulumi.output(nodes.then((ns) => ns.map(nodeOutputs)));
