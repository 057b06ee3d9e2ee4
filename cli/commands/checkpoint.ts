import * as fs from "fs";
import * as path from "path";
import { chooseCheckpoint, DEFAULT_PROBE_TIMEOUT_MS, expectedGenesisTimeFor, iterationOfGenesisTime } from "../../lib/checkpoint";
import { DEFAULT_CHECKPOINT_SYNC_URLS } from "../../lib/config/schema";
import { Command, CommandIO, intOpt, json, UsageError } from "../command";
import { withProgress } from "../progress";
import { findProjectDir, loadStackFile, STACK_OPTIONS, stackFilePath } from "../stack";
import { renderTable, useColour } from "../table";

/** The candidates when none are named: the stack's lists (network and per-host), else the built-in defaults. */
function configuredUrls(values: Record<string, unknown>, io: CommandIO): { urls: string[]; source: string } {
  const named = values.stack !== undefined || values.file !== undefined;
  const fallbackStack = path.join(findProjectDir(io.cwd), `Pulumi.${io.env.PULUMI_STACK ?? "local"}.yaml`);
  if (!named && !fs.existsSync(fallbackStack)) return { urls: DEFAULT_CHECKPOINT_SYNC_URLS, source: "the built-in provider list" };
  const file = stackFilePath(values, io.cwd);
  const { result } = loadStackFile(file);
  if (!result.ok) {
    throw new Error(`${file} has problems (run: ephemery config check --file ${file}): ${result.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`);
  }
  const cfg = result.config;
  const urls = [...cfg.network.checkpointSyncUrls, ...cfg.hosts.flatMap((h) => h.consensus.checkpointSyncUrls ?? [])];
  return { urls, source: file };
}

export const checkpointCommands: Command[] = [
  {
    path: ["checkpoint", "probe"],
    summary: "Check checkpoint-sync providers against the current chain and rank them",
    usage: "ephemery checkpoint probe [URL ...] [--iteration N] [--timeout MS] [--stack NAME | --file PATH] [--json]",
    options: { ...STACK_OPTIONS, iteration: { type: "string" }, timeout: { type: "string" }, json: { type: "boolean" } },
    positionals: true,
    async run({ values, positionals }, io) {
      const iteration = intOpt(values, "iteration");
      if (iteration !== undefined && iteration < 0) throw new UsageError(`--iteration must be 0 or more, got ${iteration}`);
      const timeoutMs = intOpt(values, "timeout") ?? DEFAULT_PROBE_TIMEOUT_MS;
      if (timeoutMs < 1) throw new UsageError(`--timeout is in milliseconds and must be positive, got ${timeoutMs}`);
      for (const u of positionals) {
        if (!/^https?:\/\/\S+$/.test(u)) throw new UsageError(`"${u}" is not an http(s) URL`);
      }
      const { urls, source } = positionals.length > 0 ? { urls: positionals, source: "the command line" } : configuredUrls(values, io);
      const expectedGenesisTime = expectedGenesisTimeFor(iteration);
      const choice = await withProgress(io, `probing ${urls.length} checkpoint provider(s)`, () =>
        chooseCheckpoint(urls, { expectedGenesisTime, timeoutMs }),
      );
      if (values.json) {
        io.out(json(choice));
        return choice.best ? 0 : 1;
      }
      const colour = useColour(io);
      io.out(`Expected genesis_time ${choice.expectedGenesisTime} (iteration ${iterationOfGenesisTime(choice.expectedGenesisTime)}); candidates from ${source}.\n\n`);
      io.out(renderTable(
        ["#", "PROVIDER", "FINALIZED EPOCH", "LATENCY", "RESULT"],
        choice.providers.map((p, i) => [
          p.ok ? String(i + 1) : "-",
          p.url,
          p.finalizedEpoch === null ? "-" : String(p.finalizedEpoch),
          p.latencyMs === null ? "-" : `${p.latencyMs} ms`,
          p.ok ? { text: "ok", severity: "ok" } : { text: p.reason ?? "rejected", severity: "error" },
        ]),
        colour,
      ));
      if (choice.best) {
        io.out(`\nbest: ${choice.best}\n`);
        return 0;
      }
      io.out("\nNo provider serves a finalized checkpoint of the expected chain. A deploy now syncs from genesis.ssz when network.genesisSyncFallback is true (the default); otherwise add a working provider to network.checkpointSyncUrls.\n");
      return 1;
    },
  },
];
