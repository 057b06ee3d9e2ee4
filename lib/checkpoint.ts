/**
 * Checkpoint-sync provider selection, shared by `ephemery checkpoint probe` and the program at deploy time.
 * A provider qualifies when it serves the expected chain (its genesis_time is clGenesis(iteration)) and has a
 * finalized checkpoint past epoch 0. Qualified providers rank by finalized epoch (highest first), then latency.
 * No Pulumi; the only I/O is the injectable `fetch`.
 */
import { HttpError, readBounded } from "./http";
import { BASE_TIME, clGenesisTime, GENESIS_DELAY_SEC, iterationAt, PERIOD_SEC, SLOTS_PER_EPOCH } from "./ephemery";

export interface ProviderProbe {
  url: string;
  ok: boolean;
  genesisTime: number | null;
  finalizedEpoch: number | null;
  /** Wall time of the probe's requests, ms; null when the provider did not answer in time. */
  latencyMs: number | null;
  /** Why the provider was rejected; null when ok. */
  reason: string | null;
}

export interface CheckpointChoice {
  expectedGenesisTime: number;
  best: string | null;
  providers: ProviderProbe[];
}

/** The subset of the WHATWG fetch API used here, so tests and other runtimes can inject their own. */
export type FetchLike = (url: string, init: { signal: AbortSignal; headers: Record<string, string> }) => Promise<{
  status: number;
  json(): Promise<unknown>;
}>;

export interface ProbeOptions {
  /** The CL genesis time the provider must serve (default: that of the iteration running now). */
  expectedGenesisTime?: number;
  /** Time limit for each provider, all of its requests together (default 5000 ms). */
  timeoutMs?: number;
  /** Default: the global fetch of Node 20. */
  fetch?: FetchLike;
  /** Unix seconds "now", for the default expected genesis time (default: the clock). */
  nowSec?: number;
}

export const DEFAULT_PROBE_TIMEOUT_MS = 5000;
/** Genesis and finality answers are a few hundred bytes. */
const PROBE_MAX_ANSWER_BYTES = 64 * 1024;

export function expectedGenesisTimeFor(iteration?: number, nowSec = Math.floor(Date.now() / 1000)): number {
  return clGenesisTime(iteration ?? iterationAt(nowSec));
}

/** `https://x/` and `https://x` are the same provider; paths are appended to the bare form. */
export function normalizeProviderUrl(url: string): string {
  return url.trim().replace(/\/+$/, "");
}

class ProbeFailure extends Error {}

async function getJson(fetchFn: FetchLike, url: string, signal: AbortSignal): Promise<{ status: number; body: unknown }> {
  let res: Awaited<ReturnType<FetchLike>>;
  try {
    res = await fetchFn(url, { signal, headers: { accept: "application/json" } });
  } catch (e) {
    if (signal.aborted) throw new ProbeFailure("timed out");
    throw new ProbeFailure(`unreachable: ${describeFetchError(e)}`);
  }
  if (res.status !== 200) return { status: res.status, body: undefined };
  try {
    // A real Response is read with a size bound (a provider's answer is data); an injected fetch gives JSON.
    const body = "body" in res && (res as Response).body ? JSON.parse(await readBounded(res as Response, PROBE_MAX_ANSWER_BYTES, url)) : await res.json();
    return { status: 200, body };
  } catch (e) {
    if (e instanceof HttpError) throw new ProbeFailure(e.message);
    if (signal.aborted) throw new ProbeFailure("timed out");
    throw new ProbeFailure(`${new URL(url).pathname} answered 200 but not with JSON`);
  }
}

function describeFetchError(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
}

