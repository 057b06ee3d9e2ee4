/**
 * The fleet monitor. FleetCredentials (one per stack) holds the TLS key pair and the secret every node's
 * remote_write password derives from; FleetMonitor runs the receiving Prometheus, its Alertmanager and (when the
 * host runs Grafana) a Grafana with the fleet dashboard beside the monitor host's node, through the same container
 * and host-file code as the node's own monitoring stack.
 */
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ContainerSpec } from "../lib/clients/types";
import { FleetConfig } from "../lib/config/fleet";
import { HostConfig } from "../lib/config/schema";
import { shellQuote } from "../lib/hostScripts";
import { secretLookup } from "../lib/monitoring";
import { renderAlertmanagerConfig } from "../lib/monitoring/alertmanager";
import { RemoteWriteTarget } from "../lib/monitoring/fleet";
import {
  buildFleetSpecs, certificateNames, certificateScript, FLEET_GRAFANA_USER, FLEET_ROLES, fleetPassword, fleetPaths, fleetSpecList, FleetTls,
  parseCertificateOutput, remoteWriteTarget, renderFleetDatasource, renderFleetFiles, renderFleetWebFile,
} from "../lib/monitoring/fleetMonitor";
import { containerName } from "../lib/clients/common";
import { createDockerContainer } from "./containers";
import { Host } from "./host";
import { hostCommand, hostFile } from "./hostCommand";
import { installFilesScript } from "./monitoringStack";

export interface FleetCredentialsArgs {
  readonly fleet: FleetConfig;
  /** The address nodes dial (fleet.address or the monitor host's). */
  readonly address: string;
  /** `ephemery:fleetTls` (a secret). Default: a CA and certificate made once with openssl on the workstation. */
  readonly tls?: pulumi.Input<FleetTls>;
  /** `ephemery:fleetPasswords` (a secret). Default: derived per node from a generated fleet secret. */
  readonly passwords?: pulumi.Input<Record<string, string>>;
}

/** What a node's Prometheus needs to send to the fleet monitor. */
export interface NodeRemoteWrite {
  readonly target: RemoteWriteTarget;
  /** The node's password, a secret. */
  readonly password: pulumi.Output<string>;
  readonly caCertificate: pulumi.Output<string>;
}

export class FleetCredentials extends pulumi.ComponentResource {
  /** The TLS key pair and CA, a secret. */
  public readonly tls: pulumi.Output<FleetTls>;
  private readonly secret: pulumi.Output<string>;
  private readonly given: pulumi.Output<Record<string, string>>;

  constructor(name: string, private readonly args: FleetCredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ephemery:fleet:FleetCredentials", name, { monitor: args.fleet.host, address: args.address, port: args.fleet.port }, opts);
    const generate = (what: string, create: string) =>
      new command.local.Command(`${name}-${what}-generate`, { create, interpreter: ["/bin/bash", "-c"], logging: "none" }, { parent: this, additionalSecretOutputs: ["stdout"] });
    // The certificate is remade when the names it must carry change (the create command holds them).
    this.tls = pulumi.secret(args.tls !== undefined
      ? pulumi.output(args.tls)
      : generate("tls", certificateScript(certificateNames(args.fleet.host, args.address))).stdout.apply(parseCertificateOutput));
    this.secret = pulumi.secret(generate("secret", `node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64url'))"`).stdout);
    this.given = pulumi.secret(pulumi.output(args.passwords ?? {}));
    this.registerOutputs({ address: args.address });
  }

  /** The password of a basic-auth user (a node, or the fleet Grafana), a secret. */
  passwordOf(user: string): pulumi.Output<string> {
    return pulumi.secret(pulumi.all([this.secret, this.given]).apply(([s, g]) => fleetPassword(user, s, g)));
  }

  /** The web config's users for `nodes` and the fleet Grafana, a secret. */
  webConfig(nodes: string[]): pulumi.Output<string> {
    return pulumi.secret(pulumi.all([this.secret, this.given]).apply(([s, g]) =>
      renderFleetWebFile(Object.fromEntries([...nodes, FLEET_GRAFANA_USER].map((u) => [u, fleetPassword(u, s, u === FLEET_GRAFANA_USER ? undefined : g)])))));
  }

  forNode(node: string): NodeRemoteWrite {
    return {
      target: remoteWriteTarget(this.args.fleet.host, node, this.args.address, this.args.fleet),
      password: this.passwordOf(node),
      caCertificate: this.tls.apply((t) => t.caCertificate),
    };
  }
}

