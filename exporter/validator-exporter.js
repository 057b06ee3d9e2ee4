#!/usr/bin/env node
// Validator-performance exporter for one Ephemery node. Plain Node.js (>= 20, no dependencies) so it runs from a
// pinned official node image with this one file mounted. It asks the standard beacon API (and the execution
// client's JSON-RPC) and publishes Prometheus metrics on /metrics:
//   health:      beacon API up, head slot, sync distance, peers, finalized epoch; EL head, peers, syncing
//   validators:  attestation duties / misses / rewards per epoch (POST /eth/v1/beacon/rewards/attestations/{epoch}),
//                proposals made / missed (GET /eth/v1/validator/duties/proposer/{epoch} + /eth/v1/beacon/headers/{slot}),
//                proposal rewards (GET /eth/v1/beacon/rewards/blocks/{slot}), balances and status.
// Metric names are listed in lib/monitoring/exporterMetrics.ts; the tests hold both to the same list.
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");

const SLOTS_PER_EPOCH = 32;
const SECONDS_PER_SLOT = 12;
/** Epochs behind the wall clock before attestation rewards are final enough to count. */
const REWARD_LAG_EPOCHS = 2;
/** At most this many past epochs are processed per tick, so a long outage does not flood the beacon node. */
const MAX_EPOCHS_PER_TICK = 4;

function parseArgs(argv) {
  const opts = { listen: "127.0.0.1:9106", intervalSec: 12, timeoutMs: 5000, keysDir: "", pubkeys: [], stateFile: "", executionUrl: "", beaconUrl: "" };
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m) throw new Error(`unknown argument "${arg}"; use --name=value`);
    const [, name, value] = m;
    if (name === "listen") opts.listen = value;
    else if (name === "beacon-url") opts.beaconUrl = value.replace(/\/+$/, "");
    else if (name === "execution-url") opts.executionUrl = value;
    else if (name === "keys-dir") opts.keysDir = value;
    else if (name === "pubkeys") opts.pubkeys = value.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
    else if (name === "state-file") opts.stateFile = value;
    else if (name === "interval-sec") opts.intervalSec = Number(value);
    else if (name === "timeout-ms") opts.timeoutMs = Number(value);
    else throw new Error(`unknown option --${name}`);
  }
  if (!opts.beaconUrl) throw new Error("--beacon-url is required, e.g. --beacon-url=http://node1-consensus:5052");
  if (!(opts.intervalSec > 0)) throw new Error("--interval-sec must be a positive number");
  return opts;
}

/** Metric families: name -> { help, type, series: Map(labelText -> value) }. */
class Registry {
  constructor() { this.families = new Map(); }
  family(name, type, help) {
    let f = this.families.get(name);
    if (!f) { f = { name, type, help, series: new Map() }; this.families.set(name, f); }
    return f;
  }
  set(name, help, value, labels = {}, type = "gauge") { this.family(name, type, help).series.set(labelText(labels), value); }
  inc(name, help, by, labels = {}) {
    const f = this.family(name, "counter", help);
    const key = labelText(labels);
    f.series.set(key, (f.series.get(key) || 0) + by);
  }
  /** Counters are only ever declared so they show as 0 before the first event. */
  touch(name, help, labels = {}) { const f = this.family(name, "counter", help); const k = labelText(labels); if (!f.series.has(k)) f.series.set(k, 0); }
  clear(name) { const f = this.families.get(name); if (f) f.series.clear(); }
  render() {
    const out = [];
    for (const f of this.families.values()) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      for (const [labels, value] of f.series) out.push(`${f.name}${labels} ${Number.isFinite(value) ? value : "NaN"}`);
    }
    return `${out.join("\n")}\n`;
  }
}