function numberField(v: unknown): number | undefined {
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : typeof v === "number" ? v : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function dig(body: unknown, ...keys: string[]): unknown {
  let v = body;
  for (const k of keys) v = typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** Which iteration a CL genesis time belongs to, for messages; undefined when it is not an Ephemery one. */
export function iterationOfGenesisTime(genesisTime: number): number | undefined {
  const offset = genesisTime - GENESIS_DELAY_SEC - BASE_TIME;
  return offset >= 0 && offset % PERIOD_SEC === 0 ? offset / PERIOD_SEC : undefined;
}

function describeGenesis(t: number): string {
  const i = iterationOfGenesisTime(t);
  return i === undefined ? `${t}` : `${t} (iteration ${i})`;
}

/**
 * The finalized epoch: from the finalized header's slot (the state a client would download), else from the
 * head state's finality checkpoints. 0 means nothing is finalized yet.
 */
async function finalizedEpoch(fetchFn: FetchLike, base: string, signal: AbortSignal): Promise<number> {
  const header = await getJson(fetchFn, `${base}/eth/v1/beacon/headers/finalized`, signal);
  const slot = numberField(dig(header.body, "data", "header", "message", "slot"));
  if (header.status === 200 && slot !== undefined) return Math.ceil(slot / SLOTS_PER_EPOCH);
  const checkpoints = await getJson(fetchFn, `${base}/eth/v1/beacon/states/head/finality_checkpoints`, signal);
  const epoch = numberField(dig(checkpoints.body, "data", "finalized", "epoch"));
  if (checkpoints.status === 200 && epoch !== undefined) return epoch;
  throw new ProbeFailure(
    `no finalized checkpoint: /eth/v1/beacon/headers/finalized answered ${header.status}, /eth/v1/beacon/states/head/finality_checkpoints answered ${checkpoints.status}`,
  );
}

export async function probeProvider(url: string, opts: ProbeOptions = {}): Promise<ProviderProbe> {
  const base = normalizeProviderUrl(url);
  const expected = opts.expectedGenesisTime ?? expectedGenesisTimeFor(undefined, opts.nowSec);
  const fetchFn = opts.fetch ?? (globalThis.fetch as unknown as FetchLike);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const started = performance.now();
  const result: ProviderProbe = { url: base, ok: false, genesisTime: null, finalizedEpoch: null, latencyMs: null, reason: null };
  try {
    if (!/^https?:\/\/[^\s/]+/.test(base)) throw new ProbeFailure("is not an http(s) URL");
    // The timeout covers the whole probe; a hung body read is cut off too.
    const work = (async () => {
      const genesis = await getJson(fetchFn, `${base}/eth/v1/beacon/genesis`, controller.signal);
      const genesisTime = numberField(dig(genesis.body, "data", "genesis_time"));
      if (genesis.status !== 200 || genesisTime === undefined) {
        throw new ProbeFailure(`/eth/v1/beacon/genesis answered ${genesis.status}${genesis.status === 200 ? " without data.genesis_time" : ""}`);
      }
      result.genesisTime = genesisTime;
      if (genesisTime !== expected) {
        throw new ProbeFailure(`serves another chain: genesis_time ${describeGenesis(genesisTime)}, expected ${describeGenesis(expected)}`);
      }
      result.finalizedEpoch = await finalizedEpoch(fetchFn, base, controller.signal);
      if (result.finalizedEpoch === 0) throw new ProbeFailure("no finalized checkpoint yet (finalized epoch 0)");
    })();
    work.catch(() => undefined); // when the timeout wins, the aborted work still settles; nobody waits for it
    await Promise.race([
      work,
      new Promise<never>((_, reject) => controller.signal.addEventListener("abort", () => reject(new ProbeFailure(`timed out after ${timeoutMs} ms`)))),
    ]);
    result.ok = true;
    result.latencyMs = Math.round(performance.now() - started);
  } catch (e) {
    if (!(e instanceof ProbeFailure)) throw e;
    result.reason = controller.signal.aborted ? `timed out after ${timeoutMs} ms` : e.message;
    if (!controller.signal.aborted) result.latencyMs = Math.round(performance.now() - started);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return result;
}

/**
 * Qualified providers first: finalized epoch descending, then latency ascending; rejected ones after, in the
 * order given. `stable` replaces latency by the order given, and counts finalized epochs within
 * `STABLE_EPOCH_SLACK` of the best as equal, so a deploy does not reorder healthy providers on every run.
 */
export function rankProbes(probes: ProviderProbe[], opts: { stable?: boolean } = {}): ProviderProbe[] {
  const indexed = probes.map((p, i) => ({ p, i }));
  const ok = indexed.filter((x) => x.p.ok);
  const bad = indexed.filter((x) => !x.p.ok);
  const top = Math.max(0, ...ok.map((x) => x.p.finalizedEpoch ?? 0));
  const epochKey = (p: ProviderProbe) =>
    opts.stable && (p.finalizedEpoch ?? 0) >= top - STABLE_EPOCH_SLACK ? top : p.finalizedEpoch ?? 0;
  ok.sort((a, b) =>
    epochKey(b.p) - epochKey(a.p) ||
    (opts.stable ? 0 : (a.p.latencyMs ?? Infinity) - (b.p.latencyMs ?? Infinity)) ||
    a.i - b.i,
  );
  return [...ok, ...bad].map((x) => x.p);
}

/** Finality moves one epoch every 6.4 minutes; providers this close are equally good. */
export const STABLE_EPOCH_SLACK = 2;

/** Probes every candidate in parallel (duplicates once) and ranks them. */
export async function chooseCheckpoint(urls: string[], opts: ProbeOptions & { stable?: boolean } = {}): Promise<CheckpointChoice> {
  const expectedGenesisTime = opts.expectedGenesisTime ?? expectedGenesisTimeFor(undefined, opts.nowSec);
  const unique = [...new Set(urls.map(normalizeProviderUrl))];
  const probes = await Promise.all(unique.map((u) => probeProvider(u, { ...opts, expectedGenesisTime })));
  const providers = rankProbes(probes, { stable: opts.stable });
  return { expectedGenesisTime, best: providers[0]?.ok ? providers[0].url : null, providers };
}

/**
 * The list a consensus client is built with: qualified providers best first. When none qualifies, an empty
 * list (genesis sync) if `genesisSyncFallback`, else the configured list unchanged.
 */
export function checkpointUrlsToUse(configured: string[], ranked: ProviderProbe[], genesisSyncFallback: boolean): string[] {
  const wanted = new Set(configured.map(normalizeProviderUrl));
  const good = ranked.filter((p) => p.ok && wanted.has(p.url)).map((p) => p.url);
  if (good.length > 0) return good;
  return genesisSyncFallback ? [] : configured;
}

export interface DeployCheckpointPlan {
  /** One list per input list, in the same order. */
  lists: string[][];
  choice: CheckpointChoice;
}

/** Deploy time: probe the union of every host's providers once, then order each host's list. */
export async function planCheckpointUrls(
  lists: string[][],
  genesisSyncFallback: boolean,
  opts: ProbeOptions = {},
): Promise<DeployCheckpointPlan> {
  const choice = await chooseCheckpoint(lists.flat(), { ...opts, stable: true });
  return { lists: lists.map((l) => checkpointUrlsToUse(l, choice.providers, genesisSyncFallback)), choice };
}

/** Set to 1 to build with the configured lists unprobed (tests under mocks, offline previews). */
export const SKIP_PROBE_ENV = "EPHEMERY_SKIP_CHECKPOINT_PROBE";
/** Deploy-time probes are short so `pulumi preview` stays quick. */
export const DEPLOY_PROBE_TIMEOUT_MS = 3000;

/**
 * The program's step before building nodes: each host's checkpoint list (its own or the network's), ranked.
 * Reports through `log` what it chose and when a host falls back to genesis sync.
 */
export async function checkpointListsForHosts(
  config: { network: { checkpointSyncUrls: string[]; genesisSyncFallback: boolean }; hosts: { name: string; consensus: { checkpointSyncUrls?: string[] } }[] },
  opts: { env: NodeJS.ProcessEnv; log: { info(m: string): void; warn(m: string): void }; probe?: ProbeOptions },
): Promise<string[][]> {
  const configured = config.hosts.map((h) => h.consensus.checkpointSyncUrls ?? config.network.checkpointSyncUrls);
  if (opts.env[SKIP_PROBE_ENV] === "1" || configured.every((l) => l.length === 0)) return configured;
  const plan = await planCheckpointUrls(configured, config.network.genesisSyncFallback, { timeoutMs: DEPLOY_PROBE_TIMEOUT_MS, ...opts.probe });
  const rejected = plan.choice.providers.filter((p) => !p.ok).map((p) => `${p.url} (${p.reason})`);
  if (rejected.length > 0) opts.log.info(`checkpoint providers skipped: ${rejected.join("; ")}`);
  config.hosts.forEach((h, i) => {
    if (configured[i].length === 0) return;
    if (plan.lists[i].length === 0) {
      opts.log.warn(`host ${h.name}: no checkpoint provider serves a finalized checkpoint of the current chain; it syncs from genesis.ssz (network.genesisSyncFallback)`);
    } else if (!plan.choice.providers.some((p) => p.ok && p.url === plan.lists[i][0])) {
      opts.log.warn(`host ${h.name}: no checkpoint provider qualifies and network.genesisSyncFallback is false; keeping the configured list`);
    } else {
      opts.log.info(`host ${h.name}: checkpoint sync from ${plan.lists[i][0]}`);
    }
  });
  return plan.lists;
}
