/**
 * Safe character sets for settings that end up in shell lines, cron lines and client command lines. The
 * renderers quote every value as well; these rules make a value that would need quoting a config error first,
 * with a message naming the character. Pure.
 */
import { z } from "zod";
import { CHECKPOINT_URL_PATTERN } from "../clients/common";

/** One setting's rule: which characters it may use, how to say so, and an optional check of its shape. */
export interface CharsetRule {
  /** A single-character class, e.g. /[A-Za-z0-9._-]/. */
  readonly allowed: RegExp;
  /** The allowed characters in words, for the message ("letters, digits and . _ -"). */
  readonly allowedText: string;
  /** What the value must be, for the message ("must be an http(s) URL"). */
  readonly mustBe: string;
  /** The shape besides the characters; the message is `mustBe` when it fails. */
  readonly shape?: (value: string) => boolean;
  /** Longest accepted value in characters. */
  readonly maxLength: number;
  /** Added to the message when a character is refused (e.g. how to percent-encode it). */
  readonly hint?: string;
}

/** The first character of `value` outside the rule's set, with its 0-based index. */
export function firstDisallowed(value: string, allowed: RegExp): { char: string; index: number } | undefined {
  const single = new RegExp(`^${allowed.source}$`, allowed.flags.replace("g", ""));
  let index = 0;
  for (const char of value) {
    if (!single.test(char)) return { char, index };
    index += char.length;
  }
  return undefined;
}

/** `"&"`, or `U+000A (a newline)` for characters a terminal would not show. */
export function describeChar(char: string): string {
  const code = char.codePointAt(0)!;
  const names: Record<number, string> = { 0x0a: "a newline", 0x0d: "a carriage return", 0x09: "a tab", 0x20: "a space", 0x00: "a NUL byte" };
  if (code < 0x21 || code === 0x7f || (code >= 0x80 && code < 0xa0)) {
    return `U+${code.toString(16).toUpperCase().padStart(4, "0")}${names[code] ? ` (${names[code]})` : ""}`;
  }
  return JSON.stringify(char);
}

/** The problem with `value` under `rule`, or undefined when it is fine; `label` replaces the value (secrets). */
export function charsetProblem(value: string, rule: CharsetRule, label?: string): string | undefined {
  const shown = label ?? JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (value.length > rule.maxLength) return `${shown} is too long: ${rule.mustBe}, at most ${rule.maxLength} characters`;
  const bad = firstDisallowed(value, rule.allowed);
  if (bad) {
    return `${shown} ${rule.mustBe} using only ${rule.allowedText}; ${describeChar(bad.char)} at position ${bad.index + 1} is not allowed${rule.hint ? ` (${rule.hint})` : ""}`;
  }
  if (rule.shape && !rule.shape(value)) return `${shown} ${rule.mustBe}`;
  return undefined;
}

/** A zod string checked against `rule`, one problem per value. */
export function charsetString(rule: CharsetRule) {
  return z.string().superRefine((value, ctx) => {
    const problem = charsetProblem(value, rule);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });
}

