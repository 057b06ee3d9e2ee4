/**
 * Installs the host-side reset program (host-scripts/ephemery-reset.sh, rendered with the node's values),
 * brings the node's testnet dir to the current release, and schedules the program with cron.
 */
import * as pulumi from "@pulumi/pulumi";
import { NodeSpecs } from "../lib/clients";
import { HostConfig, NetworkConfig } from "../lib/config/schema";
import { contentDigest, renderHostScript, shellQuote } from "../lib/hostScripts";
import { cronFileContent, cronInstallCommand, cronRemoveCommand } from "../lib/reset/schedule";
import { RESET_SCRIPT, resetScriptValues } from "../lib/reset/values";
import { fundingKeyPath, redepositProgramPath, redepositProgramSource } from "../lib/keys/redepositValues";
import { Host } from "./host";
import { hostCommand, hostFile } from "./hostCommand";
import type { WatchedFile } from "./hostDrift";

export interface ResetJobArgs {
  /** The bootstrapped host the program and its schedule are installed on. */
  readonly host: Host;
  /** The host's settings; `reset.enabled` (default true) and `reset.schedule` (default every minute) decide the cron entry. */
  readonly config: HostConfig;
  /** Where releases come from (default: GitHub's ephemery-genesis releases). */
  readonly network: NetworkConfig;
  /** The node's client containers: names, volumes and the wipe/keep rules the program is rendered with. */
  readonly specs: NodeSpecs;
  /** The execution-layer key that pays re-deposits (a secret), written 0600 on the host. Default: none (required when `validator.redeposit.enabled` and not `dryRun`). */
  readonly depositFundingKey?: pulumi.Input<string>;
}

export class ResetJob extends pulumi.ComponentResource {
  /** Where the rendered program lives on the host. */
  public readonly scriptPath: string;
  /** The rendered program as installed (the drift guard compares the host's copy with it). */
  public readonly script: string;
  /** Done when the testnet dir holds a verified release; containers wait for it. */
  public readonly releaseReady: pulumi.Resource;
  /** The iteration installed on the host, as the program's `ensure` reports it (last line of its output). */
  public readonly installedIteration: pulumi.Output<number | undefined>;
  public readonly enabled: boolean;
  public readonly schedule: string;
  /** Every file this job writes on the host, with the content it wrote: what the drift guard watches. */
  public readonly files: WatchedFile[];

  constructor(name: string, args: ResetJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ephemery:reset:ResetJob", name, { node: args.config.name, enabled: args.config.reset.enabled, schedule: args.config.reset.schedule }, opts);
    const { host, config } = args;
    this.enabled = config.reset.enabled;
    this.schedule = config.reset.schedule;
    this.scriptPath = `${host.paths.scripts}/ephemery-reset`;
    const script = renderHostScript(RESET_SCRIPT, resetScriptValues(config, args.network, args.specs));
    this.script = script;
    const install = hostFile(`${name}-program`, host.connection, { path: this.scriptPath, mode: "0755", content: script }, { parent: this, dependsOn: [host.ready] });
    this.files = [{ path: this.scriptPath, mode: "0755", content: script }];
    const redeposit = config.validator?.redeposit;
    if (redeposit?.enabled) {
      const program: WatchedFile = { path: redepositProgramPath(config.dataDir, config.name), mode: "0644", content: redepositProgramSource() };
      hostFile(`${name}-redeposit-program`, host.connection, program, { parent: this, dependsOn: [host.ready] });
      this.files.push(program);
      if (args.depositFundingKey !== undefined) {
        // Through stdin into a 0600 file of a 0700 directory: the key never reaches argv, logs or a loose file.
        const key = pulumi.secret(pulumi.output(args.depositFundingKey).apply((k) => `${k.trim()}\n`));
        const fundingKey: WatchedFile = { path: fundingKeyPath(config.dataDir, config.name), mode: "0600", content: key, dirMode: "0700" };
        hostFile(`${name}-funding-key`, host.connection, { ...fundingKey, quiet: true }, { parent: this, dependsOn: [host.ready] });
        this.files.push(fundingKey);
      } else if (!redeposit.dryRun) {
        throw new Error(`hosts[${config.name}].validator.redeposit is enabled but no funding key was given; run: pulumi config set --secret --path 'ephemery:depositFundingKeys.${config.name}' 0x<64 hex>`);
      }
    }
    // Catch up: a new host (or one that was down across a reset) gets the current release before its clients start.
    const ensure = `${shellQuote(this.scriptPath)} ensure # ${contentDigest(script)}`;
    const release = hostCommand(
      `${name}-release`,
      host.connection,
      // The program's digest is part of the command: a new program updates in place and runs `ensure` again
      // (a changed `triggers` would replace the resource instead).
      { create: ensure, update: ensure },
      { parent: this, dependsOn: [install] },
    );
    this.releaseReady = release;
    // `destroy` takes the releases, the program's state and its metrics with it (archives stay). A resource of
    // its own with fixed inputs, so it is never replaced: a replacement would delete after the new `ensure`.
    hostCommand(
      `${name}-cleanup`,
      host.connection,
      // A changed delete updates in place (only triggers replace a command), so adding a file here is safe.
      { create: "true", delete: `rm -rf ${shellQuote(host.paths.testnetRoot)} ${shellQuote(host.paths.state)} && rm -f ${shellQuote(`${host.paths.textfile}/ephemery.prom`)} ${shellQuote(`${host.paths.textfile}/ephemery-release.prom`)}` },
      { parent: this, dependsOn: [release] },
    );
    this.installedIteration = release.stdout.apply((out) => {
      const m = /iteration=(\d+)\s*$/.exec(out ?? "");
      return m ? Number(m[1]) : undefined;
    });
    if (this.enabled) {
      const cron = { node: config.name, schedule: this.schedule, program: this.scriptPath, logFile: `${host.paths.state}/reset.log` };
      const content = cronFileContent(cron);
      hostCommand(
        `${name}-schedule`,
        host.connection,
        // Updated in place when the schedule changes: a replacement would remove the entry after writing it.
        { create: cronInstallCommand(cron), update: cronInstallCommand(cron), stdin: content, delete: cronRemoveCommand(cron) },
        { parent: this, dependsOn: [this.releaseReady] },
      );
    }
    this.registerOutputs({ scriptPath: this.scriptPath, enabled: this.enabled, schedule: this.schedule });
  }
}
