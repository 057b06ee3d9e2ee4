/**
 * Fuzzing `ephemery config check --json` with seeded malformed stack files: random mutations of the repo's
 * example stacks (wrong types, prototype keys, unknown and missing keys, huge strings, control characters,
 * deep nesting, alias bombs and cycles, secrets of the wrong type, broken YAML text). Each case must end
 * with exit 0 or 1, JSON that parses, a path on every problem, and within bounds of time and memory that
 * are the parser's limits with a wide margin (figures are printed; they are not a speed test).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { runCli } from "../support/cli";

const ROOT = path.join(__dirname, "..", "..");
const CASES = 300;
const SEED = 0x3076;
/** Per case: generous bounds; an unbounded parser took minutes and gigabytes on a single bomb. */
const MAX_CASE_MS = 20_000;
const MAX_HEAP_GROWTH_BYTES = 512 * 1024 * 1024;
const SECRET_MARK = "7301928465";

/** mulberry32: small, seeded, good enough to pick mutations reproducibly. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] };
}
type R = ReturnType<typeof rng>;

const bases = ["Pulumi.local.yaml", "Pulumi.dev.yaml"].map((f) => yaml.load(fs.readFileSync(path.join(ROOT, f), "utf8")) as Record<string, unknown>);

/** Every container (object or list) of a document with its path. */
function containers(v: unknown, out: unknown[] = []): unknown[] {
  if (typeof v === "object" && v !== null) {
    out.push(v);
    for (const x of Object.values(v)) containers(x, out);
  }
  return out;
}

const CONTROL = ["\u0000", "\n", "\r", "\u001b[31m", "\u007f", "\u2028", "\t"];
const wrongValues = (r: R): unknown[] => [
  r.int(1e9), -1, 1.5, true, null, [], {}, [r.int(10)], { x: 1 }, "", "x".repeat(r.int(5) * 50_000),
  `a${r.pick(CONTROL)}b`, "0x" + "f".repeat(r.int(200)), "$(touch /tmp/pwn)", "; rm -rf /", "../../etc/passwd",
];

interface Case { text: string; expectFailure?: RegExp; secret?: boolean }

function structural(r: R): Case {
  const doc = JSON.parse(JSON.stringify(r.pick(bases))) as Record<string, any>;
  let expectFailure: RegExp | undefined;
  let secret = false;
  const mutations = 1 + r.int(3);
  for (let m = 0; m < mutations; m++) {
    const all = containers(doc.config).filter((c) => c !== doc.config || r.next() < 0.2) as Record<string, unknown>[];
    const target = r.pick(all);
    const keys = Object.keys(target);
    switch (r.int(8)) {
      case 0: // a wrong value at a random place
        if (keys.length) target[r.pick(keys)] = r.pick(wrongValues(r));
        break;
      case 1: // a key renamed to a random casing of a known one
        if (keys.length && !Array.isArray(target)) { const k = r.pick(keys); target[k.toUpperCase()] = target[k]; delete target[k]; }
        break;
      case 2: // a key removed
        if (keys.length && !Array.isArray(target)) delete target[r.pick(keys)];
        break;
      case 3: // an unknown key, maybe with control characters in its name
        if (!Array.isArray(target)) target[`unknown${r.next() < 0.5 ? r.pick(CONTROL) : ""}${r.int(100)}`] = r.pick(wrongValues(r));
        break;
      case 4: { // deep nesting
        if (!keys.length) break;
        let v: unknown = "leaf";
        const depth = 20 + r.int(180);
        for (let i = 0; i < depth; i++) v = r.next() < 0.5 ? [v] : { k: v };
        target[r.pick(keys)] = v;
        break;
      }
      case 5: // a secret of the wrong type (its value must never be printed)
        doc.config[`ephemery:${r.pick(["keystorePassword", "sshPrivateKey", "grafanaAdminPassword"])}`] = r.pick([Number(SECRET_MARK), [Number(SECRET_MARK)], { v: Number(SECRET_MARK) }, true]);
        doc.config["ephemery:keystorePasswords"] = { [r.pick(["local", "node1", "x"])]: { abc: Number(SECRET_MARK) } };
        secret = true;
        break;
      case 6: // a whole list or object replaced
        if (keys.length) target[r.pick(keys)] = r.pick([[], {}, [null], [[]], "hosts"]);
        break;
      default: // a huge list
        if (keys.length) target[r.pick(keys)] = Array.from({ length: 1000 + r.int(5000) }, (_, i) => i);
    }
  }
  if (r.next() < 0.3) {
    // Last, so no later mutation removes it: a prototype key smuggling settings into some object.
    const objects = containers(doc.config).filter((c) => !Array.isArray(c)) as Record<string, unknown>[];
    const key = r.pick(["__proto__", "constructor", "prototype"]);
    Object.defineProperty(r.pick(objects), key, { value: { exposeRpc: true, exposeBeaconApi: true }, enumerable: true, writable: true, configurable: true });
    expectFailure = new RegExp(`(^|\\.)${key}$`);
  }
  let text = yaml.dump(doc, { noRefs: true, lineWidth: -1 });
  if (secret && !text.includes(SECRET_MARK)) secret = false;
  return { text, expectFailure, secret };
}

