/**
 * `ephemery init`: a guided setup that writes Pulumi.<stack>.yaml. Every answer is checked with the stack
 * schema as soon as it is given (the schema's own rules, filtered to the field just asked), and the whole
 * file is checked again before anything is written. Secrets never enter the file as plain text: they are
 * handed to `pulumi config set --secret` on standard input, or the exact commands are printed.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import * as readline from "readline";
import { CONSENSUS_CLIENTS, EXECUTION_CLIENTS } from "../../lib/config/clients";
import { ConfigEntry, formatPath, loadStackConfig, zodProblems } from "../../lib/config/load";
import { HOST_KINDS, hostSchema } from "../../lib/config/schema";
import { SECRET_PLACEHOLDER } from "../../lib/config/stackFile";
import { Command, CommandIO, json, stringOpt, UsageError } from "../command";
import { findProjectDir } from "../stack";

type Draft = Record<string, any>;

interface Question {
  /** Flag that answers it in scripts, e.g. `--address`. */
  flag: string;
  prompt: string;
  /** Where the answer goes in the host, e.g. ["ssh", "port"]; empty for answers kept aside (secrets). */
  at: string[];
  when?: (h: Draft, side: SideAnswers) => boolean;
  defaultOf?: (h: Draft) => string | undefined;
  /** Turns the typed text into the config value; throw to reject. Default: the text. */
  parse?: (text: string) => unknown;
  /** For answers kept aside: checks them; returns an error message or undefined. */
  check?: (text: string) => string | undefined;
  side?: keyof SideAnswers;
}

interface SideAnswers {
  sshKeyFile?: string;
  keystorePasswordFile?: string;
  anotherHost?: string;
}

const yesNo = (text: string): boolean => {
  if (/^(y|yes|true)$/i.test(text)) return true;
  if (/^(n|no|false)$/i.test(text)) return false;
  throw new Error(`answer yes or no, got "${text}"`);
};
const int = (text: string): number => {
  if (!/^\d+$/.test(text)) throw new Error(`must be a whole number, got "${text}"`);
  return Number(text);
};
const isRemote = (h: Draft) => h.kind !== "local";
const readableFile = (text: string) => (fs.existsSync(text) && fs.statSync(text).isFile() ? undefined : `${text} is not a readable file`);

/** Kinds `init` can set up by asking; a kind kubernetes host needs a kubeconfig secret and cluster settings (README). */
const INIT_KINDS = HOST_KINDS.filter((k) => k !== "kubernetes");

