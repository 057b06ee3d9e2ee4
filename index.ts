/**
 * pulumi-ephemery: stack config -> one EphemeryNode per host. Everything else lives in components/ and lib/.
 */
import * as pulumi from "@pulumi/pulumi";
import { readProgramConfig } from "./components/config";
import { EphemeryNode } from "./components/ephemeryNode";
import { FleetCredentials } from "./components/fleetMonitor";
import { KubernetesNode, kubernetesNodeOutputs } from "./components/kubernetesNode";
import { fleetAddress } from "./lib/config/fleetChecks";
import { nodeOutputs } from "./components/outputs";
import { promiseStacksOffForRun } from "./components/promiseStacks";
import { holdKeyMoveRegistry } from "./components/validatorKeys";
import { checkpointListsForHosts } from "./lib/checkpoint";
import { resolveHostKind } from "./lib/config/schema";

export = async () => {
  const { config, sshKeyFor, fundingKeyFor, kubeconfigFor, secrets } = readProgramConfig();

  // Checkpoint providers are probed once, before any node is built, so each node gets a plain, ranked list.
  const log = { info: (m: string) => pulumi.log.info(m), warn: (m: string) => pulumi.log.warn(m) };
  const checkpointLists = await checkpointListsForHosts(config, { env: process.env, log });

  // Host by host, yielding between them: the SDK holds a few promises per output property of every resource
  // until the engine answers its registration, so letting earlier hosts' registrations go out (and, in a
  // preview, come back) before building the next keeps a fleet's peak memory from growing with every host.
  // Key installs wait for every host's key release: the registry stays open until the last host is built.
  // The fleet monitor's credentials come first: every node's Prometheus gets its password and the CA.
  const fleet = config.fleet;
  const credentials = fleet
    ? new FleetCredentials("fleet", { fleet, address: fleetAddress(config)!, tls: secrets.fleetTls, passwords: secrets.fleetPasswords })
    : undefined;
  const nodeNames = config.hosts.map((h) => h.name);
  const buildDone = holdKeyMoveRegistry();
  // Host order is kept: one output entry per host, whatever its kind.
  const outputs: pulumi.Output<unknown>[] = [];
  // No promise stacks from here on: not while building, nor while the SDK registers what was built (in later
  // ticks). Errors keep their message (all this program's errors say what to fix in it).
  promiseStacksOffForRun();
  try {
    for (const [i, host] of config.hosts.entries()) {
      if (resolveHostKind(host) === "kubernetes") {
        // The loader refused a kubernetes host without a kubeconfig, so there is one.
        const node = new KubernetesNode(host.name, {
          config: host, network: config.network, checkpointSyncUrls: checkpointLists[i], kubeconfig: kubeconfigFor(host.name)!,
          alertmanagerSecrets: secrets.alertmanagerSecrets, grafanaAdminPassword: secrets.grafanaAdminPassword,
        });
        outputs.push(kubernetesNodeOutputs(node, host));
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const node = new EphemeryNode(host.name, {
        config: host,
        network: config.network,
        checkpointSyncUrls: checkpointLists[i],
        sshPrivateKey: sshKeyFor(host.name),
        depositFundingKey: fundingKeyFor(host.name),
        monitoringSecrets: { alertmanager: secrets.alertmanagerSecrets, grafanaAdminPassword: secrets.grafanaAdminPassword },
        fleet: credentials && { credentials, monitor: fleet!.host === host.name ? { fleet: fleet!, nodes: nodeNames } : undefined },
      });
      outputs.push(nodeOutputs(node));
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    buildDone();
  }

  return { hosts: pulumi.all(outputs) };
};
