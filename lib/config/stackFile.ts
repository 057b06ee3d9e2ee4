/** Reads `Pulumi.<stack>.yaml` offline: values stay encrypted, only their secret-ness is known. */
import * as fs from "fs";
import * as yaml from "js-yaml";
import { ConfigEntry } from "./load";

/** Stands in for an encrypted value when checking a stack file offline. */
export const SECRET_PLACEHOLDER = "[secret]";

export function readStackFile(file: string): Map<string, ConfigEntry> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`cannot read stack file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseStackFile(text, file);
}

export function parseStackFile(text: string, file = "stack file"): Map<string, ConfigEntry> {
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (e) {
    throw new Error(`${file} is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  const entries = new Map<string, ConfigEntry>();
  if (doc === null || doc === undefined) return entries;
  if (typeof doc !== "object" || Array.isArray(doc)) throw new Error(`${file} must be a YAML mapping with a config: section`);
  const config = (doc as Record<string, unknown>).config;
  if (config === undefined || config === null) return entries;
  if (typeof config !== "object" || Array.isArray(config)) throw new Error(`${file}: config must be a mapping of key: value`);
  for (const [key, raw] of Object.entries(config as Record<string, unknown>)) {
    const { value, secure, plain } = unwrapSecure(raw);
    // A key counts as secret when Pulumi would encrypt it: every string leaf is `secure:`.
    entries.set(key, { value, secret: secure > 0 && plain === 0 });
  }
  return entries;
}

function isSecureLeaf(v: unknown): v is { secure: string } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as { secure?: unknown }).secure === "string";
}

function unwrapSecure(v: unknown): { value: unknown; secure: number; plain: number } {
  if (isSecureLeaf(v)) return { value: SECRET_PLACEHOLDER, secure: 1, plain: 0 };
  if (Array.isArray(v)) {
    let secure = 0, plain = 0;
    const value = v.map((x) => { const r = unwrapSecure(x); secure += r.secure; plain += r.plain; return r.value; });
    return { value, secure, plain };
  }
  if (typeof v === "object" && v !== null) {
    let secure = 0, plain = 0;
    const value: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) { const r = unwrapSecure(x); secure += r.secure; plain += r.plain; value[k] = r.value; }
    return { value, secure, plain };
  }
  return { value: v, secure: 0, plain: typeof v === "string" ? 1 : 0 };
}