function labelText(labels) {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

class Exporter {
  constructor(opts, now = () => Date.now() / 1000) {
    this.opts = opts;
    this.now = now;
    this.metrics = new Registry();
    this.state = { genesisTime: undefined, lastProcessedEpoch: undefined };
    this.proposerDuties = new Map(); // epoch -> [{ index, slot }]
    this.validators = new Map(); // index -> { pubkey, status, effectiveBalance, balance }
    this.loadState();
    // Declared up front so the family is listed (with no series) before the first failure.
    this.metrics.family("ephemery_exporter_errors_total", "counter", "Failed requests to the beacon or execution API, by endpoint.");
  }

  loadState() {
    if (!this.opts.stateFile) return;
    try {
      const s = JSON.parse(fs.readFileSync(this.opts.stateFile, "utf8"));
      if (Number.isInteger(s.genesisTime) && Number.isInteger(s.lastProcessedEpoch)) this.state = s;
    } catch { /* first start, or an unreadable file: start fresh */ }
  }

  saveState() {
    if (!this.opts.stateFile) return;
    const tmp = `${this.opts.stateFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.state));
    fs.renameSync(tmp, this.opts.stateFile);
  }

  error(endpoint) { this.metrics.inc("ephemery_exporter_errors_total", "Failed requests to the beacon or execution API, by endpoint.", 1, { endpoint }); }

  async beacon(pathname, init) {
    const res = await fetch(`${this.opts.beaconUrl}${pathname}`, { ...init, signal: AbortSignal.timeout(this.opts.timeoutMs) });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`${pathname}: HTTP ${res.status}`);
    return res.json();
  }

  async rpc(method) {
    const res = await fetch(this.opts.executionUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: [] }),
      signal: AbortSignal.timeout(this.opts.timeoutMs),
    });
    if (!res.ok) throw new Error(`${method}: HTTP ${res.status}`);
    const body = await res.json();
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result;
  }

  /** One round: health, then validator duties of finished epochs. Never throws; failures become metrics. */
  async tick() {
    const m = this.metrics;
    let up = 0;
    try {
      const genesis = await this.beacon("/eth/v1/beacon/genesis");
      const genesisTime = Number(genesis.data.genesis_time);
      if (this.state.genesisTime !== genesisTime) this.newChain(genesisTime);
      if (this.secondsPerSlot === undefined) this.secondsPerSlot = await this.specSecondsPerSlot();
      const syncing = (await this.beacon("/eth/v1/node/syncing")).data;
      m.set("ephemery_beacon_head_slot", "Head slot the beacon node reports (/eth/v1/node/syncing).", Number(syncing.head_slot));
      m.set("ephemery_beacon_sync_distance", "Slots between the beacon node's head and the wall clock (/eth/v1/node/syncing).", Number(syncing.sync_distance));
      m.set("ephemery_beacon_is_syncing", "1 while the beacon node syncs.", syncing.is_syncing ? 1 : 0);
      m.set("ephemery_beacon_el_offline", "1 when the beacon node cannot reach its execution client.", syncing.el_offline ? 1 : 0);
      up = 1;
    } catch (e) {
      this.error("syncing");
    }
    m.set("ephemery_beacon_api_up", "1 when the beacon API answered this round.", up);
    if (up) {
      await this.guard("peer_count", async () => {
        const peers = (await this.beacon("/eth/v1/node/peer_count")).data;
        m.set("ephemery_beacon_peers", "Connected beacon peers (/eth/v1/node/peer_count).", Number(peers.connected));
      });
      await this.guard("finality_checkpoints", async () => {
        const f = (await this.beacon("/eth/v1/beacon/states/head/finality_checkpoints")).data;
        m.set("ephemery_beacon_finalized_epoch", "Finalized epoch at the head state.", Number(f.finalized.epoch));
      });
    }
    if (this.opts.executionUrl) await this.executionHealth();
    if (up) await this.guard("validators", () => this.validatorRound());
  }

  async guard(endpoint, fn) {
    try { await fn(); } catch { this.error(endpoint); }
  }

  async executionHealth() {
    const m = this.metrics;
    let up = 0;
    try {
      const [block, peers, syncing] = await Promise.all([this.rpc("eth_blockNumber"), this.rpc("net_peerCount"), this.rpc("eth_syncing")]);
      m.set("ephemery_execution_head_block", "Execution head block (eth_blockNumber).", Number(BigInt(block)));
      m.set("ephemery_execution_peers", "Execution peers (net_peerCount).", Number(BigInt(peers)));
      m.set("ephemery_execution_syncing", "1 while eth_syncing reports a sync.", syncing === false ? 0 : 1);
      up = 1;
    } catch {
      this.error("execution_rpc");
    }
    m.set("ephemery_execution_rpc_up", "1 when the execution client's JSON-RPC answered this round.", up);
  }

  /**
   * The chain's slot time from /eth/v1/config/spec (a test network's may be shorter than Ephemery's 12 s, and the
   * epoch arithmetic would lag by that factor); Ephemery's when the node does not serve it.
   */
  async specSecondsPerSlot() {
    try {
      const s = Number((await this.beacon("/eth/v1/config/spec"))?.data?.SECONDS_PER_SLOT);
      return Number.isInteger(s) && s > 0 ? s : SECONDS_PER_SLOT;
    } catch {
      return undefined; // asked again next round
    }
  }

  /** A new genesis (first start or an Ephemery reset): old indices and epochs mean nothing now. */
  newChain(genesisTime) {
    this.secondsPerSlot = undefined;
    this.state = { genesisTime, lastProcessedEpoch: undefined };
    this.proposerDuties.clear();
    this.validators.clear();
    for (const name of ["ephemery_validator_active", "ephemery_validator_balance_gwei", "ephemery_validator_attestation_reward_gwei", "ephemery_validator_attestation_ideal_reward_gwei"]) this.metrics.clear(name);
  }

  pubkeys() {
    const keys = new Set(this.opts.pubkeys);
    if (this.opts.keysDir) for (const k of readKeystorePubkeys(this.opts.keysDir)) keys.add(k);
    return [...keys];
  }

  async validatorRound() {
    const m = this.metrics;
    const pubkeys = this.pubkeys();
    m.set("ephemery_validators_monitored", "Validator keys found (keystores and --pubkeys).", pubkeys.length);
    if (pubkeys.length === 0) return;
    const currentEpoch = Math.floor((this.now() - this.state.genesisTime) / (this.secondsPerSlot ?? SECONDS_PER_SLOT) / SLOTS_PER_EPOCH);
    if (currentEpoch < 0) return;

    const found = await this.beacon(`/eth/v1/beacon/states/head/validators?id=${pubkeys.map((k) => `0x${k}`).join(",")}`);
    this.validators.clear();
    m.clear("ephemery_validator_active");
    m.clear("ephemery_validator_balance_gwei");
    for (const v of found ? found.data : []) {
      const entry = { pubkey: v.validator.pubkey, status: v.status, effectiveBalance: v.validator.effective_balance, balance: Number(v.balance) };
      this.validators.set(String(v.index), entry);
      const labels = this.labels(String(v.index));
      m.set("ephemery_validator_active", "1 when the validator is active at the head (status active_*).", entry.status.startsWith("active") ? 1 : 0, labels);
      m.set("ephemery_validator_balance_gwei", "Validator balance at the head, gwei.", entry.balance, labels);
      for (const result of ["proposed", "missed"]) m.touch("ephemery_validator_proposals_total", "Proposer duties of past slots, by result.", { ...labels, result });
      m.touch("ephemery_validator_attestation_duties_total", "Attestation duties of processed epochs (one per active validator and epoch).", labels);
      m.touch("ephemery_validator_attestations_missed_total", "Attestation duties that earned no timely-source reward.", labels);
      m.touch("ephemery_validator_proposal_reward_gwei_total", "Rewards of the validator's proposed blocks, gwei.", labels);
    }
    if (this.validators.size === 0) return;

    // Remember this epoch's proposer duties now: some beacon nodes do not serve past epochs.
    await this.guard("proposer_duties", () => this.fetchProposerDuties(currentEpoch));

    const last = currentEpoch - REWARD_LAG_EPOCHS;
    let next = this.state.lastProcessedEpoch === undefined ? last : this.state.lastProcessedEpoch + 1;
    next = Math.max(next, last - MAX_EPOCHS_PER_TICK + 1, 0);
    for (let epoch = next; epoch <= last; epoch++) {
      await this.processEpoch(epoch);
      this.state.lastProcessedEpoch = epoch;
      m.set("ephemery_exporter_last_processed_epoch", "Last epoch whose duties and rewards were counted.", epoch);
      this.saveState();
    }
  }

  labels(index) {
    const v = this.validators.get(index);
    return { validator: index, pubkey: v ? v.pubkey : "" };
  }

  async fetchProposerDuties(epoch) {
    if (this.proposerDuties.has(epoch)) return;
    const res = await this.beacon(`/eth/v1/validator/duties/proposer/${epoch}`);
    const ours = (res ? res.data : []).filter((d) => this.validators.has(String(d.validator_index))).map((d) => ({ index: String(d.validator_index), slot: Number(d.slot) }));
    this.proposerDuties.set(epoch, ours);
    for (const e of this.proposerDuties.keys()) if (e < epoch - 8) this.proposerDuties.delete(e);
  }

  async processEpoch(epoch) {
    const m = this.metrics;
    const active = [...this.validators.entries()].filter(([, v]) => v.status.startsWith("active")).map(([i]) => i);
    if (active.length > 0) {
      await this.guard("attestation_rewards", async () => {
        const res = await this.beacon(`/eth/v1/beacon/rewards/attestations/${epoch}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(active),
        });
        if (!res) return;
        const ideal = new Map(res.data.ideal_rewards.map((r) => [String(r.effective_balance), r]));
        for (const r of res.data.total_rewards) {
          const index = String(r.validator_index);
          if (!this.validators.has(index)) continue;
          const labels = this.labels(index);
          m.inc("ephemery_validator_attestation_duties_total", "Attestation duties of processed epochs (one per active validator and epoch).", 1, labels);
          m.inc("ephemery_validator_attestations_missed_total", "Attestation duties that earned no timely-source reward.", Number(r.source) > 0 ? 0 : 1, labels);
          m.set("ephemery_validator_attestation_reward_gwei", "Attestation reward of the last processed epoch (head + target + source + inclusion delay + inactivity), gwei.", sumRewards(r), labels);
          const best = ideal.get(String(this.validators.get(index).effectiveBalance));
          if (best) m.set("ephemery_validator_attestation_ideal_reward_gwei", "Best possible attestation reward for the validator's effective balance in that epoch, gwei.", sumRewards(best), labels);
        }
      });
    }
    await this.guard("proposer_duties", () => this.fetchProposerDuties(epoch));
    for (const duty of this.proposerDuties.get(epoch) || []) {
      await this.guard("headers", async () => {
        const header = await this.beacon(`/eth/v1/beacon/headers/${duty.slot}`);
        const proposed = header !== undefined && String(header.data.header.message.proposer_index) === duty.index;
        const labels = this.labels(duty.index);
        m.inc("ephemery_validator_proposals_total", "Proposer duties of past slots, by result.", 1, { ...labels, result: proposed ? "proposed" : "missed" });
        if (proposed) {
          const reward = await this.beacon(`/eth/v1/beacon/rewards/blocks/${duty.slot}`);
          if (reward) m.inc("ephemery_validator_proposal_reward_gwei_total", "Rewards of the validator's proposed blocks, gwei.", Number(reward.data.total), labels);
        }
      });
    }
  }
}

