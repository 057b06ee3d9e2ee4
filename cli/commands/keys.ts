/**
 * `ephemery keys ...`: validate a key source on the workstation; list and restore a node's key backups
 * over SSH (the host-side work is done by the installer the program put at <node dir>/bin/ephemery-keys).
 */
import * as fs from "fs";
import * as path from "path";
import { resolveHostKind } from "../../lib/config/schema";
import { shellQuote } from "../../lib/hostScripts";
import { keysScriptPath } from "../../lib/keys/hostValues";
import { passwordsDirLookup, PasswordLookup, validateSource, ValidationReport } from "../../lib/keys/validate";
import { Command, CommandIO, intOpt, json, stringOpt, UsageError } from "../command";
import { STACK_OPTIONS } from "../stack";
import { openSession } from "../ssh";
import { loadConfigOrThrow, SSH_OPTIONS, sshAuthOf, stackAddresses, targetOf } from "./status";

export interface BackupEntry {
  id: string;
  created: string;
  keys: number;
  slashingProtection: boolean;
}

export function parseBackups(output: string): BackupEntry[] {
  return output.split("\n").filter((l) => l.trim()).map((line) => {
    const [id, created, keys, sp] = line.split("\t");
    return { id, created, keys: Number(keys), slashingProtection: sp === "yes" };
  });
}

