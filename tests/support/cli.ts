/** Runs `ephemery` in-process with captured output, as the bin would. */
import { main } from "../../cli/main";

export async function runCli(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; isTTY?: boolean } = {}) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    out: (t) => { stdout += t; },
    err: (t) => { stderr += t; },
    isTTY: opts.isTTY ?? false,
    env: opts.env ?? process.env,
    cwd: opts.cwd ?? process.cwd(),
  });
  return { code, stdout, stderr };
}
