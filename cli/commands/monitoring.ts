/** `ephemery monitoring render`: the monitoring files each node would get, written offline for reading and checking. */
import * as fs from "fs";
import * as path from "path";
import { buildNodeSpecs } from "../../lib/clients";
import { fleetAddress } from "../../lib/config/fleetChecks";
import { placeholderSecrets, renderMonitoring } from "../../lib/monitoring";
import { remoteWritePaths, remoteWriteTarget } from "../../lib/monitoring/fleetMonitor";
import { Command, stringOpt, UsageError } from "../command";
import { loadStackFile, STACK_OPTIONS, stackFilePath } from "../stack";

export const monitoringCommands: Command[] = [
  {
    path: ["monitoring", "render"],
    summary: "Write each node's prometheus.yml, rules, alertmanager.yml and dashboards to a directory",
    usage: "ephemery monitoring render [--stack NAME | --file PATH] --out DIR",
    options: { ...STACK_OPTIONS, out: { type: "string" } },
    async run({ values }, io) {
      const outOpt = stringOpt(values, "out");
      if (!outOpt) throw new UsageError("--out DIR is required (the directory to write DIR/<node>/... into)");
      const out = path.resolve(io.cwd, outOpt);
      const file = stackFilePath(values, io.cwd);
      const { result } = loadStackFile(file);
      if (!result.ok) {
        io.err(`${file}: ${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}; nothing written\n`);
        for (const p of result.problems) io.err(`  ${p.path}: ${p.message}\n`);
        return 1;
      }
      const { config } = result;
      // The loader made sure a fleet section has an address to dial (fleetProblems).
      const fleet = config.fleet;
      const address = fleet ? fleetAddress(config)! : undefined;
      for (const host of config.hosts) {
        if (!host.monitoring.enabled) {
          io.out(`${host.name}: monitoring disabled, skipped\n`);
          continue;
        }
        const clients = buildNodeSpecs({ node: host.name, host, checkpointSyncUrls: host.consensus.checkpointSyncUrls ?? config.network.checkpointSyncUrls });
        // Secrets stay encrypted in the stack file: alertmanager.yml names them with placeholders instead.
        const target = fleet ? remoteWriteTarget(fleet.host, host.name, address!, fleet) : undefined;
        const rendered = renderMonitoring(host, clients, placeholderSecrets, target);
        const dir = path.join(out, host.name);
        for (const f of [...rendered.files, rendered.alertmanager]) {
          const target = path.join(dir, f.path);
          fs.mkdirSync(path.dirname(target), { recursive: true });
          fs.writeFileSync(target, f.content, { mode: f === rendered.alertmanager ? 0o600 : 0o644 });
        }
        io.out(`${host.name}: ${rendered.files.length + 1} files, ${rendered.alertCount} alerts -> ${dir}\n`);
        // The password and the CA are secrets made at deploy time: named, not written.
        if (target) io.out(`${host.name}: remote_write to ${target.url} as ${target.username} (password and CA are deployed to ${remoteWritePaths(host.dataDir, host.name).dir})\n`);
      }
      return 0;
    },
  },
];
