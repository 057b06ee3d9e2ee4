import * as fs from "fs";
import * as path from "path";
import { resetPlan } from "../../lib/reset/plan";
import { activeForks, FILE_LIMITS, parseConfigYaml } from "../../lib/reset/release";
import { Command, CommandIO, intOpt, json, stringOpt, UsageError } from "../command";
import { loadStackFile, STACK_OPTIONS, stackFilePath } from "../stack";
import { networkCommands } from "./network";

/** The reset topic's commands: `ephemery network` and `ephemery reset plan`. */
export const resetCommands: Command[] = [
  ...networkCommands,
  {
    path: ["reset", "plan"],
    summary: "What the next Ephemery reset stops, archives, wipes, keeps and starts on each node, in order (offline)",
    usage: "ephemery reset plan [--stack NAME | --file PATH] [--at UNIX_SECONDS] [--release CONFIG_YAML] [--json]",
    options: { ...STACK_OPTIONS, at: { type: "string" }, release: { type: "string" }, json: { type: "boolean" } },
    async run({ values }, io) {
      const file = stackFilePath(values, io.cwd);
      const { result } = loadStackFile(file);
      if (!result.ok) {
        io.err(`${file}: ${result.problems.length} problem(s); fix them first (ephemery config check)\n`);
        for (const p of result.problems) io.err(`  ${p.path}: ${p.message}\n`);
        return 1;
      }
      const release = readReleaseConfig(values, io);
      const plans = resetPlan(result.config, intOpt(values, "at") ?? Math.floor(Date.now() / 1000), release?.text, release?.name);
      if (values.json) {
        io.out(json(plans));
        return 0;
      }
      for (const p of plans) {
        io.out(`node ${p.node} (${p.runtime}): ephemery-${p.from} -> ephemery-${p.to} at ${p.switchAt} (${new Date(p.switchAt * 1000).toISOString()})\n`);
        if (!p.enabled) io.out("  reset job disabled (hosts[].reset.enabled: false): these steps will not run by themselves\n");
        p.steps.forEach((s, i) => io.out(`  ${String(i + 1).padStart(2)}. ${s.action.padEnd(7)} ${s.target}: ${s.detail}\n`));
        for (const line of p.forkLines) io.out(`  ${line}\n`);
      }
      return 0;
    },
  },
];

/** `--release PATH`: a release's config.yaml (for example testnet/current/config.yaml), read with the checker's size bound. */
export function readReleaseConfig(values: Record<string, unknown>, io: CommandIO): { text: string; name: string } | undefined {
  const given = stringOpt(values, "release");
  if (!given) return undefined;
  const file = path.resolve(io.cwd, given);
  let st: fs.Stats;
  try { st = fs.statSync(file); } catch { throw new UsageError(`--release ${given}: no such file; give a release's config.yaml`); }
  const limit = FILE_LIMITS["config.yaml"];
  if (!st.isFile() || st.size > limit) throw new UsageError(`--release ${given}: not a config.yaml of at most ${limit} bytes`);
  const text = fs.readFileSync(file, "utf8");
  const problems: string[] = [];
  try { activeForks(parseConfigYaml(text, given), problems); } catch (e) { problems.push((e as Error).message); }
  if (problems.length) throw new UsageError(`--release ${given}: ${problems.join("; ")}`);
  return { text, name: given };
}
