/**
 * `ephemery status`: one look at every node of a stack. Each host is asked in parallel, with a time limit,
 * for its containers, iteration, disk and token (one read-only script), then its loopback APIs: EL JSON-RPC,
 * the beacon API and the keymanager. A host that cannot be reached is a row, not a failure of the command.
 */
import { execFile } from "child_process";
import { iterationAt, nextResetTime } from "../../lib/ephemery";
import { containerName } from "../../lib/clients/common";
import { hostPaths } from "../../lib/clients/types";
import { StackConfig, HostConfig, resolveHostKind } from "../../lib/config/schema";
import { renderHostScript } from "../../lib/hostScripts";
import { validatorClientOf } from "../../lib/clients";
import { parseReleaseMetrics, unsupportedForkMessage } from "../../lib/reset/forks";
import { Command, CommandIO, intOpt, json, stringOpt, UsageError } from "../command";
import { withProgress } from "../progress";
import { HostSession, HostTarget, openSession, SshAuthOptions } from "../ssh";
import { loadStackFile, STACK_OPTIONS, stackFilePath } from "../stack";
import { Cell, paint, renderTable, Severity, useColour, worst } from "../table";

export const STATUS_SCRIPT = "ephemery-status.sh";

/** Where each validator client keeps its keymanager bearer token, inside its container (first that exists). */
export const KEYMANAGER_TOKEN_PATHS: Record<string, string[]> = {
  lighthouse: ["/data/validators/api-token.txt"],
  lodestar: ["/data/validator-db/api-token.txt", "/data/keystores/api-token.txt"],
  nimbus: ["/data/keymanager-token"],
  // Prysm's file holds the JWT on its last line.
  prysm: ["/data/wallet/auth-token"],
  teku: ["/data/validator/key-manager/validator-api-bearer"],
};

/** Cloud images log in as a fixed user when ssh.user is left at root (same rule as components/host.ts). */
const AWS_LOGIN_USER = "admin";

export interface ContainerFact {
  name: string;
  state: string;
  status: string;
  image: string;
}

/** What the status script printed, parsed. */
export interface HostScriptFacts {
  containers: ContainerFact[];
  dockerError?: string;
  installedIteration: number | null;
  stagedIteration: number | null;
  metrics: Record<string, number>;
  disk: { availableKiB: number; sizeKiB: number; mount: string } | null;
  keymanagerToken?: string;
  /** From the reset program's release check (ephemery-release.prom). */
  release: ReturnType<typeof parseReleaseMetrics>;
}

export interface Problem {
  severity: Severity;
  message: string;
}

export interface HostStatus {
  name: string;
  address: string;
  reachable: boolean;
  error?: string;
  containers: ContainerFact[];
  execution: { chainId: number | null; headBlock: number | null; peers: number | null; syncing: boolean | null; error?: string };
  consensus: { headSlot: number | null; syncDistance: number | null; isSyncing: boolean | null; isOptimistic: boolean | null; elOffline: boolean | null; peers: number | null; finalizedEpoch: number | null; genesisTime: number | null; error?: string };
  iteration: { installed: number | null; expected: number; staged: number | null; nextResetTime: number; secondsToReset: number };
  validator: { configured: boolean; keys: number | null; error?: string };
  disk: { availableGiB: number; usedPercent: number; mount: string } | null;
  /** The newest verified release against the schedule settings and the pinned clients' forks. */
  release?: HostScriptFacts["release"];
  problems: Problem[];
}

function sections(output: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split("\n")) {
    const m = /^@@([a-z]+)$/.exec(line);
    if (m) {
      current = [];
      out.set(m[1], current);
    } else if (current && line !== "") {
      current.push(line);
    }
  }
  return out;
}

function iterationOfName(name: string | undefined): number | null {
  const m = /(?:^|\/|ephemery-)(\d{1,6})$/.exec((name ?? "").trim());
  return m ? Number(m[1]) : null;
}

