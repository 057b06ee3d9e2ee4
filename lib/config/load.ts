/**
 * Turns raw config entries (from the Pulumi runtime or from a stack file) into a validated StackConfig,
 * or into the full list of problems, each with its path and a fix.
 */
import { z } from "zod";
import { PROVIDER_SECRET_KEYS, SECRET_SETTING_NAMES, secretSetCommand, secretSettingsSchema, SecretSettings } from "./secrets";
import { hostListProblems, resolveHostKind, stackConfigSchema, StackConfig } from "./schema";
import { missingReceiverSecrets, receiverUrlProblems } from "./monitoring";
import { keysConfigProblems } from "../keys/configChecks";
import { fleetProblems } from "./fleetChecks";
import { printableName } from "../printable";

export const NAMESPACE = "ephemery";

export interface ConfigEntry {
  value: unknown;
  /** True when Pulumi holds the value encrypted (set with --secret). */
  secret: boolean;
}

export interface Problem {
  /** Where: `hosts[1].consensus.client`, or a full key such as `ephemery:sshPrivateKey`. */
  path: string;
  message: string;
}

export type LoadResult =
  | { ok: true; config: StackConfig; secrets: SecretSettings; problems: [] }
  | { ok: false; problems: Problem[] };

const PLAIN_SETTINGS = Object.keys(stackConfigSchema.shape);

/** Entries keyed by full config key (`ephemery:hosts`, `hcloud:token`). */
export function loadStackConfig(entries: Map<string, ConfigEntry>): LoadResult {
  const problems: Problem[] = [];
  const plain: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  const plainNames = stackSettingNames();

  for (const [key, given] of entries) {
    let entry = given;
    const [ns, name] = splitKey(key);
    const reserved = reservedKeyPaths(entry.value, ns === NAMESPACE ? name : key);
    if (reserved.length) {
      problems.push(...reserved.map((path) => ({ path, message: `is a reserved JavaScript name (${RESERVED_KEYS.join(", ")}), never a setting; remove it` })));
      if (RESERVED_KEYS.includes(name)) continue;
      // The rest of the value is still checked, so every other problem is listed too.
      entry = { ...entry, value: withoutReservedKeys(entry.value) };
    }
    if (ns !== NAMESPACE) {
      if (PROVIDER_SECRET_KEYS.includes(key) && !entry.secret) {
        problems.push({ path: key, message: `is stored in plain text; run: ${secretSetCommand(key)}` });
      }
      continue;
    }
    if ((SECRET_SETTING_NAMES as string[]).includes(name)) {
      if (!entry.secret) {
        problems.push({ path: key, message: `is a secret but is stored in plain text; run: ${secretSetCommand(key)}` });
      }
      secrets[name] = entry.value;
    } else if (plainNames.includes(name)) {
      plain[name] = entry.value;
    } else {
      problems.push({ path: printableName(key), message: `is not a setting; known settings: ${[...plainNames, ...SECRET_SETTING_NAMES].map((n) => `${NAMESPACE}:${n}`).join(", ")}` });
    }
  }

  if (plain.hosts === undefined) {
    problems.push({ path: `${NAMESPACE}:hosts`, message: "is missing: list at least one host, e.g. hosts: [{ name: node1, address: 203.0.113.10 }]" });
  }

  const parsed = stackConfigSchema.safeParse(plain, { reportInput: true });
  if (!parsed.success) problems.push(...zodProblems(parsed.error, plain.hosts === undefined ? ["hosts"] : []));
  problems.push(...hostListProblems(plain.hosts));
  const parsedSecrets = secretSettingsSchema.safeParse(secrets, { reportInput: true });
  if (!parsedSecrets.success) {
    problems.push(...zodProblems(parsedSecrets.error, [], { redact: true }).map((p) => ({ ...p, path: `${NAMESPACE}:${p.path}` })));
  }

  if (parsed.success && parsedSecrets.success) {
    problems.push(...crossChecks(parsed.data, parsedSecrets.data));
  }
  if (problems.length > 0) return { ok: false, problems: dedupe(problems) };
  return { ok: true, config: parsed.data!, secrets: parsedSecrets.data!, problems: [] };
}

/** Requirements that span plain settings and secrets. */
function crossChecks(cfg: StackConfig, secrets: SecretSettings): Problem[] {
  const problems: Problem[] = [];
  cfg.hosts.forEach((h, i) => {
    const kind = resolveHostKind(h);
    if (kind === "kubernetes") {
      if (!secrets.kubeconfig && !secrets.kubeconfigs?.[h.name]) {
        problems.push({ path: `hosts[${i}].kubernetes`, message: `host "${h.name}" runs on Kubernetes but no kubeconfig is set; run: ${secretSetCommand(`${NAMESPACE}:kubeconfig`)}` });
      }
      return;
    }
    if (kind !== "local" && !h.ssh.useAgent && !secrets.sshPrivateKey && !secrets.sshPrivateKeys?.[h.name]) {
      problems.push({
        path: `hosts[${i}].ssh`,
        message: `host "${h.name}" is reached over SSH but no key is set; run: ${secretSetCommand(`${NAMESPACE}:sshPrivateKey`)} (or set ssh.useAgent: true)`,
      });
    }
  });
  cfg.hosts.forEach((h, i) => problems.push(...missingReceiverSecrets(h.monitoring, secrets.alertmanagerSecrets, `hosts[${i}].monitoring`)));
  cfg.hosts.forEach((h, i) => problems.push(...receiverUrlProblems(h.monitoring, secrets.alertmanagerSecrets, `hosts[${i}].monitoring`)));
  problems.push(...keysConfigProblems(cfg, secrets));
  problems.push(...fleetProblems(cfg, secrets));
  for (const name of Object.keys(secrets.kubeconfigs ?? {})) {
    if (!cfg.hosts.some((h) => h.name === name && resolveHostKind(h) === "kubernetes")) {
      problems.push({ path: `${NAMESPACE}:kubeconfigs.${name}`, message: `names no kind kubernetes host; they are ${cfg.hosts.filter((h) => resolveHostKind(h) === "kubernetes").map((h) => h.name).join(", ") || "none"}` });
    }
  }
  for (const name of Object.keys(secrets.sshPrivateKeys ?? {})) {
    if (!cfg.hosts.some((h) => h.name === name)) {
      problems.push({ path: `${NAMESPACE}:sshPrivateKeys.${name}`, message: `names no host; hosts are ${cfg.hosts.map((h) => h.name).join(", ")}` });
    }
  }
  return problems;
}

