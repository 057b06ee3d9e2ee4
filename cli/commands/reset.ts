import { resetPlan } from "../../lib/reset/plan";
import { Command, intOpt, json } from "../command";
import { loadStackFile, STACK_OPTIONS, stackFilePath } from "../stack";
import { networkCommands } from "./network";

/** The reset topic's commands: `ephemery network` and `ephemery reset plan`. */
export const resetCommands: Command[] = [
  ...networkCommands,
  {
    path: ["reset", "plan"],
    summary: "What the next Ephemery reset stops, archives, wipes, keeps and starts on each node, in order (offline)",
    usage: "ephemery reset plan [--stack NAME | --file PATH] [--at UNIX_SECONDS] [--json]",
    options: { ...STACK_OPTIONS, at: { type: "string" }, json: { type: "boolean" } },
    async run({ values }, io) {
      const file = stackFilePath(values, io.cwd);
      const { result } = loadStackFile(file);
      if (!result.ok) {
        io.err(`${file}: ${result.problems.length} problem(s); fix them first (ephemery config check)\n`);
        for (const p of result.problems) io.err(`  ${p.path}: ${p.message}\n`);
        return 1;
      }
      const plans = resetPlan(result.config, intOpt(values, "at") ?? Math.floor(Date.now() / 1000));
      if (values.json) {
        io.out(json(plans));
        return 0;
      }
      for (const p of plans) {
        io.out(`node ${p.node} (${p.runtime}): ephemery-${p.from} -> ephemery-${p.to} at ${p.switchAt} (${new Date(p.switchAt * 1000).toISOString()})\n`);
        if (!p.enabled) io.out("  reset job disabled (hosts[].reset.enabled: false): these steps will not run by themselves\n");
        p.steps.forEach((s, i) => io.out(`  ${String(i + 1).padStart(2)}. ${s.action.padEnd(7)} ${s.target}: ${s.detail}\n`));
      }
      return 0;
    },
  },
];