export interface FleetMonitorArgs {
  /** The monitor host (its node's Host) and its validated settings. */
  readonly host: Host;
  readonly config: HostConfig;
  readonly fleet: FleetConfig;
  readonly credentials: FleetCredentials;
  /** Every node that sends: one basic-auth user each. */
  readonly nodes: string[];
  /** The node's Docker network (docker runtime); undefined in the compose runtime, where the node's project runs the containers. */
  readonly network?: docker.Network;
  /** `ephemery:alertmanagerSecrets` (a secret), for fleet.receivers. */
  readonly alertmanagerSecrets?: pulumi.Input<Record<string, string>>;
  /** The monitor host's Grafana admin password (a secret); needed when its Grafana is on. */
  readonly grafanaAdminPassword?: pulumi.Input<string>;
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export class FleetMonitor extends pulumi.ComponentResource {
  public readonly containerSpecs: ContainerSpec[];
  public readonly filesReady: pulumi.Resource[];

  constructor(name: string, args: FleetMonitorArgs, opts?: pulumi.ComponentResourceOptions) {
    const cfg = args.config;
    const specs = fleetSpecList(buildFleetSpecs(cfg, args.fleet));
    super("ephemery:fleet:FleetMonitor", name, {
      node: cfg.name,
      nodes: args.nodes,
      ports: specs.flatMap((s) => s.ports.map((p) => ({ container: s.name, ...p }))),
    }, opts);
    this.containerSpecs = specs;
    const { host } = args;
    const paths = fleetPaths(cfg.dataDir, cfg.name);
    const after = { parent: this, dependsOn: [host.ready] };
    const prometheus = containerName(cfg.name, FLEET_ROLES.prometheus);
    const reload = (container: string) => `docker kill --signal=HUP ${shellQuote(container)} >/dev/null 2>&1 || true`;
    const secretFile = (id: string, path: string, content: pulumi.Input<string>, afterWrite?: string) =>
      hostFile(`${name}-${id}`, host.connection, { path, mode: "0600", dirMode: "0700", content, quiet: true, afterWrite }, after);

    const install = installFilesScript(paths.root, paths.root, renderFleetFiles(cfg, args.fleet), prometheus);
    const files = hostCommand(`${name}-files`, host.connection, { create: "bash -s", update: "bash -s", stdin: install, delete: `rm -rf ${shellQuote(paths.root)}` }, after);
    const tls = args.credentials.tls;
    const cert = hostFile(`${name}-certificate`, host.connection, { path: paths.serverCert, mode: "0644", dirMode: "0700", content: tls.apply((t) => t.certificate), quiet: true, afterWrite: reload(prometheus) }, after);
    const key = secretFile("key", paths.serverKey, tls.apply((t) => t.privateKey), reload(prometheus));
    const web = secretFile("web-config", paths.webConfig, args.credentials.webConfig(args.nodes), reload(prometheus));
    const am = secretFile("alertmanager-config", paths.alertmanagerConfig,
      pulumi.secret(pulumi.output(args.alertmanagerSecrets ?? {}).apply((s) => renderAlertmanagerConfig(args.fleet, secretLookup(s), `${cfg.name} (fleet monitor)`))),
      reload(containerName(cfg.name, FLEET_ROLES.alertmanager)));
    this.filesReady = [files, cert, key, web, am];
    if (cfg.monitoring.grafana) {
      if (args.grafanaAdminPassword === undefined) throw new Error(`fleet monitor on ${cfg.name}: Grafana is on but no admin password was passed`);
      const datasource = pulumi.secret(pulumi.all([args.credentials.passwordOf(FLEET_GRAFANA_USER), tls]).apply(([pw, t]) =>
        renderFleetDatasource(cfg.name, args.fleet.port, pw, t.caCertificate)));
      this.filesReady.push(
        secretFile("grafana-datasource", paths.grafanaDatasource, datasource),
        secretFile("grafana-password", paths.grafanaPassword, args.grafanaAdminPassword),
      );
    }
    if (args.network) {
      for (const spec of specs) {
        // n1-fleet-prometheus, n1-fleet-alertmanager, n1-fleet-grafana: the container's name is the resource's.
        createDockerContainer(spec.name, spec, args.network, this, [...this.filesReady, ...(args.dependsOn ?? [])]);
      }
    }
    this.registerOutputs({ node: cfg.name, nodes: args.nodes });
  }
}