function aliasCase(r: R): Case {
  switch (r.int(3)) {
    case 0: {
      const width = 5 + r.int(10);
      const levels = [`l0: &l0 [${Array(width).fill("x").join(", ")}]`];
      const depth = 4 + r.int(8);
      for (let i = 1; i < depth; i++) levels.push(`l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(", ")}]`);
      return { text: `bomb:\n${levels.map((l) => `  ${l}`).join("\n")}\nconfig:\n  ephemery:hosts: *l${depth - 1}\n`, expectFailure: /\S/ };
    }
    case 1:
      return { text: `config:\n  ephemery:hosts: &h\n    - name: n1\n      kind: local\n      extra: *h\n`, expectFailure: /^hosts\[0\]\.extra$/ };
    default:
      return { text: `config:\n  ephemery:network: &n { release: *n }\n  ephemery:hosts: [{ name: n1, kind: local }]\n`, expectFailure: /./ };
  }
}

function textual(r: R): Case {
  let text = yaml.dump(r.pick(bases), { lineWidth: -1 });
  const edits = 1 + r.int(4);
  for (let i = 0; i < edits; i++) {
    const at = r.int(text.length);
    switch (r.int(5)) {
      case 0: text = text.slice(0, at); break;
      case 1: text = text.slice(0, at) + r.pick([":", "[", "{", "\t", "&a ", "*a", "- ", "'", "\"", "!!js/regexp /x/", "<<: *z", "\u0000", "---\n"]) + text.slice(at); break;
      case 2: text = text.slice(0, at) + "[".repeat(50 + r.int(5000)) + text.slice(at); break;
      case 3: text = text.slice(0, at) + text.slice(at + 1 + r.int(40)); break;
      default: text = text.slice(0, at) + "\n" + " ".repeat(r.int(9)) + "x: " + "y".repeat(r.int(3) ? 10 : 300_000) + "\n" + text.slice(at);
    }
  }
  return { text };
}

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-cfg-fuzz-")); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test(`config check holds on ${CASES} seeded malformed stack files`, async () => {
  const r = rng(SEED);
  const codes: Record<number, number> = {};
  const kinds = { structural: 0, textual: 0, alias: 0, prototypeKey: 0, secretOfWrongType: 0 };
  for (let i = 0; i < CASES; i++) {
    const kind = r.int(10);
    const c = kind < 6 ? structural(r) : kind < 8 ? textual(r) : aliasCase(r);
    kinds[kind < 6 ? "structural" : kind < 8 ? "textual" : "alias"]++;
    if (c.expectFailure && kind < 6) kinds.prototypeKey++;
    if (c.secret) kinds.secretOfWrongType++;
    const file = path.join(dir, `Pulumi.case${i}.yaml`);
    fs.writeFileSync(file, c.text);
    const json = i % 5 !== 4;
    const heapBefore = process.memoryUsage().heapUsed;
    const started = process.hrtime.bigint();
    const out = await runCli(["config", "check", ...(json ? ["--json"] : []), "--file", file]);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    codes[out.code] = (codes[out.code] ?? 0) + 1;
    const context = `case ${i} (${file})`;
    expect([context, [0, 1].includes(out.code)]).toEqual([context, true]);
    expect([context, ms < MAX_CASE_MS, heapGrowth < MAX_HEAP_GROWTH_BYTES]).toEqual([context, true, true]);
    if (c.secret) expect([context, (out.stdout + out.stderr).includes(SECRET_MARK)]).toEqual([context, false]);
    if (json) {
      const report = JSON.parse(out.stdout) as { ok: boolean; problems: { path: string; message: string }[] };
      expect([context, report.ok]).toEqual([context, out.code === 0]);
      expect([context, out.stderr]).toEqual([context, ""]);
      if (out.code === 1) expect([context, report.problems.length > 0]).toEqual([context, true]);
      for (const p of report.problems) {
        expect([context, typeof p.path === "string" && /\S/.test(p.path), typeof p.message === "string" && p.message.length > 0]).toEqual([context, true, true]);
      }
      if (c.expectFailure) {
        expect([context, out.code]).toEqual([context, 1]);
        // Named at its path, unless the whole file was refused first by one of the parser's limits.
        const limit = /nests more than|expands to more than|uses aliases more than|bytes, over the|merges \(<<\)/;
        const named = report.problems.some((p) => c.expectFailure!.test(p.path) || (report.problems.length === 1 && limit.test(p.message)));
        expect([context, c.expectFailure.source, report.problems.map((p) => `${p.path}: ${p.message.slice(0, 120)}`), named]).toEqual([context, c.expectFailure.source, report.problems.map((p) => `${p.path}: ${p.message.slice(0, 120)}`), true]);
      }
    } else if (out.code === 1) {
      // Text mode: one line per problem, each "  <path>: <message>", no raw control characters.
      const lines = out.stderr.split("\n").filter(Boolean);
      expect([context, lines.slice(1).every((l) => /^ {2}\S[^\n]*: \S/.test(l))]).toEqual([context, true]);
      // eslint-disable-next-line no-control-regex
      expect([context, out.stderr.split("\n").filter((l) => /[\u0000-\u0008\u000b-\u001f\u007f]/.test(l)).map((l) => JSON.stringify(l.slice(0, 300)))]).toEqual([context, []]);
    }
  }
  expect(codes[1]).toBeGreaterThan(CASES / 2);
  expect(Math.min(kinds.textual, kinds.alias, kinds.prototypeKey, kinds.secretOfWrongType)).toBeGreaterThan(10);
}, 600_000);