/** Parses the status script's output. Pure. */
export function parseHostScript(output: string): HostScriptFacts {
  const s = sections(output);
  if (!s.has("end")) throw new Error("the status script stopped early (no end marker); run it by hand to see why");
  const containers: ContainerFact[] = [];
  let dockerError: string | undefined;
  for (const line of s.get("containers") ?? []) {
    const [name, state, status, image] = line.split("\t");
    if (name === "error") dockerError = (dockerError ? `${dockerError} ` : "") + state;
    else containers.push({ name, state, status: status ?? "", image: image ?? "" });
  }
  const retention = Object.fromEntries(
    (s.get("retention") ?? []).map((l) => /^(?:export\s+)?([A-Z_]+)="?([^"]*)"?$/.exec(l.trim())).filter((m): m is RegExpExecArray => m !== null).map((m) => [m[1], m[2]]),
  );
  const marker = (s.get("marker") ?? [])[0]?.trim() ?? "";
  const installedIteration = /^\d+$/.test(marker) ? Number(marker)
    : /^\d+$/.test(retention.ITERATION_NUMBER ?? "") ? Number(retention.ITERATION_NUMBER)
    : iterationOfName(s.get("current")?.[0]);
  const metrics: Record<string, number> = {};
  for (const line of s.get("metrics") ?? []) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && !line.startsWith("#") && Number.isFinite(Number(m[2]))) metrics[m[1]] = Number(m[2]);
  }
  // The reset program verifies a release before renaming it into releases/: a newer one there is staged.
  const onDisk = (s.get("testnets") ?? []).map((n) => iterationOfName(n)).filter((n): n is number => n !== null);
  const newer = onDisk.filter((n) => installedIteration === null || n > installedIteration);
  const stagedIteration = newer.length > 0 ? Math.max(...newer) : null;
  let disk: HostScriptFacts["disk"] = null;
  const dfLine = (s.get("disk") ?? []).find((l) => !l.startsWith("Filesystem"));
  if (dfLine) {
    const f = dfLine.trim().split(/\s+/);
    if (f.length >= 6) disk = { sizeKiB: Number(f[1]), availableKiB: Number(f[3]), mount: f.slice(5).join(" ") };
  }
  const tokenLines = s.get("token") ?? [];
  const keymanagerToken = tokenLines.length > 0 ? tokenLines[tokenLines.length - 1].trim() : undefined;
  const release = parseReleaseMetrics((s.get("release") ?? []).join("\n"));
  return { containers, dockerError, installedIteration, stagedIteration, metrics, disk, keymanagerToken, release };
}

const LOW_DISK_GIB = 50;

/**
 * The reset program derives the installed iteration's end from the release's own genesis and period; while that
 * end is ahead, the installed iteration is the running one even when the closed-form schedule says otherwise (a
 * period change upstream). Pure.
 */
export function followRelease(closedForm: { expected: number; nextResetTime: number }, installed: number | null, hostNextReset: number | undefined, nowSec: number): { expected: number; nextResetTime: number; secondsToReset: number } {
  if (installed === null || hostNextReset === undefined || !Number.isSafeInteger(hostNextReset) || hostNextReset <= nowSec) {
    return { ...closedForm, secondsToReset: closedForm.nextResetTime - nowSec };
  }
  return { expected: installed, nextResetTime: hostNextReset, secondsToReset: hostNextReset - nowSec };
}