export const HOST_QUESTIONS: Question[] = [
  { flag: "host-name", prompt: "Host name (a-z, 0-9, -)", at: ["name"], defaultOf: () => "node1" },
  {
    flag: "kind", prompt: `Host kind (${INIT_KINDS.join(", ")})`, at: ["kind"], defaultOf: () => "ssh",
    check: (t) => (t === "kubernetes" ? "ephemery init does not set up kind kubernetes hosts: add one to the stack file by hand (README: Running on Kubernetes)" : undefined),
  },
  { flag: "address", prompt: "Address (IP or DNS name)", at: ["address"], when: (h) => h.kind === "ssh" },
  { flag: "aws-region", prompt: "AWS region", at: ["aws", "region"], when: (h) => h.kind === "aws", defaultOf: () => "eu-central-1" },
  { flag: "aws-instance-type", prompt: "EC2 instance type", at: ["aws", "instanceType"], when: (h) => h.kind === "aws", defaultOf: () => "m6i.xlarge" },
  { flag: "hcloud-location", prompt: "Hetzner location", at: ["hcloud", "location"], when: (h) => h.kind === "hcloud", defaultOf: () => "fsn1" },
  { flag: "hcloud-server-type", prompt: "Hetzner server type", at: ["hcloud", "serverType"], when: (h) => h.kind === "hcloud", defaultOf: () => "cpx41" },
  { flag: "ssh-user", prompt: "SSH user", at: ["ssh", "user"], when: (h) => h.kind === "ssh", defaultOf: () => "root" },
  { flag: "ssh-port", prompt: "SSH port", at: ["ssh", "port"], when: isRemote, defaultOf: () => "22", parse: int },
  { flag: "ssh-agent", prompt: "Log in with your ssh-agent instead of a key stored in the stack? (yes/no)", at: ["ssh", "useAgent"], when: isRemote, defaultOf: () => "no", parse: yesNo },
  {
    flag: "ssh-key", prompt: "SSH private key file (stored with pulumi config set --secret)", at: [], side: "sshKeyFile",
    when: (h, side) => isRemote(h) && h.ssh?.useAgent !== true && !side.sshKeyFile, defaultOf: () => defaultKeyFile(), check: readableFile,
  },
  { flag: "data-dir", prompt: "Data directory on the host", at: ["dataDir"], defaultOf: (h) => (h.kind === "local" ? "~/.ephemery" : "/var/lib/ephemery") },
  { flag: "execution", prompt: `Execution client (${EXECUTION_CLIENTS.join(", ")})`, at: ["execution", "client"], defaultOf: () => "geth" },
  { flag: "consensus", prompt: `Consensus client (${CONSENSUS_CLIENTS.join(", ")})`, at: ["consensus", "client"], defaultOf: () => "lighthouse" },
  { flag: "validator", prompt: "Run a validator client? (yes/no)", at: ["validator"], defaultOf: () => "no", parse: (t) => (yesNo(t) ? {} : undefined) },
  { flag: "fee-recipient", prompt: "Fee recipient address (0x...)", at: ["validator", "feeRecipient"], when: (h) => h.validator !== undefined },
  { flag: "keys", prompt: "Validator keystores: a directory or archive on this machine (empty: none yet)", at: ["validator", "keys"], when: (h) => h.validator !== undefined, defaultOf: () => "", parse: (t) => (t === "" ? undefined : { path: t }) },
  {
    flag: "keystore-password-file", prompt: "File holding the keystores' password (stored with pulumi config set --secret)", at: [], side: "keystorePasswordFile",
    when: (h, side) => h.validator?.keys !== undefined && !side.keystorePasswordFile, check: readableFile,
  },
  { flag: "monitoring", prompt: "Run Prometheus, Grafana and alerting beside the node? (yes/no)", at: ["monitoring", "enabled"], defaultOf: () => "yes", parse: yesNo },
];

function defaultKeyFile(): string | undefined {
  const home = process.env.HOME ?? "";
  return ["id_ed25519", "id_ecdsa", "id_rsa"].map((k) => path.join(home, ".ssh", k)).find((f) => fs.existsSync(f));
}

function setAt(obj: Draft, at: string[], value: unknown): void {
  let o = obj;
  for (const k of at.slice(0, -1)) o = o[k] ??= {};
  const last = at[at.length - 1];
  if (value === undefined) delete o[last];
  else o[last] = value;
}

function getAt(obj: Draft, at: string[]): unknown {
  return at.reduce<any>((o, k) => (o === undefined ? undefined : o[k]), obj);
}

/** The schema's complaints about one field of a host being drafted (other fields may still be missing). */
export function fieldProblems(draft: Draft, at: string[], otherNames: string[] = []): string[] {
  const messages: string[] = [];
  const parsed = hostSchema.safeParse(draft, { reportInput: true });
  if (!parsed.success) {
    const want = formatPath(at);
    for (const p of zodProblems(parsed.error)) {
      // Only the field itself: its siblings and children may simply not be asked yet.
      if (p.path === want) messages.push(p.message);
    }
  }
  if (at[0] === "name" && otherNames.includes(draft.name)) messages.push(`"${draft.name}" is already the name of another host`);
  return messages;
}

interface Prompter {
  ask(question: string, def?: string): Promise<string>;
  close(): void;
}

function terminalPrompter(): Prompter {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: Boolean(process.stdin.isTTY) });
  const lines: string[] = [];
  const waiting: ((l: string | undefined) => void)[] = [];
  let closed = false;
  rl.on("line", (l) => (waiting.length ? waiting.shift()!(l) : lines.push(l)));
  rl.on("close", () => { closed = true; while (waiting.length) waiting.shift()!(undefined); });
  return {
    async ask(q, def) {
      process.stdout.write(`${q}${def !== undefined && def !== "" ? ` [${def}]` : ""}: `);
      const line = lines.length ? lines.shift() : closed ? undefined : await new Promise<string | undefined>((r) => waiting.push(r));
      if (line === undefined) throw new Error("input ended before setup was complete; nothing was written");
      return line.trim() === "" ? def ?? "" : line.trim();
    },
    close: () => rl.close(),
  };
}

