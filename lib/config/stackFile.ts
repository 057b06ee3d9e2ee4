/**
 * Reads `Pulumi.<stack>.yaml` offline: values stay encrypted, only their secret-ness is known. The file is
 * untrusted input: its size, nesting, aliases and expanded size are bounded, so an alias bomb or a
 * self-referencing alias ends in a message naming the limit, not in an out-of-memory or a stack overflow.
 */
import * as fs from "fs";
import * as yaml from "js-yaml";
import { printableName } from "../printable";
import { ConfigEntry, Problem } from "./load";

/** Stands in for an encrypted value when checking a stack file offline. */
export const SECRET_PLACEHOLDER = "[secret]";

/** A real stack file is a few KiB with no aliases; these bounds are far above that and far below harm. */
export const STACK_FILE_LIMITS = {
  bytes: 1024 * 1024,
  /** Nesting of mappings and lists. */
  depth: 64,
  /** Values after aliases are expanded: what the checks would walk. */
  nodes: 200_000,
  /** Uses of an anchor (`*name`). */
  aliases: 100,
};

/** The stack file cannot be checked at all; `problems` say where and why (the path is the file's part). */
export class StackFileError extends Error {
  constructor(public readonly problems: Problem[]) {
    super(problems.map((p) => `${p.path} ${p.message}`).join("\n"));
  }
}

export function readStackFile(file: string): Map<string, ConfigEntry> {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new StackFileError([{ path: file, message: `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}); pass the stack file with --file PATH` }]);
  }
  if (!st.isFile()) throw new StackFileError([{ path: file, message: "is not a regular file; pass the stack file with --file PATH" }]);
  if (st.size > STACK_FILE_LIMITS.bytes) throw new StackFileError([{ path: file, message: tooBig(st.size) }]);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new StackFileError([{ path: file, message: `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})` }]);
  }
  return parseStackFile(text, file);
}

const tooBig = (size: number) => `is ${size} bytes, over the ${STACK_FILE_LIMITS.bytes}-byte limit for a stack file (real ones are a few KiB)`;

export function parseStackFile(text: string, file = "stack file"): Map<string, ConfigEntry> {
  if (Buffer.byteLength(text) > STACK_FILE_LIMITS.bytes) throw new StackFileError([{ path: file, message: tooBig(Buffer.byteLength(text)) }]);
  let doc: unknown;
  try {
    // The parser's own depth bound (the document and config: mappings sit above the settings), and merge keys
    // (`<<: *a`, copied while parsing) bounded like aliases.
    doc = yaml.load(text, { filename: file, maxDepth: STACK_FILE_LIMITS.depth + 2, maxTotalMergeKeys: STACK_FILE_LIMITS.aliases * 10 } as yaml.LoadOptions);
  } catch (e) {
    const err = e as Error & { mark?: { line: number; column: number } };
    const at = err.mark ? ` (line ${err.mark.line + 1}, column ${err.mark.column + 1})` : "";
    // Deep flow nesting overflows the parser's own recursion: say which limit applies.
    const reason = oneLine((err as yaml.YAMLException).reason ?? err.message);
    const message = e instanceof RangeError || /maxDepth/.test(reason) ? `nests more than ${STACK_FILE_LIMITS.depth} levels deep${at}`
      : /maxTotalMergeKeys/.test(reason) ? `merges (<<) more than ${STACK_FILE_LIMITS.aliases * 10} keys${at}; write the values out`
        : `is not valid YAML${at}: ${reason}`;
    throw new StackFileError([{ path: file, message }]);
  }
  const entries = new Map<string, ConfigEntry>();
  if (doc === null || doc === undefined) return entries;
  if (typeof doc !== "object" || Array.isArray(doc)) throw new StackFileError([{ path: file, message: "must be a YAML mapping with a config: section" }]);
  const config = (doc as Record<string, unknown>).config;
  if (config === undefined || config === null) return entries;
  if (typeof config !== "object" || Array.isArray(config)) throw new StackFileError([{ path: "config", message: `of ${file} must be a mapping of key: value` }]);
  const walk = new BoundedWalk();
  for (const [key, raw] of Object.entries(config as Record<string, unknown>)) {
    const { value, secure, plain } = walk.unwrap(raw, key, 0, []);
    // A key counts as secret when Pulumi would encrypt it: every string leaf is `secure:`.
    entries.set(key, { value, secret: secure > 0 && plain === 0 });
  }
  return entries;
}

function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.split("\n")[0].replace(/[\u0000-\u001f\u007f]/g, "?").slice(0, 200);
}

function isSecureLeaf(v: unknown): v is { secure: string } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as { secure?: unknown }).secure === "string";
}

/**
 * Copies the document into plain data, counting what it walks: js-yaml resolves `*alias` to the same object,
 * so a bomb is small in memory but huge to walk, and a self-reference is a cycle.
 */
class BoundedWalk {
  private nodes = 0;
  private aliases = 0;
  private readonly seen = new Set<object>();

  unwrap(v: unknown, path: string, depth: number, ancestors: object[]): { value: unknown; secure: number; plain: number } {
    if (++this.nodes > STACK_FILE_LIMITS.nodes) this.fail(path, `expands to more than ${STACK_FILE_LIMITS.nodes} values (aliases multiply it); a stack file has a few hundred`);
    if (isSecureLeaf(v)) return { value: SECRET_PLACEHOLDER, secure: 1, plain: 0 };
    if (typeof v !== "object" || v === null) return { value: v, secure: 0, plain: typeof v === "string" ? 1 : 0 };
    if (depth >= STACK_FILE_LIMITS.depth) this.fail(path, `nests more than ${STACK_FILE_LIMITS.depth} levels deep`);
    if (ancestors.includes(v)) this.fail(path, "is an alias of a value that contains it (a YAML cycle); write the value out");
    if (this.seen.has(v) && ++this.aliases > STACK_FILE_LIMITS.aliases) this.fail(path, `uses aliases more than ${STACK_FILE_LIMITS.aliases} times; write the values out`);
    this.seen.add(v);
    const inner = [...ancestors, v];
    let secure = 0, plain = 0;
    const add = (r: { secure: number; plain: number }) => { secure += r.secure; plain += r.plain; };
    if (Array.isArray(v)) {
      const value = v.map((x, i) => { const r = this.unwrap(x, `${path}[${i}]`, depth + 1, inner); add(r); return r.value; });
      return { value, secure, plain };
    }
    const value: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const r = this.unwrap(x, `${path}.${k}`, depth + 1, inner);
      add(r);
      // defineProperty: a `__proto__` key stays an own property (load.ts reports it), never a prototype.
      Object.defineProperty(value, k, { value: r.value, enumerable: true, writable: true, configurable: true });
    }
    return { value, secure, plain };
  }

  private fail(path: string, message: string): never {
    throw new StackFileError([{ path: printablePath(path), message }]);
  }
}

/** `ephemery:hosts[0].x` -> `hosts[0].x`, as load.ts names settings; control characters escaped, length cut. */
function printablePath(path: string): string {
  const p = printableName(path.replace(/^ephemery:/, ""));
  return p.length > 200 ? `${p.slice(0, 197)}...` : p;
}
