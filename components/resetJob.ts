/**
 * Installs the host-side reset program (host-scripts/ephemery-reset.sh, rendered with the node's values),
 * brings the node's testnet dir to the current release, and schedules the program with cron.
 */
import * as pulumi from "@pulumi/pulumi";
import { NodeSpecs } from "../lib/clients";
import { HostConfig, NetworkConfig } from "../lib/config/schema";
import { renderHostScript } from "../lib/hostScripts";
import { RESET_SCRIPT, resetScriptValues } from "../lib/reset/values";
import { Host } from "./host";
import { hostCommand, writeFileCommand } from "./hostCommand";

export interface ResetJobArgs {
  readonly host: Host;
  readonly config: HostConfig;
  readonly network: NetworkConfig;
  readonly specs: NodeSpecs;
}

export class ResetJob extends pulumi.ComponentResource {
  /** Where the rendered program lives on the host. */
  public readonly scriptPath: string;
  /** Done when the testnet dir holds a verified release; containers wait for it. */
  public readonly releaseReady: pulumi.Resource;
  /** The iteration installed on the host, as the program's `ensure` reports it (last line of its output). */
  public readonly installedIteration: pulumi.Output<number | undefined>;
  public readonly enabled: boolean;
  public readonly schedule: string;

  constructor(name: string, args: ResetJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ephemery:reset:ResetJob", name, { node: args.config.name, enabled: args.config.reset.enabled, schedule: args.config.reset.schedule }, opts);
    const { host, config } = args;
    this.enabled = config.reset.enabled;
    this.schedule = config.reset.schedule;
    this.scriptPath = `${host.paths.scripts}/ephemery-reset`;
    const script = renderHostScript(RESET_SCRIPT, resetScriptValues(config, args.network, args.specs));
    const install = hostCommand(
      `${name}-program`,
      host.connection,
      { create: writeFileCommand(this.scriptPath, "0755"), stdin: script, triggers: [script], delete: `rm -f ${this.scriptPath}` },
      { parent: this, dependsOn: [host.ready] },
    );
    // Catch up: a new host (or one that was down across a reset) gets the current release before its clients start.
    const release = hostCommand(
      `${name}-release`,
      host.connection,
      { create: `${this.scriptPath} ensure`, triggers: [script] },
      { parent: this, dependsOn: [install] },
    );
    this.releaseReady = release;
    this.installedIteration = release.stdout.apply((out) => {
      const m = /iteration=(\d+)\s*$/.exec(out ?? "");
      return m ? Number(m[1]) : undefined;
    });
    const cronFile = `/etc/cron.d/ephemery-${config.name}`;
    if (this.enabled) {
      const cron = `# Written by pulumi-ephemery: carries node ${config.name} across Ephemery resets.\nSHELL=/bin/bash\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n${this.schedule} root ${this.scriptPath} run >> ${host.paths.state}/reset.log 2>&1\n`;
      hostCommand(
        `${name}-schedule`,
        host.connection,
        { create: writeFileCommand(cronFile, "0644"), stdin: cron, triggers: [cron], delete: `rm -f ${cronFile}` },
        { parent: this, dependsOn: [this.releaseReady] },
      );
    }
    this.registerOutputs({ scriptPath: this.scriptPath, enabled: this.enabled, schedule: this.schedule });
  }
}
