/**
 * A loopback beacon API (and execution JSON-RPC) serving the answers in fixtures/beacon-api.json, with the chain
 * placed `epoch` epochs past genesis by the wall clock. Records every request so tests can check what was asked.
 */
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";

const FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "beacon-api.json"), "utf8"));
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

export interface FakeBeacon {
  url: string;
  requests: { method: string; url: string; body: string }[];
  /** Starts a new chain (an Ephemery reset): a new genesis time. */
  setGenesis(genesisTime: number): void;
  close(): Promise<void>;
}

/** `secondsPerSlot`: a test network's slot time, served at /eth/v1/config/spec (default: Ephemery's 12 s, not served). */
export async function startFakeBeacon(opts: { currentEpoch: number; headBehindSlots?: number; secondsPerSlot?: number }): Promise<FakeBeacon> {
  const slotSec = opts.secondsPerSlot ?? 12;
  let genesisTime = Math.floor(Date.now() / 1000) - opts.currentEpoch * 32 * slotSec - 5 * slotSec;
  const requests: FakeBeacon["requests"] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", body });
      const send = (status: number, doc: unknown) => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify(doc)); };
      const url = new URL(req.url ?? "/", "http://x");
      const p = url.pathname;
      const nowSlot = Math.floor((Date.now() / 1000 - genesisTime) / slotSec);
      let m: RegExpExecArray | null;
      if (p === "/rpc" && req.method === "POST") {
        const { method, id } = JSON.parse(body);
        const result = ({ eth_blockNumber: "0x1f4", net_peerCount: "0x7", eth_syncing: false } as Record<string, unknown>)[method];
        return send(200, { jsonrpc: "2.0", id, result });
      }
      if (p === "/eth/v1/config/spec" && opts.secondsPerSlot !== undefined) return send(200, { data: { SECONDS_PER_SLOT: String(opts.secondsPerSlot), SLOTS_PER_EPOCH: "32" } });
      if (p === "/eth/v1/beacon/genesis") { const d = clone(FIXTURE.genesis); d.data.genesis_time = String(genesisTime); return send(200, d); }
      if (p === "/eth/v1/node/syncing") {
        const d = clone(FIXTURE.syncing);
        d.data.sync_distance = String(opts.headBehindSlots ?? 2);
        d.data.head_slot = String(nowSlot - (opts.headBehindSlots ?? 2));
        return send(200, d);
      }
      if (p === "/eth/v1/node/peer_count") return send(200, FIXTURE.peer_count);
      if (p === "/eth/v1/beacon/states/head/finality_checkpoints") return send(200, FIXTURE.finality_checkpoints);
      if (p === "/eth/v1/beacon/states/head/validators") {
        const ids = (url.searchParams.get("id") ?? "").split(",").map((s) => s.toLowerCase());
        const d = clone(FIXTURE.validators);
        d.data = d.data.filter((v: { validator: { pubkey: string } }) => ids.includes(v.validator.pubkey));
        return send(200, d);
      }
      if ((m = /^\/eth\/v1\/beacon\/rewards\/attestations\/(\d+)$/.exec(p)) && req.method === "POST") {
        const asked: string[] = JSON.parse(body || "[]");
        const d = clone(FIXTURE.attestation_rewards);
        d.data.total_rewards = d.data.total_rewards.filter((r: { validator_index: string }) => asked.includes(r.validator_index));
        return send(200, d);
      }
      if ((m = /^\/eth\/v1\/validator\/duties\/proposer\/(\d+)$/.exec(p))) {
        const epoch = Number(m[1]);
        const d = clone(FIXTURE.proposer_duties);
        for (const duty of d.data) duty.slot = String(epoch * 32 + Number(duty.slot));
        return send(200, d);
      }
      if ((m = /^\/eth\/v1\/beacon\/headers\/(\d+)$/.exec(p))) {
        // Slot 3 of every epoch holds validator 11's block; slot 7 (validator 12's) stays empty.
        const slot = Number(m[1]);
        if (slot % 32 !== 3) return send(404, FIXTURE.not_found);
        const d = clone(FIXTURE.header);
        d.data.header.message.slot = String(slot);
        d.data.header.message.proposer_index = "11";
        return send(200, d);
      }
      if ((m = /^\/eth\/v1\/beacon\/rewards\/blocks\/(\d+)$/.exec(p))) return Number(m[1]) % 32 === 3 ? send(200, FIXTURE.block_rewards) : send(404, FIXTURE.not_found);
      send(404, { code: 404, message: `no fixture for ${p}` });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    setGenesis: (t) => { genesisTime = t; },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export const FIXTURE_PUBKEYS: string[] = FIXTURE.validators.data.map((v: { validator: { pubkey: string } }) => v.validator.pubkey);
