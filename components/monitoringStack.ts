/**
 * A node's monitoring stack: Prometheus, Alertmanager, Grafana, node-exporter and the validator exporter, with the
 * files lib/monitoring renders written under `<node dir>/monitoring`. In the docker runtime it creates its own
 * containers on the node's network; in the compose runtime the node adds `containerSpecs` to its compose project.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { NodeSpecs } from "../lib/clients";
import { ContainerSpec } from "../lib/clients/types";
import { HostConfig } from "../lib/config/schema";
import { packagedFileText, renderHostScript, shellQuote } from "../lib/hostScripts";
import { monitoringPaths, monitoringSpecList, placeholderSecrets, renderMonitoring, secretLookup } from "../lib/monitoring";
import { containerMetricsCron, containerMetricsCronFile, containerMetricsValues, CONTAINER_METRICS_SCRIPT } from "../lib/monitoring/hostFiles";
import { RenderedFile } from "../lib/monitoring";
import { renderAlertmanagerConfig } from "../lib/monitoring/alertmanager";
import { remoteWritePaths } from "../lib/monitoring/fleetMonitor";
import { createDockerContainer } from "./containers";
import { LocalCommand } from "./declaredResources";
import type { NodeRemoteWrite } from "./fleetMonitor";
import { Host } from "./host";
import { hostCommand, hostFile } from "./hostCommand";
import type { WatchedFile } from "./hostDrift";

/** The exporter's source, installed on the host and mounted into a pinned node image. */
export const EXPORTER_SOURCE = path.join(__dirname, "..", "exporter", "validator-exporter.js");

export interface MonitoringStackArgs {
  readonly host: Host;
  /** The validated host settings; decide what gets built. */
  readonly config: HostConfig;
  /** The node's client containers: each with `metrics` becomes a scrape job. */
  readonly clients: NodeSpecs;
  /** The node's Docker network (docker runtime); undefined in the compose runtime, where the node's project runs the containers. */
  readonly network?: docker.Network;
  /** `ephemery:alertmanagerSecrets` (a secret); needed when receivers refer to secrets. Default: none. */
  readonly alertmanagerSecrets?: pulumi.Input<Record<string, string>>;
  /** `ephemery:grafanaAdminPassword` (a secret). Default: generated once and kept in state as a secret. */
  readonly grafanaAdminPassword?: pulumi.Input<string>;
  /** Resources the containers wait for (the node's files). Default: none. */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
  /** Where Prometheus also sends its series (the fleet monitor). Default: nowhere; the rendered files stay as they are. */
  readonly remoteWrite?: NodeRemoteWrite;
}

export class MonitoringStack extends pulumi.ComponentResource {
  /** The stack's containers; the compose runtime adds them to the node's project. */
  public readonly containerSpecs: ContainerSpec[];
  /** Done when every config file is on the host; containers (or the compose project) wait for these. */
  public readonly filesReady: pulumi.Resource[];
  /** Grafana's admin password, a Pulumi secret; undefined when Grafana is off. */
  public readonly grafanaAdminPassword?: pulumi.Output<string>;
  public readonly alertCount: number;
  /** Files the node's drift guard watches besides its own: the fleet password and CA (none without a fleet). */
  public readonly watchedFiles: WatchedFile[] = [];

