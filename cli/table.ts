/** Plain-text tables with severity colours on a terminal and none when piped (or with NO_COLOR set). */

export type Severity = "ok" | "info" | "warn" | "error";

export interface Cell {
  text: string;
  severity?: Severity;
}

const COLOUR: Record<Severity, string> = { ok: "\x1b[32m", info: "\x1b[36m", warn: "\x1b[33m", error: "\x1b[31m" };
const RESET = "\x1b[0m";

export function useColour(io: { isTTY: boolean; env: NodeJS.ProcessEnv }): boolean {
  return io.isTTY && io.env.NO_COLOR === undefined && io.env.TERM !== "dumb";
}

export function paint(text: string, severity: Severity | undefined, colour: boolean): string {
  return colour && severity ? `${COLOUR[severity]}${text}${RESET}` : text;
}

/** Columns padded to their widest cell; colour codes are added after padding so widths stay right. */
export function renderTable(headers: string[], rows: (Cell | string)[][], colour: boolean): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === "string" ? { text: c } : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i]?.text ?? "").length)));
  const line = (r: Cell[]) =>
    r.map((c, i) => paint(i === r.length - 1 ? c.text : c.text.padEnd(widths[i]), c.severity, colour)).join("  ").trimEnd();
  return [line(headers.map((text) => ({ text }))), ...cells.map(line)].join("\n") + "\n";
}

/** The worst of several severities. */
export function worst(...s: (Severity | undefined)[]): Severity {
  const order: Severity[] = ["ok", "info", "warn", "error"];
  return s.reduce<Severity>((a, b) => (b && order.indexOf(b) > order.indexOf(a) ? b : a), "ok");
}
