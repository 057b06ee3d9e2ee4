/** Runs `ephemery` in-process with captured output, as the bin would. */
import { spawn } from "child_process";
import * as path from "path";
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

const ROOT = path.resolve(__dirname, "..", "..");
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `ephemery` as its own process on a pseudo-terminal (util-linux `script`), so a confirmation prompt is asked
 * for real; `answer` is typed once the output shows `prompt`. stdout and stderr arrive interleaved, as on a terminal.
 */
export function runCliOnTty(argv: string[], prompt: string, answer: string, opts: { timeoutMs?: number } = {}): Promise<{ code: number; output: string }> {
  const cmd = ["exec", "node", "-r", "ts-node/register/transpile-only", path.join(ROOT, "tests/support/cliMain.ts"), ...argv].map((a, i) => (i === 0 ? a : shellQuote(a))).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qfec", cmd, "/dev/null"], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    let answered = false;
    const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`ephemery ${argv.slice(0, 2).join(" ")} on a tty did not finish in time:\n${output.slice(-2000)}`)); }, opts.timeoutMs ?? 180_000);
    const onData = (b: Buffer) => {
      output += b.toString("utf8");
      if (!answered && output.includes(prompt)) {
        answered = true;
        child.stdin.write(`${answer}\n`);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (e) => { clearTimeout(timer); reject(e); });
    child.on("exit", (code) => { clearTimeout(timer); resolve({ code: code ?? 1, output: output.replace(/\r\n/g, "\n") }); });
  });
}
