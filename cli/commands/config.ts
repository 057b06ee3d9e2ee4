import { buildNodeSpecs } from "../../lib/clients";
import { Problem } from "../../lib/config/load";
import { DEFAULT_CHECKPOINT_SYNC_URLS, StackConfig } from "../../lib/config/schema";
import { StackFileError } from "../../lib/config/stackFile";
import { ForkReport, forkLines, forkReport } from "../../lib/reset/forks";
import { Command, json, UsageError } from "../command";
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
      // Every outcome, a file that cannot be found or parsed too, is reported the same way (and as JSON with --json).
      let file: string | undefined;
      let problems: Problem[];
      let config: StackConfig | undefined;
      let code: number;
      try {
        file = stackFilePath(values, io.cwd);
        const { result } = loadStackFile(file);
        problems = result.problems;
        config = result.ok ? result.config : undefined;
        code = result.ok ? 0 : 1;
      } catch (e) {
        if (e instanceof UsageError && !values.json) throw e;
        if (!(e instanceof StackFileError) && !(e instanceof UsageError)) throw e;
        problems = e instanceof StackFileError ? e.problems : [{ path: "(command line)", message: e.message }];
        code = e instanceof UsageError ? 2 : 1;
      }
      const release = code === 0 ? readReleaseConfig(values, io) : undefined;
      const forks = config && release ? releaseForks(config, release.text) : [];
      const unsupported = forks.flatMap((f) => f.report.unsupported.map((u) => ({ host: f.host, ...u })));
      if (code === 0 && unsupported.length > 0) code = 1;
      const hosts = config?.hosts.length ?? 0;
      if (values.json) {
        io.out(json({ file: file ?? null, ok: code === 0, problems, ...(release ? { release: release.name, forks } : {}) }));
      } else if (config) {
        io.out(`${file}: ${code === 0 ? "ok" : "config ok, but the release needs newer clients"} (${hosts} host${hosts === 1 ? "" : "s"})
`);
        for (const f of forks) for (const line of forkLines(f.report, release!.name)) (line.includes("does not support") ? io.err : io.out)(`  hosts[${f.host}]: ${line}
`);
      } else {
        io.err(`${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}
`);
        for (const p of problems) io.err(`  ${p.path}: ${p.message}
`);
      }
      return code;
    },
  },
];
