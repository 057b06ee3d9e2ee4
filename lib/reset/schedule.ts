/**
 * How the reset program gets scheduled on a host: an /etc/cron.d file where the deploying user may write one
 * (root, or sudo), else the user's own crontab (a `local` host run by a non-root workstation user). Pure.
 */
import { charsetProblem, CRON_RULE } from "../config/charsets";
import { shellQuote } from "../hostScripts";

export interface CronArgs {
  node: string;
  /** Five-field cron expression. */
  schedule: string;
  /** The installed reset program. */
  program: string;
  /** Where each run appends its log. */
  logFile: string;
  /** Default /etc/cron.d; tests point it elsewhere. */
  cronDir?: string;
}

/** Marks the node's line in a user crontab so updates replace it and delete removes only it. */
export function crontabTag(node: string): string {
  return `# ephemery-reset:${node}`;
}

/** The command part of the entry: quoted for the shell cron hands it to. */
function cronCommand(a: CronArgs): string {
  for (const [what, v] of [["program", a.program], ["log file", a.logFile]] as const) {
    // cron itself turns % into a newline and ends the entry at one, before any shell quoting applies.
    if (/[%\r\n]/.test(v)) throw new Error(`the reset job's ${what} path ${JSON.stringify(v)} cannot go into a cron line: it holds % or a line break; choose a dataDir without them`);
  }
  return `${shellQuote(a.program)} run >> ${shellQuote(a.logFile)} 2>&1`;
}

/** The schedule itself is validated by the config schema (five fields or a keyword); checked here again. */
function cronSchedule(a: CronArgs): string {
  const problem = charsetProblem(a.schedule, CRON_RULE);
  if (problem) throw new Error(`hosts.reset.schedule of node ${a.node}: ${problem}`);
  return a.schedule;
}

export function cronLine(a: CronArgs): string {
  return `${cronSchedule(a)} ${cronCommand(a)}`;
}

/** The /etc/cron.d file (it has a user field, and its own SHELL and PATH). */
export function cronFileContent(a: CronArgs): string {
  return [
    `# Written by pulumi-ephemery: carries node ${a.node} across Ephemery resets.`,
    "SHELL=/bin/bash",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    `${cronSchedule(a)} root ${cronCommand(a)}`,
    "",
  ].join("\n");
}

/** Installs the schedule; the cron.d file content arrives on stdin. */
export function cronInstallCommand(a: CronArgs): string {
  const dir = a.cronDir ?? "/etc/cron.d";
  const file = `${dir}/ephemery-${a.node}`;
  const tag = crontabTag(a.node);
  return [
    "set -euo pipefail",
    `if [ -d ${shellQuote(dir)} ] && [ -w ${shellQuote(dir)} ]; then`,
    `  tmp=$(mktemp ${shellQuote(`${dir}/.ephemery-${a.node}.XXXXXX`)})`,
    "  cat > \"$tmp\"",
    "  chmod 0644 \"$tmp\"",
    `  mv -f "$tmp" ${shellQuote(file)}`,
    "else",
    `  # No root: the user's crontab runs the program as this user (its files live under the user's dataDir).`,
    "  cat > /dev/null",
    `  { crontab -l 2>/dev/null | grep -vF ${shellQuote(tag)} || true; printf '%s %s\\n' ${shellQuote(cronLine(a))} ${shellQuote(tag)}; } | crontab -`,
    "fi",
  ].join("\n");
}

export function cronRemoveCommand(a: CronArgs): string {
  const dir = a.cronDir ?? "/etc/cron.d";
  const tag = crontabTag(a.node);
  return [
    `rm -f ${shellQuote(`${dir}/ephemery-${a.node}`)} 2>/dev/null || true`,
    `if command -v crontab >/dev/null 2>&1 && crontab -l 2>/dev/null | grep -qF ${shellQuote(tag)}; then`,
    `  crontab -l | grep -vF ${shellQuote(tag)} | crontab -`,
    "fi",
  ].join("\n");
}