  constructor(name: string, args: MonitoringStackArgs, opts?: pulumi.ComponentResourceOptions) {
    const cfg = args.config;
    // Plain rendering first: it decides what exists and gives the policy inputs (secrets stay out of it).
    const plain = renderMonitoring(cfg, args.clients, placeholderSecrets, args.remoteWrite?.target);
    const specs = monitoringSpecList(plain.specs);
    super("ephemery:monitoring:MonitoringStack", name, {
      node: cfg.name,
      alerts: plain.alertCount,
      ports: specs.flatMap((s) => s.ports.map((p) => ({ container: s.name, ...p }))),
      exposePublicly: cfg.monitoring.exposePublicly,
    }, opts);
    this.containerSpecs = specs;
    this.alertCount = plain.alertCount;
    const { host } = args;
    const paths = monitoringPaths(cfg.dataDir, cfg.name);
    const after = { parent: this, dependsOn: [host.ready] };

    // Plain files in one round trip: each written atomically, then Prometheus is told to reload.
    const exporterFile: RenderedFile = { path: "exporter/validator-exporter.js", hostPath: "exporter/validator-exporter.js", content: packagedFileText(EXPORTER_SOURCE) };
    const rw = args.remoteWrite;
    const install = installFilesScript(paths.root, paths.textfile, [...plain.files, exporterFile], `${cfg.name}-prometheus`);
    // Rerun in place when the files change; destroy takes the whole monitoring directory (metrics live in volumes).
    const files = hostCommand(`${name}-files`, host.connection, { create: "bash -s", update: "bash -s", stdin: install, delete: `rm -rf ${shellQuote(paths.root)}` }, after);

    // alertmanager.yml holds receiver URLs and tokens: a secret end to end, written 0600 in a 0700 directory.
    // Only alertmanager.yml depends on the secrets: rendering the whole stack again (dashboards, rules) for it
    // doubled each host's rendering. It is the same function renderMonitoring uses for that file.
    const amContent = pulumi.secret(pulumi.output(args.alertmanagerSecrets ?? {}).apply((s) =>
      renderAlertmanagerConfig(cfg.monitoring, secretLookup(s), cfg.name)));
    const alertmanagerFile = hostFile(
      `${name}-alertmanager-config`,
      host.connection,
      { path: paths.alertmanagerConfig, mode: "0600", dirMode: "0700", content: amContent, quiet: true, afterWrite: reload(`${cfg.name}-alertmanager`) },
      after,
    );

    // Grafana's admin password: configured, or generated once on the workstation and kept as a secret.
    let passwordFile: pulumi.Resource | undefined;
    if (cfg.monitoring.grafana) {
      const generated = args.grafanaAdminPassword === undefined
        ? new LocalCommand(
          `${name}-grafana-password-generate`,
          { create: `node -e "process.stdout.write(require('crypto').randomBytes(24).toString('base64url'))"`, logging: "none" },
          { parent: this, additionalSecretOutputs: ["stdout"] },
        )
        : undefined;
      this.grafanaAdminPassword = pulumi.secret(generated ? generated.stdout : pulumi.output(args.grafanaAdminPassword!));
      passwordFile = hostFile(
        `${name}-grafana-password`,
        host.connection,
        { path: paths.grafanaPassword, mode: "0600", dirMode: "0700", content: this.grafanaAdminPassword, quiet: true },
        after,
      );
    }

    // Restart counts for the ContainerRestarting alert, published every minute through the textfile collector.
    const script = renderHostScript(CONTAINER_METRICS_SCRIPT, containerMetricsValues(cfg.name, paths.textfile));
    const scriptFile = hostFile(`${name}-container-metrics`, host.connection, { path: paths.containerMetricsScript, mode: "0755", content: script }, after);
    const cronFile = containerMetricsCronFile(cfg.name);
    const cron = containerMetricsCron(cfg.name, paths.containerMetricsScript);
    hostFile(`${name}-container-metrics-schedule`, host.connection, { path: cronFile, mode: "0644", content: cron }, { parent: this, dependsOn: [scriptFile] });

    this.filesReady = [files, alertmanagerFile, ...(passwordFile ? [passwordFile] : [])];
    if (rw) {
      // The fleet password (0600, never in prometheus.yml) and CA beside prometheus.yml, in the directory it mounts.
      const rwPaths = remoteWritePaths(cfg.dataDir, cfg.name);
      const fleetFile = (id: string, file: string, mode: string, content: pulumi.Input<string>) => {
        this.watchedFiles.push({ path: file, mode, content });
        return hostFile(`${name}-${id}`, host.connection, { path: file, mode, dirMode: "0700", content, quiet: true, afterWrite: reload(`${cfg.name}-prometheus`) }, after);
      };
      this.filesReady.push(fleetFile("fleet-password", rwPaths.password, "0600", rw.password), fleetFile("fleet-ca", rwPaths.ca, "0644", rw.caCertificate));
    }
    if (args.network) {
      for (const spec of specs) {
        createDockerContainer(`${name}-${spec.name.slice(cfg.name.length + 1)}`, spec, args.network, this, [...this.filesReady, ...(args.dependsOn ?? [])]);
      }
    }
    this.registerOutputs({ alertCount: this.alertCount });
  }
}


/** Prometheus and Alertmanager reread their config on SIGHUP; a container that does not exist yet reads it at start. */
function reload(container: string): string {
  return `docker kill --signal=HUP ${shellQuote(container)} >/dev/null 2>&1 || true`;
}

/** A bash script that writes every file (base64 on stdin, so any content is safe) atomically, then reloads. */
export function installFilesScript(root: string, textfileDir: string, files: RenderedFile[], prometheusContainer: string): string {
  const lines = ["set -euo pipefail", `install -d -m 0755 ${shellQuote(root)} ${shellQuote(textfileDir)}`];
  for (const f of files) {
    const target = `${root}/${f.hostPath}`;
    lines.push(
      `install -d -m 0755 ${shellQuote(path.posix.dirname(target))}`,
      `tmp=$(mktemp ${shellQuote(`${target}.XXXXXX`)})`,
      `printf %s ${shellQuote(Buffer.from(f.content).toString("base64"))} | base64 -d > "$tmp"`,
      `chmod 0644 "$tmp"`,
      `mv -f "$tmp" ${shellQuote(target)}`,
    );
  }
  // Rule files of groups that no longer exist must not linger in the rules directory.
  const rules = files.filter((f) => f.hostPath.startsWith("prometheus/rules/")).map((f) => path.posix.basename(f.hostPath));
  lines.push(`for f in ${shellQuote(`${root}/prometheus/rules`)}/*.yml; do case "$(basename "$f")" in ${rules.map(shellQuote).join("|") || "''"}) ;; *) rm -f "$f" ;; esac; done`);
  lines.push(reload(prometheusContainer));
  return `${lines.join("\n")}\n`;
}