/** Judges the facts of one host: what is wrong, and how badly. Pure. */
export function assessHost(st: Omit<HostStatus, "problems">, host: HostConfig): Problem[] {
  if (!st.reachable) return [{ severity: "error", message: st.error ?? "unreachable" }];
  const p: Problem[] = [];
  const add = (severity: Severity, message: string) => p.push({ severity, message });
  const wanted = [containerName(host.name, "execution"), containerName(host.name, "consensus"), ...(host.validator ? [containerName(host.name, "validator")] : [])];
  for (const name of wanted) {
    const c = st.containers.find((x) => x.name === name);
    if (!c) add("error", `container ${name} does not exist; run pulumi up`);
    else if (c.state !== "running") add("error", `container ${name} is ${c.state} (${c.status}); see: docker logs ${name}`);
  }
  const { installed, expected, staged } = st.iteration;
  if (installed === null) add("error", "no installed Ephemery release found; the reset job has not run yet");
  else if (installed < expected) add("error", `iteration ${installed} is installed but ${expected} is running; see the reset job's log`);
  if (st.iteration.secondsToReset < 3600 && (staged === null || staged <= expected)) {
    add("warn", `the next reset is in ${formatDuration(st.iteration.secondsToReset)} and no release is staged yet`);
  }
  for (const u of st.release?.unsupported ?? []) add("error", unsupportedForkMessage(u, `ephemery-${u.iteration}`));
  if (st.release?.scheduleMismatch) add("warn", "the newest release disagrees with ephemery:network.schedule; the node follows the release (see state/reset.log, then update the schedule settings)");
  const el = st.execution;
  if (el.error) add("error", `execution client: ${el.error}`);
  else {
    if (el.chainId !== null && el.chainId !== 39_438_000 + expected) add("error", `execution chain id ${el.chainId} is not iteration ${expected}'s (${39_438_000 + expected})`);
    if (el.syncing) add("warn", "execution client is syncing");
    if (el.peers === 0) add("warn", "execution client has no peers");
  }
  const cl = st.consensus;
  if (cl.error) add("error", `consensus client: ${cl.error}`);
  else {
    if (cl.elOffline) add("error", "consensus client reports its execution client offline");
    if (cl.isSyncing) add("warn", `consensus client is syncing (${cl.syncDistance ?? "?"} slots behind)`);
    if (cl.isOptimistic) add("warn", "consensus client is optimistic (execution not verified yet)");
    if (cl.peers === 0) add("warn", "consensus client has no peers");
  }
  if (st.validator.configured) {
    if (st.validator.error) add("warn", `validator keys: ${st.validator.error}`);
    else if (st.validator.keys === 0) add("warn", "the validator client has no keys loaded");
  }
  if (st.disk) {
    if (st.disk.usedPercent >= 95) add("error", `disk ${st.disk.mount} is ${st.disk.usedPercent}% full`);
    else if (st.disk.usedPercent >= 85 || st.disk.availableGiB < LOW_DISK_GIB) add("warn", `disk ${st.disk.mount}: ${st.disk.availableGiB} GiB free (${st.disk.usedPercent}% used)`);
  }
  return p;
}