function passwordSource(values: Record<string, unknown>, io: CommandIO): PasswordLookup | undefined {
  const file = stringOpt(values, "password-file");
  const env = stringOpt(values, "password-env");
  const dir = stringOpt(values, "passwords-dir");
  if ([file, env, dir].filter((x) => x !== undefined).length > 1) throw new UsageError("give one of --password-file, --password-env, --passwords-dir");
  if (file !== undefined) {
    const p = path.resolve(io.cwd, file);
    if (!fs.existsSync(p)) throw new UsageError(`--password-file ${file} does not exist`);
    const password = fs.readFileSync(p, "utf8");
    return () => password;
  }
  if (env !== undefined) {
    const password = io.env[env];
    if (password === undefined) throw new UsageError(`--password-env ${env}: the variable is not set`);
    return () => password;
  }
  if (dir !== undefined) {
    const p = path.resolve(io.cwd, dir);
    if (!fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--passwords-dir ${dir} is not a directory`);
    return passwordsDirLookup(p);
  }
  return undefined;
}

export function renderReport(source: string, r: ValidationReport): string {
  const lines = r.keys.map((k) => `  0x${k.pubkey}  ${k.kdf.padEnd(6)}  ${k.passwordOk === null ? "password not checked" : k.passwordOk ? "password ok" : "PASSWORD WRONG"}  ${k.file}`);
  const errors = r.errors.map((e) => `  ${e.file}: ${e.message}`);
  return [
    `${source}: ${r.ok ? "ok" : `${r.errors.length} problem(s)`}, ${r.count} key(s)`,
    ...lines,
    ...(errors.length ? ["problems:", ...errors] : []),
    "",
  ].join("\n");
}

async function runOnHost(values: Record<string, unknown>, io: CommandIO, args: string, timeoutMs: number) {
  const hostName = stringOpt(values, "host");
  if (!hostName) throw new UsageError("--host NAME is required");
  const { file, config } = loadConfigOrThrow(values, io);
  const host = config.hosts.find((h) => h.name === hostName);
  if (!host) throw new UsageError(`no host "${hostName}" in ${file}; hosts: ${config.hosts.map((h) => h.name).join(", ")}`);
  if (!host.validator?.keys) throw new Error(`host "${hostName}" has no validator.keys: pulumi-ephemery installs no keys there`);
  const kind = resolveHostKind(host);
  if (kind === "kubernetes") {
    throw new Error(`host "${hostName}" runs on Kubernetes: its keys are the Secret ${hostName}-validator-keys and its slashing protection is in the PVC validator-data-${hostName}-0; there is no host installer to list or restore backups (README: Validator keys on Kubernetes)`);
  }
  const addresses = kind === "aws" || kind === "hcloud" ? await stackAddresses(stringOpt(values, "stack"), io.cwd) : {};
  const target = targetOf(host, addresses);
  const session = await openSession(target, sshAuthOf(values));
  try {
    if (session.hostKeyNote) io.err(`${hostName}: ${session.hostKeyNote}\n`);
    const sudo = target.kind === "ssh" && target.user !== "root" ? "sudo -n " : "";
    return await session.exec(`${sudo}${shellQuote(keysScriptPath(host.dataDir, host.name))} ${args}\n`, timeoutMs);
  } finally {
    session.close();
  }
}

export const keysCommands: Command[] = [
  {
    path: ["keys", "validate"],
    summary: "Check EIP-2335 keystores (a directory or archive) before they leave the workstation",
    usage: "ephemery keys validate PATH [--password-file F | --password-env VAR | --passwords-dir D] [--expected-count N] [--threads N] [--json]",
    options: {
      "password-file": { type: "string" }, "password-env": { type: "string" }, "passwords-dir": { type: "string" },
      "expected-count": { type: "string" }, threads: { type: "string" }, json: { type: "boolean" },
    },
    positionals: true,
    async run({ values, positionals }, io) {
      if (positionals.length !== 1) throw new UsageError("give exactly one PATH (a directory of keystores or an archive)");
      const source = path.resolve(io.cwd, positionals[0]);
      const expectedCount = intOpt(values, "expected-count");
      if (expectedCount !== undefined && expectedCount < 0) throw new UsageError("--expected-count must be 0 or more");
      const threads = intOpt(values, "threads");
      if (threads !== undefined && threads < 1) throw new UsageError("--threads must be 1 or more");
      const { report } = await validateSource(source, { passwordFor: passwordSource(values, io), expectedCount, threads });
      if (values.json) io.out(json(report));
      else (report.ok ? io.out : io.err)(renderReport(positionals[0], report));
      return report.ok ? 0 : 1;
    },
  },
  {
    path: ["keys", "backups"],
    summary: "List a host's key and slashing-protection backups, newest first (over SSH)",
    usage: "ephemery keys backups --host NAME [--stack NAME | --file PATH] [--json] [SSH options]",
    options: { ...STACK_OPTIONS, ...SSH_OPTIONS, host: { type: "string" }, json: { type: "boolean" } },
    async run({ values }, io) {
      const r = await runOnHost(values, io, "backups", 60_000);
      if (r.code !== 0) throw new Error(`listing backups failed: ${r.stderr.trim() || `exit ${r.code}`}`);
      const backups = parseBackups(r.stdout);
      if (values.json) io.out(json(backups));
      else if (backups.length === 0) io.out("no backups yet\n");
      else io.out(["ID                        CREATED               KEYS  SLASHING-PROTECTION", ...backups.map((b) => `${b.id.padEnd(26)}${b.created.padEnd(22)}${String(b.keys).padEnd(6)}${b.slashingProtection ? "yes" : "no"}`), ""].join("\n"));
      return 0;
    },
  },
  {
    path: ["keys", "restore"],
    summary: "Restore a host's keys and slashing protection from a backup, with checks and rollback",
    usage: "ephemery keys restore --host NAME --backup ID [--stack NAME | --file PATH] [SSH options]",
    options: { ...STACK_OPTIONS, ...SSH_OPTIONS, host: { type: "string" }, backup: { type: "string" } },
    async run({ values }, io) {
      const id = stringOpt(values, "backup");
      if (!id || !/^\d{8}T\d{6}Z-[0-9a-f]{6}$/.test(id)) throw new UsageError(`--backup needs a backup id such as 20260101T120000Z-a1b2c3 (list them with: ephemery keys backups --host NAME)`);
      const r = await runOnHost(values, io, `restore ${id}`, 15 * 60_000);
      io.err(r.stderr);
      if (r.code !== 0) return 1;
      io.out(r.stdout);
      return 0;
    },
  },
];
