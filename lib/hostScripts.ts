/**
 * Host-side programs are real files under host-scripts/. Each has one line `# @@VALUES@@` that the program
 * replaces with `readonly NAME='value'` lines; everything else is installed as written.
 */
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

export type ScriptValues = Record<string, string | number | boolean | string[]>;

export function renderValues(values: ScriptValues): string {
  return Object.entries(values)
    .map(([k, v]) => {
      if (!/^[A-Z][A-Z0-9_]*$/.test(k)) throw new Error(`script value name "${k}" must be UPPER_SNAKE_CASE`);
      const text = Array.isArray(v) ? v.join(" ") : String(v);
      return `readonly ${k}=${shellQuote(text)}`;
    })
    .join("\n");
}

export function renderScriptText(text: string, values: ScriptValues, file = "script"): string {
  const count = text.split(MARKER).length - 1;
  if (count !== 1) throw new Error(`${file} must contain the line "${MARKER}" exactly once (found ${count})`);
  // A replacer function: a replacement string would expand $' and $` found in the values.
  const rendered = `# Values rendered by pulumi-ephemery.\n${renderValues(values)}`;
  return text.replace(MARKER, () => rendered);
}

/** Reads host-scripts/<name> and renders it. */
export function renderHostScript(name: string, values: ScriptValues): string {
  const file = path.join(HOST_SCRIPTS_DIR, name);
  return renderScriptText(fs.readFileSync(file, "utf8"), values, file);
}
