/** Runs the `ephemery` CLI in-process with captured output. */
import { CommandIO } from "../../cli/command";
import { main } from "../../cli/main";

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

export async function runCli(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; isTTY?: boolean } = {}): Promise<RunResult> {
  let out = "";
  let err = "";
  const io: CommandIO = {
    out: (t) => (out += t),
    err: (t) => (err += t),
    isTTY: opts.isTTY ?? false,
    env: opts.env ?? process.env,
    cwd: opts.cwd ?? process.cwd(),
  };
  const code = await main(argv, io);
  return { code, out, err };
}