const URL_CHARS = /[A-Za-z0-9\-._~:/?#[\]@%+=,]/;
const URL_CHARS_TEXT = "letters, digits and - . _ ~ : / ? # [ ] @ % + = ,";
const URL_HINT = "shell characters such as & ; $ ( ) ` ' and spaces are refused: percent-encode them (& is %26)";
const httpShape = (v: string) => /^https?:\/\/[^/?#:]/.test(v);

export const URL_RULE: CharsetRule = {
  allowed: URL_CHARS,
  allowedText: URL_CHARS_TEXT,
  mustBe: "must be an http(s) URL",
  shape: httpShape,
  maxLength: 512,
  hint: URL_HINT,
};

/** Checkpoint providers: the one shape the reset program and the CLs use (lib/clients/common.ts). */
export const CHECKPOINT_URL_RULE: CharsetRule = {
  allowed: /[A-Za-z0-9.:/_-]/,
  allowedText: "letters, digits and . : / _ -",
  mustBe: "must be http(s)://host[:port][/path] (no query, fragment or credentials)",
  shape: (v) => new RegExp(CHECKPOINT_URL_PATTERN).test(v.replace(/\/+$/, "")),
  maxLength: 512,
  hint: "a checkpoint provider is a host, a port and a path",
};

/** Like URL_RULE, plus exactly the placeholder {tag} (the braces are allowed only there). */
/**
 * Alert receiver URLs (secrets) reach only alertmanager.yml, written as YAML data and never into a shell line:
 * & and ; stay allowed there, so a webhook with a query string (a Discord thread_id) can still be given.
 */
export const RECEIVER_URL_RULE: CharsetRule = {
  ...URL_RULE,
  allowed: /[A-Za-z0-9\-._~:/?#[\]@%+=,&;]/,
  allowedText: `${URL_CHARS_TEXT} & and semicolons`,
  hint: "quotes, $, ` and spaces are refused: percent-encode them",
};

export const TAG_URL_RULE: CharsetRule = {
  allowed: /[A-Za-z0-9\-._~:/?#[\]@%+=,{}]/,
  allowedText: `${URL_CHARS_TEXT} and the placeholder {tag}`,
  mustBe: "must be an http(s) URL containing {tag}",
  shape: (v) => httpShape(v) && v.includes("{tag}") && !/[{}]/.test(v.split("{tag}").join("")),
  maxLength: 512,
  hint: URL_HINT,
};

export const DATA_DIR_RULE: CharsetRule = {
  allowed: /[A-Za-z0-9._/~-]/,
  allowedText: "letters, digits and . _ - / (and ~ as the first character)",
  mustBe: "must be an absolute path (or ~/... on a local host)",
  // No `..` segment: every path the program derives must stay under dataDir.
  shape: (v) => /^(\/|~\/)[^~]*$/.test(v) && !v.split("/").includes(".."),
  maxLength: 200,
};

export const ADDRESS_RULE: CharsetRule = {
  allowed: /[A-Za-z0-9.:-]/,
  allowedText: "letters, digits and . : -",
  mustBe: "must be a DNS name or an IP address",
  // A leading - would read as an option to ssh.
  shape: (v) => v.length > 0 && !v.startsWith("-"),
  maxLength: 253,
};

/** Cloud identifiers (regions, instance and server types, image and subnet ids). */
export const CLOUD_ID_RULE: CharsetRule = {
  allowed: /[A-Za-z0-9._-]/,
  allowedText: "letters, digits and . _ -",
  mustBe: "must be a cloud identifier",
  shape: (v) => v.length > 0 && !v.startsWith("-"),
  maxLength: 128,
};

/** Printable ASCII except quotes, expansions and the shell's control operators. */
export const GRAFFITI_RULE: CharsetRule = {
  allowed: /[ !#%()*+,\-./0-9:=?@A-Z[\]^_a-z{}~]/,
  allowedText: "printable ASCII other than ' \" ` $ \\ & ; | < >",
  mustBe: "must be graffiti text (32 characters at most)",
  maxLength: 32,
};

/** One extra flag per list entry: passed as one argument, never through a shell. */
export const EXTRA_ARG_RULE: CharsetRule = {
  allowed: /[^\x00-\x1f\x7f]/,
  allowedText: "printable characters (one flag per list entry)",
  mustBe: "must be one command-line argument",
  maxLength: 1024,
};

const CRON_KEYWORDS = ["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"];
export const CRON_RULE: CharsetRule = {
  allowed: /[0-9*/,\- @a-z]/,
  allowedText: `five fields of 0-9 * / , - separated by spaces, or one of ${CRON_KEYWORDS.join(", ")}`,
  mustBe: `must be a cron schedule such as "* * * * *"`,
  shape: (v) => CRON_KEYWORDS.includes(v) || /^[0-9*/,-]+( [0-9*/,-]+){4}$/.test(v),
  maxLength: 100,
};