export function stackSettingNames(): string[] {
  return PLAIN_SETTINGS;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf(":");
  return i < 0 ? [NAMESPACE, key] : [key.slice(0, i), key.slice(i + 1)];
}

/** `["hosts", 1, "consensus", "client"]` -> `hosts[1].consensus.client`; control characters escaped. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${printableName(String(seg))}` : printableName(String(seg));
  }
  return out;
}

/**
 * Keys that change an object's prototype when copied (`__proto__`) or shadow its machinery: a value under
 * them would reach the schema through the prototype, past the strict-key checks. Refused everywhere.
 */
export const RESERVED_KEYS = ["__proto__", "constructor", "prototype"];

/** Paths (`hosts[0].__proto__`) of every reserved key in `value`; stops at the first 20. */
export function reservedKeyPaths(value: unknown, root: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown, path: (string | number)[], depth: number) => {
    if (out.length >= 20 || depth > 100 || typeof v !== "object" || v === null) return;
    if (Array.isArray(v)) { v.forEach((x, i) => walk(x, [...path, i], depth + 1)); return; }
    for (const k of Object.keys(v)) {
      if (RESERVED_KEYS.includes(k)) out.push(formatPath([...path, k]));
      else walk((v as Record<string, unknown>)[k], [...path, k], depth + 1);
    }
  };
  if (RESERVED_KEYS.includes(root)) return [formatPath([root])];
  walk(value, [root], 0);
  return out;
}

/** A copy of `value` without reserved keys at any depth (only called once they have been reported). */
function withoutReservedKeys(value: unknown, depth = 0): unknown {
  if (typeof value !== "object" || value === null || depth > 100) return value;
  if (Array.isArray(value)) return value.map((x) => withoutReservedKeys(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) if (!RESERVED_KEYS.includes(k)) out[k] = withoutReservedKeys((value as Record<string, unknown>)[k], depth + 1);
  return out;
}

/** What a value is, without the value: for secrets. */
function kindOf(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return article(typeof v === "object" ? "object" : typeof v);
}

function showValue(v: unknown): string {
  // A value from the file may be huge: quote at most 80 characters of it.
  if (typeof v === "string") return v.length > 80 ? `${JSON.stringify(v.slice(0, 60))}... (${v.length} characters)` : JSON.stringify(v);
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return String(v);
}

/** With `redact`, messages describe the value's type, never the value (for secrets). */
export function zodProblems(error: z.ZodError, skipPaths: string[] = [], opts: { redact?: boolean } = {}): Problem[] {
  const out: Problem[] = [];
  const show = opts.redact ? () => "the value" : showValue;
  const got = opts.redact ? kindOf : showValue;
  for (const issue of error.issues) {
    const path = formatPath(issue.path);
    if (skipPaths.includes(path)) continue;
    const input = (issue as { input?: unknown }).input;
    let message: string;
    switch (issue.code) {
      case "invalid_value":
        message = `${show(input)} is not one of ${issue.values.map(String).join(", ")}`;
        break;
      case "invalid_type":
        message = input === undefined ? `is required (${issue.expected})` : `must be ${article(issue.expected)}, got ${got(input)}`;
        break;
      case "unrecognized_keys":
        out.push(...issue.keys.map((k) => ({ path: path ? `${path}.${printableName(k)}` : printableName(k), message: `is not a setting here; check the spelling (see the config reference in README.md)` })));
        continue;
      case "too_small":
        message = issue.origin === "array" ? (issue.message.startsWith("Too small") ? `needs at least ${issue.minimum} entries` : issue.message) : input !== undefined ? `${show(input)} is too small: ${minimumText(issue)}` : issue.message;
        break;
      case "too_big":
        message = `${show(input)} is too large: at most ${issue.maximum}${issue.origin === "string" ? " characters" : ""}`;
        break;
      case "invalid_format":
      case "custom":
      default:
        message = issue.message.startsWith("Invalid") ? `${show(input)} is not valid here` : input !== undefined && issue.code !== "custom" ? `${show(input)} ${issue.message}` : issue.message;
    }
    out.push({ path, message });
  }
  return out;
}

function minimumText(issue: z.core.$ZodIssueTooSmall): string {
  if (issue.origin === "string") return `at least ${issue.minimum} characters`;
  return `at least ${issue.minimum}`;
}

function article(t: string): string {
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function formatProblems(problems: Problem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join("\n");
}
