import { Problem } from "../../lib/config/load";
import { StackFileError } from "../../lib/config/stackFile";
import { Command, json, UsageError } from "../command";
import { loadStackFile, STACK_OPTIONS, stackFilePath } from "../stack";

export const configCommands: Command[] = [
  {
    path: ["config", "check"],
    summary: "Validate a stack file offline with the program's own schema",
    usage: "ephemery config check [--stack NAME | --file PATH] [--json]",
    options: { ...STACK_OPTIONS, json: { type: "boolean" } },
    async run({ values }, io) {
      // Every outcome, a file that cannot be found or parsed too, is reported the same way (and as JSON with --json).
      let file: string | undefined;
      let problems: Problem[];
      let hosts = 0;
      let code: number;
      try {
        file = stackFilePath(values, io.cwd);
        const { result } = loadStackFile(file);
        problems = result.problems;
        hosts = result.ok ? result.config.hosts.length : 0;
        code = result.ok ? 0 : 1;
      } catch (e) {
        if (e instanceof UsageError && !values.json) throw e;
        if (!(e instanceof StackFileError) && !(e instanceof UsageError)) throw e;
        problems = e instanceof StackFileError ? e.problems : [{ path: "(command line)", message: e.message }];
        code = e instanceof UsageError ? 2 : 1;
      }
      if (values.json) {
        io.out(json({ file: file ?? null, ok: code === 0, problems }));
      } else if (code === 0) {
        io.out(`${file}: ok (${hosts} host${hosts === 1 ? "" : "s"})\n`);
      } else {
        io.err(`${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n`);
        for (const p of problems) io.err(`  ${p.path}: ${p.message}\n`);
      }
      return code;
    },
  },
];
