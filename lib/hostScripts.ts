/**
 * Host-side programs are real files under host-scripts/. Each has one line `# @@VALUES@@` that the program
 * replaces with `readonly NAME='value'` lines; everything else is installed as written.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** host-scripts/ at the package root, found from both the sources and the compiled dist/. */
export const HOST_SCRIPTS_DIR = findUp(__dirname, "host-scripts");

function findUp(start: string, name: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return path.join(start, "..", name);
  }
}
const MARKER = "# @@VALUES@@";

/** Single-quotes a value for POSIX shells. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A list rendered as a bash array, one quoted element per entry: `"${NAME[@]}"` gives back exactly these argv words. */
export interface ShellArray {
  readonly array: readonly string[];
}
export const shellArray = (array: readonly string[]): ShellArray => ({ array });

/** A plain list is joined with spaces into one string (word lists of safe names); a ShellArray stays a list. */
export type ScriptValues = Record<string, string | number | boolean | string[] | ShellArray>;

export function renderValues(values: ScriptValues): string {
  return Object.entries(values)
    .map(([k, v]) => {
      if (!/^[A-Z][A-Z0-9_]*$/.test(k)) throw new Error(`script value name "${k}" must be UPPER_SNAKE_CASE`);
      if (typeof v === "object" && !Array.isArray(v)) return `readonly -a ${k}=(${v.array.map(shellQuote).join(" ")})`;
      const text = Array.isArray(v) ? v.join(" ") : String(v);
      return `readonly ${k}=${shellQuote(text)}`;
    })
    .join("\n");
}

export function renderScriptText(text: string, values: ScriptValues, file = "script"): string {
  const count = text.split(MARKER).length - 1;
  if (count !== 1) throw new Error(`${file} must contain the line "${MARKER}" exactly once (found ${count})`);
  const arrays = Object.entries(values).filter(([, v]) => typeof v === "object" && !Array.isArray(v)).map(([k]) => k);
  if (arrays.length > 0 && !/^#!.*\bbash\b/.test(text)) throw new Error(`${file} is not a bash script, so it cannot take the list value(s) ${arrays.join(", ")}`);
  // A replacer function: a replacement string would expand $' $& $` in the values into parts of the script.
  const block = `# Values rendered by pulumi-ephemery.\n${renderValues(values)}`;
  return text.replace(MARKER, () => block);
}

const fileTexts = new Map<string, string>();

/** A file shipped with the program (host scripts, the exporter), read once per process however many hosts use it. */
export function packagedFileText(file: string): string {
  let text = fileTexts.get(file);
  if (text === undefined) {
    text = fs.readFileSync(file, "utf8");
    fileTexts.set(file, text);
  }
  return text;
}

/** A line `# @@INCLUDE <file>@@` stands for host-scripts/<file>: shell helpers that two programs share (kube-api.sh). */
const INCLUDE = /^# @@INCLUDE ([a-z0-9-]+\.sh)@@$/gm;

/** Reads host-scripts/<name>, puts its includes in (one level) and renders it. */
export function renderHostScript(name: string, values: ScriptValues): string {
  const file = path.join(HOST_SCRIPTS_DIR, name);
  const text = packagedFileText(file).replace(INCLUDE, (_, included: string) => packagedFileText(path.join(HOST_SCRIPTS_DIR, included)).replace(/\n$/, ""));
  return renderScriptText(text, values, file);
}

/**
 * A short stand-in for content in a command's `triggers`: the content changes exactly when its digest does, and
 * state and every preview diff carry 64 characters instead of the whole script once more.
 */
export function contentDigest(content: string): string {
  return `sha256:${createHash("sha256").update(content).digest("hex")}`;
}
