import { Command, json } from "../command";
import { loadStackFile, STACK_OPTIONS, stackFilePath } from "../stack";

export const configCommands: Command[] = [
  {
    path: ["config", "check"],
    summary: "Validate a stack file offline with the program's own schema",
    usage: "ephemery config check [--stack NAME | --file PATH] [--json]",
    options: { ...STACK_OPTIONS, json: { type: "boolean" } },
    async run({ values }, io) {
      const file = stackFilePath(values, io.cwd);
      const { result } = loadStackFile(file);
      if (values.json) {
        io.out(json({ file, ok: result.ok, problems: result.problems }));
      } else if (result.ok) {
        io.out(`${file}: ok (${result.config.hosts.length} host${result.config.hosts.length === 1 ? "" : "s"})\n`);
      } else {
        io.err(`${file}: ${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}\n`);
        for (const p of result.problems) io.err(`  ${p.path}: ${p.message}\n`);
      }
      return result.ok ? 0 : 1;
    },
  },
];