interface Answers {
  host: Draft;
  side: SideAnswers;
}

async function askHost(p: Prompter | undefined, values: Record<string, unknown>, io: CommandIO, otherNames: string[], side: SideAnswers): Promise<Draft> {
  const host: Draft = {};
  for (const q of HOST_QUESTIONS) {
    if (q.when && !q.when(host, side)) continue;
    const flagValue = p ? undefined : stringOpt(values, q.flag);
    for (;;) {
      const def = q.defaultOf?.(host);
      const text = p ? await p.ask(q.prompt, def) : flagValue ?? def;
      if (text === undefined) throw new UsageError(`--${q.flag} is required (${q.prompt})`);
      let problems: string[];
      if (q.side) {
        const problem = text === "" ? `give ${q.prompt.toLowerCase()}` : q.check?.(text);
        problems = problem ? [problem] : [];
        if (!problem) side[q.side] = path.resolve(io.cwd, text);
      } else {
        try {
          setAt(host, q.at, q.parse ? q.parse(text) : text);
          problems = getAt(host, q.at) === undefined ? [] : fieldProblems(host, q.at, otherNames);
        } catch (e) {
          problems = [(e as Error).message];
        }
      }
      if (problems.length === 0) break;
      if (!p) throw new UsageError(`--${q.flag} ${JSON.stringify(text)}: ${problems.join("; ")}`);
      io.out(`  ${problems.join("\n  ")}\n`);
      if (!q.side) setAt(host, q.at, undefined);
    }
  }
  return host;
}

/** The commands that store the secrets; run in the project directory. */
export function secretCommands(stack: string, side: SideAnswers): { argv: string[]; stdinFile?: string; shell: string }[] {
  const out: { argv: string[]; stdinFile?: string; shell: string }[] = [
    { argv: ["stack", "select", "--create", stack], shell: `pulumi stack select --create ${stack}` },
  ];
  const secret = (key: string, file: string) =>
    out.push({ argv: ["config", "set", "--secret", "--stack", stack, key], stdinFile: file, shell: `pulumi config set --secret --stack ${stack} ${key} < ${file}` });
  if (side.sshKeyFile) secret("ephemery:sshPrivateKey", side.sshKeyFile);
  if (side.keystorePasswordFile) secret("ephemery:keystorePassword", side.keystorePasswordFile);
  return out.length > 1 ? out : [];
}

function runPulumi(argv: string[], cwd: string, env: NodeJS.ProcessEnv, stdinFile?: string): Promise<{ code: number | null; err: string; missing: boolean }> {
  return new Promise((resolve) => {
    const child = spawn("pulumi", argv, { cwd, env, stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (c) => (err += c));
    child.on("error", (e: NodeJS.ErrnoException) => resolve({ code: null, err: e.message, missing: e.code === "ENOENT" }));
    child.on("close", (code) => resolve({ code, err, missing: false }));
    if (stdinFile) fs.createReadStream(stdinFile).pipe(child.stdin);
    else child.stdin.end();
  });
}

function pulumiOnPath(env: NodeJS.ProcessEnv): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn("pulumi", ["version"], { env, stdio: "ignore" });
    child.on("error", () => resolve(false));
    child.on("close", () => resolve(true));
  });
}

export function stackFileText(hosts: Draft[]): string {
  const header = [
    "# Written by `ephemery init`. Check it with: npx ephemery config check --file <this file>",
    "# Secrets are not in this file until `pulumi config set --secret` stores them (encrypted).",
  ].join("\n");
  return `${header}\n${yaml.dump({ config: { "ephemery:hosts": hosts } }, { lineWidth: 120, noRefs: true })}`;
}

const FLAG_OPTIONS = Object.fromEntries(HOST_QUESTIONS.map((q) => [q.flag, { type: "string" as const }]));

