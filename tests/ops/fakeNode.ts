/**
 * Loopback HTTP servers that answer like a beacon node, an execution client's JSON-RPC and a keymanager,
 * with the facts each test chooses. Real sockets, real HTTP: the code under test cannot tell them apart.
 */
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";

export interface BeaconFacts {
  genesisTime: number;
  /** Slot of the finalized header; 0 = nothing finalized. */
  finalizedSlot?: number;
  /** Serve only the finality-checkpoints endpoint (like a provider without the headers route). */
  noHeaders?: boolean;
  /** Delay before every answer, ms. */
  delayMs?: number;
  headSlot?: number;
  syncDistance?: number;
  isSyncing?: boolean;
  peers?: number;
}

export interface TestServer {
  url: string;
  port: number;
  /** Paths requested so far. */
  requests: string[];
  close(): Promise<void>;
}

export function listen(handler: http.RequestListener): Promise<TestServer> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  server.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        requests,
        close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
      });
    });
  });
}

export function send(res: http.ServerResponse, status: number, body?: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(body === undefined ? "" : JSON.stringify(body));
}

export function beaconServer(facts: BeaconFacts): Promise<TestServer> {
  return listen((req, res) => {
    const answer = () => {
      const url = req.url ?? "";
      const finalizedSlot = facts.finalizedSlot ?? 0;
      if (url === "/eth/v1/beacon/genesis") return send(res, 200, { data: { genesis_time: String(facts.genesisTime), genesis_validators_root: `0x${"ab".repeat(32)}`, genesis_fork_version: "0x1000101b" } });
      if (url === "/eth/v1/beacon/headers/finalized" && !facts.noHeaders) {
        return send(res, 200, { data: { root: `0x${"cd".repeat(32)}`, canonical: true, header: { message: { slot: String(finalizedSlot), proposer_index: "1" } } } });
      }
      if (url === "/eth/v1/beacon/states/head/finality_checkpoints") {
        return send(res, 200, { data: { finalized: { epoch: String(Math.ceil(finalizedSlot / 32)), root: `0x${"00".repeat(32)}` } } });
      }
      if (url === "/eth/v1/node/syncing") {
        return send(res, 200, { data: { head_slot: String(facts.headSlot ?? 0), sync_distance: String(facts.syncDistance ?? 0), is_syncing: facts.isSyncing ?? false, is_optimistic: false, el_offline: false } });
      }
      if (url === "/eth/v1/node/peer_count") return send(res, 200, { data: { connected: String(facts.peers ?? 0), disconnected: "0", connecting: "0", disconnecting: "0" } });
      send(res, 404, { code: 404, message: "not found" });
    };
    if (facts.delayMs) setTimeout(answer, facts.delayMs).unref();
    else answer();
  });
}

export interface ExecutionFacts {
  chainId: number;
  blockNumber: number;
  peers: number;
  /** false, or the eth_syncing object. */
  syncing: false | { currentBlock: string; highestBlock: string };
}

export function executionServer(facts: ExecutionFacts): Promise<TestServer> {
  return listen((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const hex = (n: number) => `0x${n.toString(16)}`;
      const results: Record<string, unknown> = {
        eth_chainId: hex(facts.chainId),
        eth_blockNumber: hex(facts.blockNumber),
        net_peerCount: hex(facts.peers),
        eth_syncing: facts.syncing,
      };
      const one = (call: { id: unknown; method: string }) =>
        call.method in results
          ? { jsonrpc: "2.0", id: call.id, result: results[call.method] }
          : { jsonrpc: "2.0", id: call.id, error: { code: -32601, message: "method not found" } };
      const parsed = JSON.parse(body);
      send(res, 200, Array.isArray(parsed) ? parsed.map(one) : one(parsed));
    });
  });
}

/** A keymanager that lists `count` keystores to requests bearing `token`, and 401 to others. */
export function keymanagerServer(count: number, token: string): Promise<TestServer> {
  return listen((req, res) => {
    if (req.url !== "/eth/v1/keystores") return send(res, 404, { message: "not found" });
    if (req.headers.authorization !== `Bearer ${token}`) return send(res, 401, { message: "missing or wrong bearer token" });
    send(res, 200, { data: Array.from({ length: count }, (_, i) => ({ validating_pubkey: `0x${String(i).padStart(96, "a")}`, derivation_path: "", readonly: false })) });
  });
}

/** A port on loopback that refuses connections (a "down" server). */
export async function closedPort(): Promise<number> {
  const s = await listen(() => undefined);
  await s.close();
  return s.port;
}

export interface FakeNodePorts { rpcPort: number; beaconApiPort: number; keymanagerPort: number }

/**
 * A stack file whose host `node` is reached through the test sshd and whose APIs are the given loopback ports,
 * and a known_hosts file that trusts the sshd's host key. `extraHosts` are appended as YAML lines.
 */
export function sshStackFiles(sshHost: { dir: string; port: number }, work: string, node: string, ports: FakeNodePorts, extraHosts: string[] = []): { stackFile: string; knownHosts: string } {
  const hostKey = fs.readFileSync(path.join(sshHost.dir, "host_ed25519.pub"), "utf8").split(" ").slice(0, 2).join(" ");
  const knownHosts = path.join(work, "known_hosts");
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshHost.port} ${hostKey}\n`);
  const stackFile = path.join(work, "Pulumi.ops.yaml");
  fs.writeFileSync(stackFile, [
    "config:",
    "  ephemery:sshPrivateKey: { secure: v1:AAAA }",
    "  ephemery:hosts:",
    `    - name: ${node}`,
    "      address: 127.0.0.1",
    `      ssh: { user: root, port: ${sshHost.port} }`,
    `      dataDir: ${path.join(work, "data")}`,
    `      execution: { rpcPort: ${ports.rpcPort} }`,
    `      consensus: { beaconApiPort: ${ports.beaconApiPort} }`,
    `      validator: { feeRecipient: "0x${"11".repeat(20)}", keymanagerPort: ${ports.keymanagerPort} }`,
    ...extraHosts,
    "",
  ].join("\n"));
  return { stackFile, knownHosts };
}
