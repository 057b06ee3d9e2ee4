/**
 * `keys deposit --host` and `keys exit --host` through a real sshd on loopback: the node's APIs are loopback HTTP
 * servers standing in for geth's JSON-RPC, the beacon API and the validator client's keymanager, reached only
 * through SSH direct-tcpip channels; the release's config.yaml and the keymanager token (in a real container on
 * the real Docker engine) are read on the host over SSH.
 */
import * as fs from "fs";
import * as path from "path";
import { executionCredentials, makeDeposit } from "../../lib/keys/deposit";
import { busyboxImage, docker } from "../support/dockerd";
import { startSshHost, TestSshHost } from "../support/sshd";
import { listen, send, sshStackFiles, TestServer } from "../ops/fakeNode";
import { runCli } from "../ops/io";
import { tempDir, testSecret } from "./fixtures";

const NODE = `tun${process.pid}`;
const TOKEN = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const FORK = "0x1000101b";
const CHAIN = "39438151";
const CONTRACT = `0x${"42".repeat(20)}`;
const PUBKEY = "ab".repeat(48);
const SIGNATURE = `0x${"cd".repeat(96)}`;

let sshHost: TestSshHost;
let rpc: TestServer;
let beacon: TestServer;
let km: TestServer;
let work: string;
let sshArgs: string[];
const posted: unknown[] = [];

beforeAll(async () => {
  sshHost = await startSshHost();
  // Stand-in for geth's JSON-RPC: on another chain than the release's, so nothing is ever sent.
  rpc = await listen((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => send(res, 200, { jsonrpc: "2.0", id: JSON.parse(body).id, result: "0x1" }));
  });
  beacon = await listen((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (req.url === "/eth/v1/config/spec") return send(res, 200, { data: { CONFIG_NAME: "ephemery", DEPOSIT_CHAIN_ID: CHAIN } });
      if (req.method === "POST" && req.url === "/eth/v1/beacon/pool/voluntary_exits") { posted.push(JSON.parse(body)); return send(res, 200); }
      if (req.url === `/eth/v1/beacon/states/head/validators/0x${PUBKEY}`) return send(res, 200, { data: { index: "7", status: "active_exiting", validator: { exit_epoch: "12" } } });
      send(res, 404, { message: "not found" });
    });
  });
  km = await listen((req, res) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(res, 401, { message: "bad token" });
    if (req.method === "POST" && req.url === `/eth/v1/validator/0x${PUBKEY}/voluntary_exit`) return send(res, 200, { data: { message: { epoch: "10", validator_index: "7" }, signature: SIGNATURE } });
    send(res, 404, { message: "not found" });
  });
  work = tempDir("ephemery-host-apis-");
  const testnet = path.join(work, "data", NODE, "testnet");
  fs.mkdirSync(path.join(testnet, "releases", "ephemery-151"), { recursive: true });
  fs.symlinkSync("releases/ephemery-151", path.join(testnet, "current"));
  fs.writeFileSync(path.join(testnet, "current", "config.yaml"), `CONFIG_NAME: ephemery\nGENESIS_FORK_VERSION: ${FORK}\nDEPOSIT_CHAIN_ID: ${CHAIN}\nDEPOSIT_CONTRACT_ADDRESS: ${CONTRACT}\n`);
  // The validator container holding its keymanager token where lighthouse keeps it.
  const image = busyboxImage("ephemery-host-apis", { "data/validators/api-token.txt": { content: `${TOKEN}\n` } });
  docker(["rm", "-f", `${NODE}-validator`]);
  docker(["run", "-d", "--name", `${NODE}-validator`, image, "sleep", "600"]);
  const { stackFile, knownHosts } = sshStackFiles(sshHost, work, NODE, { rpcPort: rpc.port, beaconApiPort: beacon.port, keymanagerPort: km.port });
  sshArgs = ["--host", NODE, "--file", stackFile, "--identity", sshHost.privateKeyFile, "--known-hosts", knownHosts];
  const d = makeDeposit(testSecret(1), executionCredentials("0x01", `0x${"42".repeat(20)}`), 32_000_000_000n, FORK, "ephemery");
  fs.writeFileSync(path.join(work, "deposit_data.json"), JSON.stringify([d]));
  fs.writeFileSync(path.join(work, "funding.key"), `0x${"5a".repeat(32)}\n`, { mode: 0o600 });
}, 120_000);

afterAll(async () => {
  try { docker(["rm", "-f", `${NODE}-validator`]); } catch { /* gone */ }
  await Promise.all([sshHost?.stop(), rpc?.close(), beacon?.close(), km?.close()]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const depositArgs = () => ["keys", "deposit", ...sshArgs, "--deposit-data", path.join(work, "deposit_data.json"), "--funding-key-file", path.join(work, "funding.key")];

test("keys deposit --host names the network from the host's installed release (read over SSH)", async () => {
  const r = await runCli([...depositArgs(), "--dry-run"]);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  expect(r.out).toMatch(new RegExp(`dry run: would send 1 deposit\\(s\\), 32 ETH in all, from 0x[0-9a-f]{40} to ${CONTRACT} on chain ${CHAIN} via host ${NODE} \\(SSH tunnel to its JSON-RPC\\)`));
});

test("keys deposit --host talks to the node's JSON-RPC through the tunnel, and refuses a node on another chain", async () => {
  const before = rpc.requests.length;
  const r = await runCli([...depositArgs(), "--yes"]);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(new RegExp(`the node at http://127\\.0\\.0\\.1:\\d+ is on chain 1, the deposits are for chain ${CHAIN}: nothing was sent`));
  expect(rpc.requests.slice(before)).toEqual(["POST /"]);
});

test("keys exit --host signs through the tunnelled keymanager with the token read from the container, and publishes to the beacon node", async () => {
  const r = await runCli(["keys", "exit", ...sshArgs, "--pubkey", `0x${PUBKEY}`, "--yes", "--json"]);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out)).toEqual({ network: `ephemery (chain ${CHAIN})`, exits: [{ pubkey: PUBKEY, validatorIndex: "7", epoch: "10", status: "active_exiting", exitEpoch: "12" }] });
  expect(posted).toEqual([{ message: { epoch: "10", validator_index: "7" }, signature: SIGNATURE }]);
  expect(km.requests).toEqual([`POST /eth/v1/validator/0x${PUBKEY}/voluntary_exit`]);
});

test("--host and a URL together are refused", async () => {
  const r = await runCli(["keys", "exit", ...sshArgs, "--pubkey", `0x${PUBKEY}`, "--beacon-url", "http://127.0.0.1:1", "--yes"]);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/give --host NAME .* or --keymanager-url and --beacon-url, not both/);
});
