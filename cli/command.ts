/** The shape of an `ephemery` subcommand; each topic module exports a list of these. */
import { parseArgs, ParseArgsConfig } from "util";

export interface CommandIO {
  out: (text: string) => void;
  err: (text: string) => void;
  /** True when standard output is a terminal (colours, progress). */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface Command {
  /** Words that select it, e.g. ["config", "check"]. */
  path: string[];
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  /** Whether positional arguments are accepted. */
  positionals?: boolean;
  run(args: { values: Record<string, unknown>; positionals: string[] }, io: CommandIO): Promise<number>;
}

/** A mistake in how the command was called: printed with the usage, exit 2. */
export class UsageError extends Error {}

export function parseCommandArgs(cmd: Command, argv: string[]) {
  try {
    return parseArgs({ args: argv, options: cmd.options, allowPositionals: cmd.positionals ?? false, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function stringOpt(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

export function intOpt(values: Record<string, unknown>, name: string): number | undefined {
  const v = stringOpt(values, name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number, got "${v}"`);
  return Number(v);
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
