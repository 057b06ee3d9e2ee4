/** `ephemery`: day-two operations for pulumi-ephemery stacks. Each topic adds its commands in cli/commands. */
import { Command, CommandIO, parseCommandArgs, UsageError } from "./command";
import { commandHelp } from "./flagHelp";
import { configCommands } from "./commands/config";
import { checkpointCommands } from "./commands/checkpoint";
import { statusCommands } from "./commands/status";
import { dashboardCommands } from "./commands/dashboard";
import { initCommands } from "./commands/init";
import { resetCommands } from "./commands/reset";
import { monitoringCommands } from "./commands/monitoring";
import { keysCommands } from "./commands/keys";
import { keysGenerateCommands } from "./commands/keysGenerate";
import { keysDepositCommands } from "./commands/keysDeposit";
import { keysExitCommands } from "./commands/keysExit";

export const COMMANDS: Command[] = [...configCommands, ...checkpointCommands, ...statusCommands, ...dashboardCommands, ...initCommands, ...resetCommands, ...monitoringCommands, ...keysCommands, ...keysGenerateCommands, ...keysDepositCommands, ...keysExitCommands];

function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  return [
    "ephemery: operate Ephemery nodes deployed with pulumi-ephemery",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    "",
  ].join("\n");
}

/** Longest match of the command words, so `keys validate` wins over `keys`. */
function findCommand(argv: string[]): { cmd: Command; rest: string[] } | undefined {
  let best: { cmd: Command; rest: string[] } | undefined;
  for (const cmd of COMMANDS) {
    if (cmd.path.every((w, i) => argv[i] === w) && (!best || cmd.path.length > best.cmd.path.length)) {
      best = { cmd, rest: argv.slice(cmd.path.length) };
    }
  }
  return best;
}

export async function main(argv: string[], io: CommandIO = defaultIO()): Promise<number> {
  if (argv.length === 0 || argv[0] === "help" || argv[0] === "--help" || argv[0] === "-h") {
    io.out(helpText());
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    io.err(`ephemery: unknown command "${argv.join(" ")}"\n\n${helpText()}`);
    return 2;
  }
  const { cmd, rest } = found;
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(commandHelp(cmd));
    return 0;
  }
  try {
    const parsed = parseCommandArgs(cmd, rest);
    return await cmd.run({ values: parsed.values as Record<string, unknown>, positionals: parsed.positionals }, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`ephemery ${cmd.path.join(" ")}: ${e.message}\nusage: ${cmd.usage}\n`);
      return 2;
    }
    io.err(`ephemery ${cmd.path.join(" ")}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

export function defaultIO(): CommandIO {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    isTTY: Boolean(process.stdout.isTTY),
    env: process.env,
    cwd: process.cwd(),
  };
}