export const initCommands: Command[] = [
  {
    path: ["init"],
    summary: "Guided setup: ask for hosts, clients, keys and monitoring, then write Pulumi.<stack>.yaml",
    usage: "ephemery init [--stack NAME] [--dir DIR] [--force] [--non-interactive --host-name N --kind K ...] [--json]",
    options: { stack: { type: "string" }, dir: { type: "string" }, force: { type: "boolean" }, "non-interactive": { type: "boolean" }, json: { type: "boolean" }, ...FLAG_OPTIONS },
    async run({ values }, io) {
      const stack = stringOpt(values, "stack") ?? "dev";
      if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new UsageError(`--stack "${stack}" may only use letters, digits, _, . and -`);
      const dir = path.resolve(io.cwd, stringOpt(values, "dir") ?? findProjectDir(io.cwd));
      const file = path.join(dir, `Pulumi.${stack}.yaml`);
      const interactive = values["non-interactive"] !== true;
      const prompter = interactive ? terminalPrompter() : undefined;
      try {
        if (fs.existsSync(file) && values.force !== true) {
          if (!prompter) throw new Error(`${file} already exists; pass --force to replace it (its encrypted secrets would be lost)`);
          const answer = await prompter.ask(`${file} already exists. Replace it? Its secrets would be lost (yes/no)`, "no");
          if (!/^y(es)?$/i.test(answer)) {
            io.out("Left the existing stack file as it is.\n");
            return 1;
          }
        }
        if (prompter) io.out(`Setting up stack "${stack}" in ${file}. Press Enter to take the [default].\n`);
        const hosts: Draft[] = [];
        const side: SideAnswers = {};
        for (;;) {
          if (prompter) io.out(`\nHost ${hosts.length + 1}\n`);
          hosts.push(await askHost(prompter, values, io, hosts.map((h) => h.name), side));
          if (!prompter) break;
          let more: boolean | undefined;
          while (more === undefined) {
            try { more = yesNo(await prompter.ask("Add another host? (yes/no)", "no")); } catch (e) { io.out(`  ${(e as Error).message}\n`); }
          }
          if (!more) break;
        }

        // The whole stack, as `ephemery config check` will see it once the secrets are stored.
        const text = stackFileText(hosts);
        const entries = new Map<string, ConfigEntry>([["ephemery:hosts", { value: hosts, secret: false }]]);
        if (side.sshKeyFile) entries.set("ephemery:sshPrivateKey", { value: SECRET_PLACEHOLDER, secret: true });
        if (side.keystorePasswordFile) entries.set("ephemery:keystorePassword", { value: SECRET_PLACEHOLDER, secret: true });
        const result = loadStackConfig(entries);
        if (!result.ok) {
          throw new Error(`the answers do not make a valid stack; nothing was written:\n${result.problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`);
        }
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(`${file}.tmp`, text, { mode: 0o644 });
        fs.renameSync(`${file}.tmp`, file);

        const commands = secretCommands(stack, side);
        const stored: string[] = [];
        const pending: string[] = [];
        if (commands.length > 0) {
          if (!(await pulumiOnPath(io.env))) {
            pending.push(...commands.map((c) => c.shell));
          } else {
            for (const [i, c] of commands.entries()) {
              const r = await runPulumi(c.argv, dir, io.env, c.stdinFile);
              if (r.code === 0) { stored.push(c.shell); continue; }
              io.err(`\`${c.shell}\` failed: ${r.err.trim().split("\n").slice(-3).join(" ")}\n`);
              pending.push(...commands.slice(i).map((x) => x.shell));
              break;
            }
          }
        }
        if (values.json) {
          io.out(json({ file, hosts: hosts.map((h) => h.name), secretsStored: stored, secretsToStore: pending }));
        } else {
          io.out(`\nWrote ${file} (${hosts.length} host${hosts.length === 1 ? "" : "s"}).\n`);
          if (stored.length > 0) io.out(`Stored the secrets with pulumi (${stored.length - 1}).\n`);
          if (pending.length > 0) {
            io.out(`\nStore the secrets before deploying${stored.length === 0 && commands.length > 0 ? " (the pulumi CLI was not found or failed)" : ""}; run in ${dir}:\n`);
            for (const c of pending) io.out(`  ${c}\n`);
          }
          io.out(`\nNext: npx ephemery config check --stack ${stack}, then pulumi up --stack ${stack}\n`);
        }
        return 0;
      } finally {
        prompter?.close();
      }
    },
  },
];