function sumRewards(r) {
  return ["head", "target", "source", "inclusion_delay", "inactivity"].reduce((s, k) => s + (r[k] === undefined ? 0 : Number(r[k])), 0);
}

/** Public keys of EIP-2335 keystores under `dir` (two levels deep); only the `pubkey` field is read. */
function readKeystorePubkeys(dir, depth = 0) {
  const out = [];
  let entries;
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return out; }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if ((e.isDirectory() || e.isSymbolicLink()) && depth < 2 && !e.name.endsWith(".json")) out.push(...readKeystorePubkeys(p, depth + 1));
    else if (e.name.endsWith(".json")) {
      try {
        const k = JSON.parse(fs.readFileSync(p, "utf8"));
        if (typeof k.pubkey === "string" && /^(0x)?[0-9a-fA-F]{96}$/.test(k.pubkey)) out.push(k.pubkey.replace(/^0x/, "").toLowerCase());
      } catch { /* not a keystore */ }
    }
  }
  return out;
}

function serve(exporter, listen) {
  const i = listen.lastIndexOf(":");
  const host = listen.slice(0, i) || "0.0.0.0";
  const port = Number(listen.slice(i + 1));
  const server = http.createServer((req, res) => {
    if (req.url === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      res.end(exporter.metrics.render());
    } else {
      res.writeHead(req.url === "/" ? 200 : 404, { "content-type": "text/plain" });
      res.end("ephemery validator exporter: see /metrics\n");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const exporter = new Exporter(opts);
  const server = await serve(exporter, opts.listen);
  let stopping = false;
  const stop = () => { stopping = true; server.close(); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdout.write(`ephemery-exporter: listening on ${opts.listen}, beacon ${opts.beaconUrl}\n`);
  while (!stopping) {
    await exporter.tick();
    await new Promise((r) => setTimeout(r, opts.intervalSec * 1000).unref());
    if (stopping) break;
  }
}

if (require.main === module) {
  main().catch((e) => { process.stderr.write(`ephemery-exporter: ${e.message}\n`); process.exit(2); });
}

module.exports = { Exporter, Registry, parseArgs, readKeystorePubkeys };
