/**
 * One Ephemery node on one host: the machine, its network files, execution / consensus / validator clients,
 * validator keys, monitoring, and the reset job. A thin class over `buildNode`, which tests call directly.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { buildNodeSpecs, NodeSpecs, p2pPortsOf, requiredDiskGiB, validatorClientOf } from "../lib/clients";
import { FleetConfig } from "../lib/config/fleet";
import { HostConfig, NetworkConfig } from "../lib/config/schema";
import { composeNetworkName } from "../lib/compose";
import { composeCommand } from "../lib/composeCommand";
import { ComposeProject } from "./containers";
import { ConsensusClient } from "./consensusClient";
import { ExecutionClient } from "./executionClient";
import { FleetCredentials, FleetMonitor } from "./fleetMonitor";
import { Host } from "./host";
import { HostDrift } from "./hostDrift";
import { MonitoringStack } from "./monitoringStack";
import { JwtSecret } from "./networkFiles";
import { ResetJob } from "./resetJob";
import { ValidatorClient } from "./validatorClient";
import { KeystorePasswords, stackKeystorePasswords, ValidatorKeys } from "./validatorKeys";

export interface EphemeryNodeArgs {
  /** The validated host settings (`hosts[i]`). */
  readonly config: HostConfig;
  /** Network-wide settings (`ephemery:network`). */
  readonly network: NetworkConfig;
  /** Checkpoint providers in the order to try (already ranked); empty means genesis sync. */
  readonly checkpointSyncUrls: string[];
  /** SSH private key for this host (a secret); unused for local hosts. */
  readonly sshPrivateKey?: pulumi.Input<string>;
  /** Secrets of the monitoring stack (`ephemery:alertmanagerSecrets`, `ephemery:grafanaAdminPassword`). Default: none. */
  readonly monitoringSecrets?: { alertmanager?: pulumi.Input<Record<string, string>>; grafanaAdminPassword?: pulumi.Input<string> };
  /** Keystore passwords for this host's validator keys (secrets). Default: read from the stack's keystorePassword(s). */
  readonly keystorePasswords?: pulumi.Input<KeystorePasswords>;
  /** The key paying this host's automatic re-deposits (`ephemery:depositFundingKeys.<host>`, a secret). Default: none. */
  readonly depositFundingKey?: pulumi.Input<string>;
  /** The fleet monitor (`ephemery:fleet`): where this node's Prometheus sends, and, on the monitor host, what it runs. Default: none. */
  readonly fleet?: { credentials: FleetCredentials; monitor?: { fleet: FleetConfig; nodes: string[] } };
}

export class EphemeryNode extends pulumi.ComponentResource {
  public readonly host: Host;
  public readonly specs: NodeSpecs;
  public readonly execution: ExecutionClient;
  public readonly consensus: ConsensusClient;
  public readonly validator?: ValidatorClient;
  public readonly keys?: ValidatorKeys;
  public readonly resetJob: ResetJob;
  public readonly jwt: JwtSecret;
  public readonly monitoring?: MonitoringStack;
  public readonly fleetMonitor?: FleetMonitor;