export function formatDuration(sec: number): string {
  if (sec < 0) return "overdue";
  const d = Math.floor(sec / 86400);
  const h = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m`;
}

function hexNumber(v: unknown): number | null {
  return typeof v === "string" && /^0x[0-9a-f]+$/i.test(v) ? Number.parseInt(v, 16) : null;
}

function decimal(v: unknown): number | null {
  return typeof v === "string" && /^\d+$/.test(v) ? Number(v) : typeof v === "number" ? v : null;
}

async function getJson(session: HostSession, port: number, path: string, timeoutMs: number, headers?: Record<string, string>): Promise<any> {
  const r = await session.http(port, { path, timeoutMs, headers });
  if (r.status !== 200) throw new Error(`${path} answered ${r.status}`);
  return JSON.parse(r.body);
}

function errorText(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return /ECONNREFUSED|Connection refused|open failed/i.test(m) ? "API not answering (connection refused)" : m;
}

async function queryExecution(session: HostSession, port: number, timeoutMs: number): Promise<HostStatus["execution"]> {
  try {
    const calls = ["eth_syncing", "eth_chainId", "net_peerCount", "eth_blockNumber"].map((method, id) => ({ jsonrpc: "2.0", id, method, params: [] }));
    const r = await session.http(port, { method: "POST", path: "/", body: JSON.stringify(calls), timeoutMs });
    if (r.status !== 200) throw new Error(`JSON-RPC answered ${r.status}`);
    const answers = JSON.parse(r.body) as { id: number; result?: unknown }[];
    const result = (id: number) => answers.find((a) => a.id === id)?.result;
    const syncing = result(0);
    return { syncing: syncing === undefined ? null : syncing !== false, chainId: hexNumber(result(1)), peers: hexNumber(result(2)), headBlock: hexNumber(result(3)) };
  } catch (e) {
    return { chainId: null, headBlock: null, peers: null, syncing: null, error: errorText(e) };
  }
}

async function queryConsensus(session: HostSession, port: number, timeoutMs: number): Promise<HostStatus["consensus"]> {
  const empty = { headSlot: null, syncDistance: null, isSyncing: null, isOptimistic: null, elOffline: null, peers: null, finalizedEpoch: null, genesisTime: null };
  try {
    const [sync, peers, finality, genesis] = await Promise.all([
      getJson(session, port, "/eth/v1/node/syncing", timeoutMs),
      getJson(session, port, "/eth/v1/node/peer_count", timeoutMs).catch(() => undefined),
      getJson(session, port, "/eth/v1/beacon/states/head/finality_checkpoints", timeoutMs).catch(() => undefined),
      getJson(session, port, "/eth/v1/beacon/genesis", timeoutMs).catch(() => undefined),
    ]);
    const d = sync?.data ?? {};
    return {
      headSlot: decimal(d.head_slot),
      syncDistance: decimal(d.sync_distance),
      isSyncing: typeof d.is_syncing === "boolean" ? d.is_syncing : null,
      isOptimistic: typeof d.is_optimistic === "boolean" ? d.is_optimistic : null,
      elOffline: typeof d.el_offline === "boolean" ? d.el_offline : null,
      peers: decimal(peers?.data?.connected),
      finalizedEpoch: decimal(finality?.data?.finalized?.epoch),
      genesisTime: decimal(genesis?.data?.genesis_time),
    };
  } catch (e) {
    return { ...empty, error: errorText(e) };
  }
}

async function queryValidatorKeys(session: HostSession, port: number, token: string | undefined, timeoutMs: number): Promise<{ keys: number | null; error?: string }> {
  if (!token) return { keys: null, error: "keymanager token not found in the validator container" };
  try {
    const body = await getJson(session, port, "/eth/v1/keystores", timeoutMs, { authorization: `Bearer ${token}` });
    return { keys: Array.isArray(body?.data) ? body.data.length : null };
  } catch (e) {
    return { keys: null, error: errorText(e) };
  }
}

export interface StatusOptions {
  auth: SshAuthOptions;
  timeoutMs: number;
  nowSec: number;
  /** Addresses of cloud hosts, from the stack's outputs. */
  addresses: Record<string, string>;
}

export function targetOf(host: HostConfig, addresses: Record<string, string>): HostTarget {
  const kind = resolveHostKind(host);
  if (kind === "local") return { name: host.name, kind: "local", user: host.ssh.user, port: host.ssh.port };
  const user = kind === "aws" && host.ssh.user === "root" ? AWS_LOGIN_USER : host.ssh.user;
  return { name: host.name, kind: "ssh", address: kind === "ssh" ? host.address : addresses[host.name], user, port: host.ssh.port };
}

/** The read-only status script rendered for one host (containers, iteration, disk, keymanager token). */
export function statusScriptOf(host: HostConfig): string {
  const paths = hostPaths(host.dataDir, host.name);
  const vc = validatorClientOf(host);
  return renderHostScript(STATUS_SCRIPT, {
    NODE: host.name,
    NODE_DIR: paths.root,
    TESTNET_DIR: paths.testnetRoot,
    TEXTFILE_DIR: paths.textfile,
    STATE_DIR: paths.state,
    VC_CONTAINER: vc ? containerName(host.name, "validator") : "",
    VC_TOKEN_PATHS: vc ? KEYMANAGER_TOKEN_PATHS[vc] : [],
  });
}

export async function hostStatus(host: HostConfig, opts: StatusOptions): Promise<HostStatus> {
  const target = targetOf(host, opts.addresses);
  const expected = iterationAt(opts.nowSec);
  const reset = nextResetTime(expected);
  const base: Omit<HostStatus, "problems"> = {
    name: host.name,
    address: target.kind === "local" ? "local" : target.address ?? "?",
    reachable: false,
    containers: [],
    execution: { chainId: null, headBlock: null, peers: null, syncing: null },
    consensus: { headSlot: null, syncDistance: null, isSyncing: null, isOptimistic: null, elOffline: null, peers: null, finalizedEpoch: null, genesisTime: null },
    iteration: { installed: null, expected, staged: null, nextResetTime: reset, secondsToReset: reset - opts.nowSec },
    validator: { configured: host.validator !== undefined, keys: null },
    disk: null,
  };
  if (resolveHostKind(host) === "kubernetes") {
    // status reads a host over SSH; a cluster node has no host of its own.
    base.error = `host ${host.name} runs on Kubernetes, which ephemery status does not read yet: run kubectl -n ${host.kubernetes?.namespace ?? "ephemery"} get pods -l app.kubernetes.io/instance=${host.name}`;
    return { ...base, problems: assessHost(base, host) };
  }
  if (target.kind === "ssh" && !target.address) {
    base.error = `no address known for ${resolveHostKind(host)} host ${host.name}: run pulumi up, or check that \`pulumi stack output hosts\` works here`;
    return { ...base, problems: assessHost(base, host) };
  }
  let session: HostSession | undefined;
  const work = async () => {
    session = await openSession(target, opts.auth, opts.timeoutMs);
    const run = await session.exec(statusScriptOf(host), opts.timeoutMs);
    const facts = parseHostScript(run.stdout);
    const [execution, consensus, validator] = await Promise.all([
      queryExecution(session, host.execution.rpcPort, opts.timeoutMs),
      queryConsensus(session, host.consensus.beaconApiPort, opts.timeoutMs),
      host.validator ? queryValidatorKeys(session, host.validator.keymanagerPort, facts.keymanagerToken, opts.timeoutMs) : Promise.resolve({ keys: null }),
    ]);
    const st: Omit<HostStatus, "problems"> = {
      ...base,
      reachable: true,
      containers: facts.containers,
      execution,
      consensus,
      iteration: { ...base.iteration, ...followRelease(base.iteration, facts.installedIteration, facts.metrics.ephemery_next_reset_timestamp_seconds, opts.nowSec), installed: facts.installedIteration, staged: facts.stagedIteration },
      release: facts.release,
      validator: { configured: host.validator !== undefined, ...validator },
      disk: facts.disk && facts.disk.sizeKiB > 0
        ? { mount: facts.disk.mount, availableGiB: Math.floor(facts.disk.availableKiB / 1048576), usedPercent: Math.round(100 * (1 - facts.disk.availableKiB / facts.disk.sizeKiB)) }
        : null,
      ...(facts.dockerError ? { error: `docker: ${facts.dockerError}` } : {}),
    };
    const problems = assessHost(st, host);
    if (facts.dockerError) problems.unshift({ severity: "error", message: `docker on the host: ${facts.dockerError}` });
    if (session.hostKeyNote) problems.push({ severity: "warn", message: session.hostKeyNote });
    return { ...st, problems };
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    // One limit for the whole host: a stuck API cannot hold the others' report back.
    return await Promise.race([
      work(),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${opts.timeoutMs / 1000} s`)), opts.timeoutMs); }),
    ]);
  } catch (e) {
    const st = { ...base, error: e instanceof Error ? e.message : String(e) };
    return { ...st, problems: assessHost(st, host) };
  } finally {
    clearTimeout(timer);
    session?.close();
  }
}

/** Cloud hosts' addresses come from the stack's `hosts` output; needs the pulumi CLI and the stack's state. */
export function stackAddresses(stack: string | undefined, cwd: string): Promise<Record<string, string>> {
  const args = ["stack", "output", "hosts", "--json", ...(stack ? ["--stack", stack] : [])];
  return new Promise((resolve) => {
    execFile("pulumi", args, { cwd, timeout: 30_000 }, (err, stdout) => {
      if (err) return resolve({});
      try {
        const hosts = JSON.parse(stdout) as { name: string; address: string }[];
        resolve(Object.fromEntries(hosts.map((h) => [h.name, h.address])));
      } catch {
        resolve({});
      }
    });
  });
}

function cellsOf(st: HostStatus): Cell[] {
  const sev = (want: (p: Problem) => boolean): Severity => worst(...st.problems.filter(want).map((p) => p.severity));
  if (!st.reachable) {
    return [{ text: st.name }, { text: st.address }, { text: "unreachable", severity: "error" }, { text: "-" }, { text: "-" }, { text: "-" }, { text: "-" }, { text: "-" }];
  }
  const running = st.containers.filter((c) => c.state === "running").length;
  const el = st.execution;
  const cl = st.consensus;
  const it = st.iteration;
  const elText = el.error ? "down" : `${el.syncing ? "syncing" : "synced"} #${el.headBlock ?? "?"} ${el.peers ?? "?"}p`;
  const clText = cl.error ? "down" : `${cl.isSyncing ? `syncing -${cl.syncDistance ?? "?"}` : "synced"} @${cl.headSlot ?? "?"} fin ${cl.finalizedEpoch ?? "?"} ${cl.peers ?? "?"}p`;
  const itText = `${it.installed ?? "?"}/${it.expected}${it.staged !== null ? ` (staged ${it.staged})` : ""} reset ${formatDuration(it.secondsToReset)}`;
  return [
    { text: st.name },
    { text: st.address },
    { text: `${running}/${st.containers.length} running`, severity: sev((p) => p.message.startsWith("container") || p.message.startsWith("docker")) },
    { text: elText, severity: sev((p) => p.message.startsWith("execution")) },
    { text: clText, severity: sev((p) => p.message.startsWith("consensus")) },
    { text: itText, severity: sev((p) => /iteration|release|reset/.test(p.message)) },
    { text: st.validator.configured ? String(st.validator.keys ?? "?") : "-", severity: sev((p) => p.message.startsWith("validator") || p.message.startsWith("the validator")) },
    { text: st.disk ? `${st.disk.availableGiB} GiB free` : "?", severity: sev((p) => p.message.startsWith("disk")) },
  ];
}

export function renderStatus(statuses: HostStatus[], colour: boolean): string {
  let text = renderTable(["HOST", "ADDRESS", "CONTAINERS", "EXECUTION", "CONSENSUS", "ITERATION", "KEYS", "DISK"], statuses.map(cellsOf), colour);
  const issues = statuses.flatMap((s) => s.problems.map((p) => ({ host: s.name, ...p })));
  if (issues.length > 0) {
    text += "\n";
    for (const i of issues) text += `${paint(i.severity.toUpperCase().padEnd(5), i.severity, colour)} ${i.host}: ${i.message}\n`;
  } else {
    text += `\n${paint("all hosts healthy", "ok", colour)}\n`;
  }
  return text;
}

export const SSH_OPTIONS = {
  identity: { type: "string" as const },
  "known-hosts": { type: "string" as const },
  "accept-new-host-keys": { type: "boolean" as const },
};

export function sshAuthOf(values: Record<string, unknown>): SshAuthOptions {
  return {
    identityFile: stringOpt(values, "identity"),
    knownHostsFile: stringOpt(values, "known-hosts"),
    acceptNewHostKeys: values["accept-new-host-keys"] === true,
  };
}

export function loadConfigOrThrow(values: Record<string, unknown>, io: CommandIO): { file: string; config: StackConfig } {
  const file = stackFilePath(values, io.cwd);
  const { result } = loadStackFile(file);
  if (!result.ok) {
    throw new Error(`${file} has ${result.problems.length} problem(s); run: ephemery config check --file ${file}\n${result.problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`);
  }
  return { file, config: result.config };
}

export const statusCommands: Command[] = [
  {
    path: ["status"],
    summary: "Show every host's containers, sync, iteration, keys and disk (over SSH, in parallel)",
    usage: "ephemery status [--stack NAME | --file PATH] [--host NAME] [--json] [--timeout SEC] [SSH options]",
    options: { ...STACK_OPTIONS, ...SSH_OPTIONS, host: { type: "string" }, json: { type: "boolean" }, timeout: { type: "string" } },
    async run({ values }, io) {
      const timeoutSec = intOpt(values, "timeout") ?? 15;
      if (timeoutSec < 1) throw new UsageError(`--timeout is in seconds and must be at least 1, got ${timeoutSec}`);
      const { config } = loadConfigOrThrow(values, io);
      const only = stringOpt(values, "host");
      const hosts = only ? config.hosts.filter((h) => h.name === only) : config.hosts;
      if (hosts.length === 0) throw new UsageError(`no host named "${only}"; hosts are ${config.hosts.map((h) => h.name).join(", ")}`);
      const statuses = await withProgress(io, `asking ${hosts.length} host(s)`, async () => {
        const needAddresses = hosts.some((h) => ["aws", "hcloud"].includes(resolveHostKind(h)));
        const addresses = needAddresses ? await stackAddresses(stringOpt(values, "stack"), io.cwd) : {};
        const opts: StatusOptions = { auth: sshAuthOf(values), timeoutMs: timeoutSec * 1000, nowSec: Math.floor(Date.now() / 1000), addresses };
        return Promise.all(hosts.map((h) => hostStatus(h, opts)));
      });
      if (values.json) io.out(json({ hosts: statuses }));
      else io.out(renderStatus(statuses, useColour(io)));
      return statuses.some((s) => s.problems.some((p) => p.severity === "error")) ? 1 : 0;
    },
  },
];
