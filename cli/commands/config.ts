import { buildNodeSpecs } from "../../lib/clients";
import { DEFAULT_CHECKPOINT_SYNC_URLS, StackConfig } from "../../lib/config/schema";
import { ForkReport, forkLines, forkReport } from "../../lib/reset/forks";
import { Command, json } from "../command";
import { loadStackFile, STACK_OPTIONS, stackFilePath } from "../stack";
import { readReleaseConfig } from "./reset";

/** Per host, what its pinned clients run against the release config.yaml given with --release. */
function releaseForks(config: StackConfig, text: string): { host: string; report: ForkReport }[] {
  return config.hosts.map((host) => {
    const urls = host.consensus.checkpointSyncUrls ?? config.network.checkpointSyncUrls ?? DEFAULT_CHECKPOINT_SYNC_URLS;
    return { host: host.name, report: forkReport(buildNodeSpecs({ node: host.name, host, checkpointSyncUrls: urls }), text) };
  });
}

export const configCommands: Command[] = [
  {
    path: ["config", "check"],
    summary: "Validate a stack file offline with the program's own schema (and, with --release, its clients against a release's forks)",
    usage: "ephemery config check [--stack NAME | --file PATH] [--release CONFIG_YAML] [--json]",
    options: { ...STACK_OPTIONS, release: { type: "string" }, json: { type: "boolean" } },
    async run({ values }, io) {
      const file = stackFilePath(values, io.cwd);
      const { result } = loadStackFile(file);
      const release = readReleaseConfig(values, io);
      const forks = result.ok && release ? releaseForks(result.config, release.text) : [];
      const unsupported = forks.flatMap((f) => f.report.unsupported.map((u) => ({ host: f.host, ...u })));
      const ok = result.ok && unsupported.length === 0;
      if (values.json) {
        io.out(json({ file, ok, problems: result.problems, ...(release ? { release: release.name, forks } : {}) }));
      } else if (result.ok) {
        io.out(`${file}: ${ok ? "ok" : "config ok, but the release needs newer clients"} (${result.config.hosts.length} host${result.config.hosts.length === 1 ? "" : "s"})\n`);
        for (const f of forks) for (const line of forkLines(f.report, release!.name)) (line.includes("does not support") ? io.err : io.out)(`  hosts[${f.host}]: ${line}\n`);
      } else {
        io.err(`${file}: ${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}\n`);
        for (const p of result.problems) io.err(`  ${p.path}: ${p.message}\n`);
      }
      return ok ? 0 : 1;
    },
  },
];