  constructor(name: string, args: EphemeryNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    const facts = {
      node: args.config.name,
      runtime: args.config.runtime,
      validator: args.config.validator !== undefined,
      monitoring: args.config.monitoring.enabled,
      checkpointSyncUrls: args.checkpointSyncUrls,
    };
    super("ephemery:node:EphemeryNode", name, facts, opts);
    const cfg = args.config;
    const specs = buildNodeSpecs({ node: cfg.name, host: cfg, checkpointSyncUrls: args.checkpointSyncUrls });
    this.specs = specs;
    const fleetMonitor = args.fleet?.monitor;

    this.host = new Host(
      `${name}-host`,
      // The fleet monitor's receive port is the one port it adds to the monitor host's firewall.
      { config: cfg, sshPrivateKey: args.sshPrivateKey, requiredDiskGiB: requiredDiskGiB(cfg), p2pPorts: [...p2pPortsOf(specs), ...(fleetMonitor ? [{ port: fleetMonitor.fleet.port, protocol: "tcp" as const }] : [])] },
      { parent: this },
    );
    this.jwt = new JwtSecret(`${name}-jwt`, { host: this.host }, { parent: this });
    this.resetJob = new ResetJob(`${name}-reset`, { host: this.host, config: cfg, network: args.network, specs, depositFundingKey: args.depositFundingKey }, { parent: this });
    const filesReady: pulumi.Resource[] = [this.jwt.file, this.resetJob.releaseReady];

    // Containers of the docker runtime share one network; the compose runtime declares its own of the same name.
    const childOpts: pulumi.ComponentResourceOptions = this.host.dockerProvider
      ? { parent: this, providers: { docker: this.host.dockerProvider } }
      : { parent: this };
    const network = cfg.runtime === "docker"
      ? new docker.Network(`${name}-network`, { name: composeNetworkName(cfg.name), driver: "bridge" }, { parent: this, provider: this.host.dockerProvider })
      : undefined;

    this.execution = new ExecutionClient(`${name}-execution`, { spec: specs.execution, runtime: cfg.runtime, network, dependsOn: filesReady }, childOpts);
    this.consensus = new ConsensusClient(
      `${name}-consensus`,
      { spec: specs.consensus, runtime: cfg.runtime, network, dependsOn: [...filesReady, ...optional(this.execution.container)] },
      childOpts,
    );
    if (specs.validator && cfg.validator?.keys) {
      this.keys = new ValidatorKeys(
        `${name}-keys`,
        { host: this.host, config: cfg, spec: specs.validator, validatorClient: validatorClientOf(cfg)!, passwords: args.keystorePasswords ?? stackKeystorePasswords(cfg.name), dependsOn: filesReady },
        { parent: this },
      );
    }
    if (specs.validator) {
      this.validator = new ValidatorClient(
        `${name}-validator`,
        { spec: specs.validator, runtime: cfg.runtime, network, dependsOn: [...filesReady, ...optional(this.consensus.container), ...optional(this.keys?.installed)] },
        childOpts,
      );
    }

    this.monitoring = cfg.monitoring.enabled
      ? new MonitoringStack(
        `${name}-monitoring`,
        {
          host: this.host, config: cfg, clients: specs, network, alertmanagerSecrets: args.monitoringSecrets?.alertmanager, grafanaAdminPassword: args.monitoringSecrets?.grafanaAdminPassword, dependsOn: filesReady,
          remoteWrite: args.fleet?.credentials.forNode(cfg.name),
        },
        childOpts,
      )
      : undefined;
    if (fleetMonitor && args.fleet) {
      this.fleetMonitor = new FleetMonitor(
        `${name}-fleet`,
        {
          host: this.host, config: cfg, fleet: fleetMonitor.fleet, credentials: args.fleet.credentials, nodes: fleetMonitor.nodes, network,
          alertmanagerSecrets: args.monitoringSecrets?.alertmanager, grafanaAdminPassword: this.monitoring?.grafanaAdminPassword, dependsOn: filesReady,
        },
        childOpts,
      );
    }

    if (cfg.runtime === "compose") {
      const composeSpecs = [specs.execution, specs.consensus, ...optional(specs.validator), ...(this.monitoring?.containerSpecs ?? []), ...(this.fleetMonitor?.containerSpecs ?? [])];
      const compose = new ComposeProject(
        `${name}-compose`,
        {
          host: this.host,
          node: cfg.name,
          specs: composeSpecs,
          dependsOn: [...filesReady, ...(this.monitoring?.filesReady ?? []), ...(this.fleetMonitor?.filesReady ?? []), ...optional(this.keys?.installed)],
        },
        { parent: this },
      );
      // Compose containers and host files are invisible to `refresh` otherwise (command resources have no Read).
      new HostDrift(
        `${name}-drift`,
        {
          connection: this.host.connection,
          files: [
            { path: this.jwt.path, mode: "0600", content: this.jwt.value },
            { path: compose.file, mode: "0644", content: compose.content },
            // The reset program, and with re-deposit on its program and the funding key (a secret, kept encrypted).
            ...this.resetJob.files,
            ...(this.monitoring?.watchedFiles ?? []),
          ],
          compose: { command: composeCommand(cfg.name, compose.file), containers: composeSpecs.map((s) => ({ name: s.name, image: s.image })) },
        },
        { parent: this, dependsOn: [compose, this.jwt, this.resetJob] },
      );
    }

    this.registerOutputs(facts);
  }
}

function optional<T>(x: T | undefined): T[] {
  return x === undefined ? [] : [x];
}
