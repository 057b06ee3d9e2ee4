/**
 * P2P identities made before a node first starts, so a release generated ahead of the deployment can name the
 * test network's nodes in its boot files, as upstream's name Ephemery's bootnodes.
 *
 * A secp256k1 key per client, written where the client looks for it on its data volume:
 *  - geth: `<datadir>/geth/nodekey`, 64 hex characters, no newline (crypto.LoadECDSA, go-ethereum v1.16 node/config.go
 *    `datadirPrivateKey`); the reset keeps it (lib/clients/execution/geth.ts `keep: ["geth/nodekey"]`);
 *  - prysm: `<datadir>/network-keys`, the hex of the raw 32-byte key (beacon-chain/p2p/utils.go `privKeyFromFile`,
 *    prysm v7.0.0), which `--p2p-static-id` reuses.
 * The boot records: geth's enode URL (`enode://<pubkey>@ip:port`), and an EIP-778 ENR ("id" v4, "ip", "secp256k1",
 * "tcp", "udp") signed with the key, which prysm's --bootstrap-node file accepts (beacon-chain/p2p/discovery.go
 * parses each entry with enode.Parse and dials the bootnodes that carry a tcp port).
 *
 * @noble is ESM-only and jest cannot load it, so the keys are made by a plain Node process.
 */
import { execFileSync } from "child_process";
import * as path from "path";

export interface NodeIdentity {
  /** The private key, 64 hex characters. */
  key: string;
  /** Uncompressed public key without the 04 prefix (the enode id), 128 hex characters. */
  pubkey: string;
  enode: string;
  enr: string;
}

const SCRIPT = String.raw`
const { secp256k1 } = require("@noble/curves/secp256k1.js");
const { keccak_256 } = require("@noble/hashes/sha3.js");
const reqs = JSON.parse(process.argv[1]);
const cat = (xs) => Buffer.concat(xs.map((x) => Buffer.from(x)));
const lenPrefix = (len, short, long) => {
  if (len <= 55) return Buffer.from([short + len]);
  const l = Buffer.from(len.toString(16).padStart(len.toString(16).length + (len.toString(16).length % 2), "0"), "hex");
  return cat([Buffer.from([long + l.length]), l]);
};
const rlp = (x) => {
  if (Array.isArray(x)) { const body = cat(x.map(rlp)); return cat([lenPrefix(body.length, 0xc0, 0xf7), body]); }
  const b = Buffer.from(x);
  if (b.length === 1 && b[0] < 0x80) return b;
  return cat([lenPrefix(b.length, 0x80, 0xb7), b]);
};
const uint = (n) => { if (n === 0) return Buffer.alloc(0); let h = n.toString(16); if (h.length % 2) h = "0" + h; return Buffer.from(h, "hex"); };
const out = reqs.map((r) => {
  const key = secp256k1.utils.randomSecretKey();
  const full = Buffer.from(secp256k1.getPublicKey(key, false)).subarray(1);
  const compressed = Buffer.from(secp256k1.getPublicKey(key, true));
  const ip = Buffer.from(r.ip.split(".").map(Number));
  // EIP-778: keys sorted, sequence number first, the signature over keccak256(rlp([seq, k, v, ...])).
  const content = [uint(1), Buffer.from("id"), Buffer.from("v4"), Buffer.from("ip"), ip, Buffer.from("secp256k1"), compressed, Buffer.from("tcp"), uint(r.tcp), Buffer.from("udp"), uint(r.udp)];
  const sig = Buffer.from(secp256k1.sign(keccak_256(rlp(content)), key, { prehash: false, format: "compact" }));
  const enr = "enr:" + rlp([sig, ...content]).toString("base64url");
  return { key: Buffer.from(key).toString("hex"), pubkey: full.toString("hex"), enr, enode: "enode://" + full.toString("hex") + "@" + r.ip + ":" + r.tcp + (r.udp === r.tcp ? "" : "?discport=" + r.udp) };
});
process.stdout.write(JSON.stringify(out));
`;

/** One fresh identity per request: `ip` and ports are what its boot records announce. */
export function makeIdentities(reqs: { ip: string; tcp: number; udp: number }[]): NodeIdentity[] {
  const repo = path.resolve(__dirname, "..", "..");
  return JSON.parse(execFileSync(process.execPath, ["-e", SCRIPT, JSON.stringify(reqs)], { cwd: repo, encoding: "utf8", timeout: 30_000 })) as NodeIdentity[];
}
