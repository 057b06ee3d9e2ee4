/**
 * The validator's life on the live chain (real geth + prysm beacon + prysm validator from the client modules'
 * specs): the genesis validators come from `ephemery keys generate`; `ephemery keys exit` (the prompt answered on a
 * terminal) has the prysm validator client sign a voluntary exit that its beacon node accepts, and the validator is
 * seen exiting; a validator outside genesis, made by `keys generate` after the genesis indices and sent by
 * `ephemery keys deposit` through the node's JSON-RPC to the release's deposit contract, becomes active, and the
 * validator client, given its keystore through the keymanager API, attests for it.
 *
 * Activation follows Electra's EIP-6110 path: the deposit request waits in pending_deposits until its slot is
 * finalized, the next epoch makes it eligible, and once that epoch is finalized it activates MAX_SEED_LOOKAHEAD + 1
 * epochs later. All of these are presets or finality, not config.yaml values: with 3 s slots about 12 epochs (~19 min).
 */
import * as fs from "fs";
import * as path from "path";
import { addressOf } from "../../lib/execution/transaction";
import { iterationAt } from "../../lib/ephemery";
import { validatorState } from "../../lib/keys/exit";
import { KEY_TOOLS } from "../../lib/keys/layout";
import { clientBinaries, ensureClientImages } from "../support/chainClients";
import { ChainRelease, generateChainKeys, generateChainRelease } from "../support/chainRelease";
import { runCli, runCliOnTty } from "../support/cli";
import { docker } from "../support/dockerd";
import { ReleaseServer } from "../support/releases";
import { ChainNode, httpGet, publishChainRelease, waitOn } from "./harness";

const SECONDS_PER_SLOT = 3;
const SLOTS_PER_EPOCH = 32;
const VALIDATORS = 8;
const nowSec = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polls every few seconds: the waits here are minutes long. */
const slowly = (check: () => Promise<boolean>) => async () => { const ok = await check(); if (!ok) await sleep(3000); return ok; };

describe("live chain: a validator's life (keys generate, keys deposit, keys exit)", () => {
  const server = new ReleaseServer();
  const bins = clientBinaries();
  let node: ChainNode;
  let release: ChainRelease;
  let beaconUrl: string;
  let work: string;
  const funder = Buffer.alloc(32, 7);

  beforeAll(async () => {
    ensureClientImages();
    await server.start();
    const n = iterationAt(nowSec());
    // A period far beyond the test: no reset happens here.
    const elN = nowSec() + 60;
    const schedule = { baseTime: elN - n * 86_400, periodSec: 86_400, genesisDelaySec: 0, chainIdBase: 39438000 };
    release = await generateChainRelease({ iteration: n, schedule, validators: VALIDATORS, secondsPerSlot: SECONDS_PER_SLOT, prysmctl: bins.prysmctl, geth: bins.geth, fork: "fulu", prefund: [addressOf(funder)] });
    publishChainRelease(server, release);
    node = await ChainNode.create(server.network, schedule);
    work = path.join(node.root, "work");
    fs.mkdirSync(work, { mode: 0o700 });
    fs.writeFileSync(path.join(work, "config.yaml"), release.files["config.yaml"]);
    fs.writeFileSync(path.join(work, "funding.key"), `0x${funder.toString("hex")}\n`, { mode: 0o600 });
    beaconUrl = `http://127.0.0.1:${node.config.consensus.beaconApiPort}`;
    const ensured = await node.run("ensure", nowSec());
    expect(ensured.stdout.trim().split("\n").pop()).toBe(`iteration=${n}`);
    node.installKeys(release.keys);
    node.up();
    await waitOn(node, async () => (await node.headSlot()) >= 2, 240_000, "CL head slot 2");
  });

  afterAll(async () => {
    node?.cleanup();
    await server.stop();
  });

  test("the genesis validators made by keys generate are active, and the validator client holds them", async () => {
    const pubkeys = release.keys.map((k) => `0x${k.pubkey}`).sort();
    const validators = (await node.beacon("/eth/v1/beacon/states/head/validators")).data as { validator: { pubkey: string; withdrawal_credentials: string }; status: string }[];
    expect(validators.map((v) => v.validator.pubkey).sort()).toEqual(pubkeys);
    expect(validators.every((v) => v.status === "active_ongoing" && v.validator.withdrawal_credentials.startsWith("0x01"))).toBe(true);
    const listed = await node.keymanager<{ data: { validating_pubkey: string }[] }>("/eth/v1/keystores");
    expect(listed.body.data.map((k) => k.validating_pubkey.toLowerCase()).sort()).toEqual(pubkeys);
  });

  let depositSlotTime: number;
  let extra: { pubkey: string; index: number };

  /** The keymanager token where KEY_TOOLS says prysm keeps it. */
  const keymanagerToken = () => docker(["exec", node.specs.validator!.name, "cat", KEY_TOOLS.prysm.apiTokenPath]).split("\n")[0].trim();

  test("ephemery keys deposit sends a deposit for a key after the genesis ones; the beacon node queues it", async () => {
    const made = await generateChainKeys({ out: path.join(work, "extra-keys"), configYaml: release.files["config.yaml"].toString(), start: VALIDATORS, count: 1, password: "extra validator" });
    extra = { pubkey: made.keys[0].pubkey, index: made.keys[0].index };
    expect(extra.index).toBe(VALIDATORS);
    const r = await runCli(["keys", "deposit", "--deposit-data", made.depositDataFile, "--rpc-url", `http://127.0.0.1:${node.config.execution.rpcPort}`,
      "--network-config", path.join(work, "config.yaml"), "--funding-key-file", path.join(work, "funding.key"), "--yes", "--json"]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    const [sent] = JSON.parse(r.stdout).deposits as { pubkey: string; block: number | string }[];
    expect(sent.pubkey).toBe(extra.pubkey);
    const block = await node.rpc<{ timestamp: string }>("eth_getBlockByNumber", [`0x${BigInt(sent.block).toString(16)}`, false]);
    depositSlotTime = Number.parseInt(block.timestamp, 16);
    // EIP-6110: the block's deposit request lands in the state's pending_deposits, signature unchecked until processed.
    await waitOn(node, slowly(async () => ((await node.beacon("/eth/v1/beacon/states/head/pending_deposits")).data as { pubkey: string }[])
      .some((d) => d.pubkey.toLowerCase() === `0x${extra.pubkey}`)), 120_000, "the deposit in the beacon state's pending_deposits");

    // The validator client takes the new key through the keymanager API (standard import), ready for activation.
    const res = await fetch(`http://127.0.0.1:${node.config.validator!.keymanagerPort}/eth/v1/keystores`, {
      method: "POST", headers: { authorization: `Bearer ${keymanagerToken()}`, "content-type": "application/json" },
      body: JSON.stringify({ keystores: [made.keys[0].keystore], passwords: [made.keys[0].password] }), signal: AbortSignal.timeout(60_000),
    });
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: { data: [expect.objectContaining({ status: "imported" })] } });
  });

  test("ephemery keys exit, confirmed at the prompt: the prysm validator client signs, the beacon node accepts, the validator exits", async () => {
    const key = release.keys[1];
    const tokenFile = path.join(work, "keymanager-token");
    fs.writeFileSync(tokenFile, keymanagerToken(), { mode: 0o600 });
    const args = ["keys", "exit", "--pubkey", `0x${key.pubkey}`, "--keymanager-url", `http://127.0.0.1:${node.config.validator!.keymanagerPort}`, "--token-file", tokenFile, "--beacon-url", beaconUrl];
    // A wrong answer exits nothing.
    const declined = await runCliOnTty(args, 'Type "exit" to go on', "no");
    expect(declined.output).toContain("nothing was exited");
    expect(declined.code).toBe(1);
    expect((await validatorState(beaconUrl, key.pubkey))?.status).toBe("active_ongoing");

    const r = await runCliOnTty(args, 'Type "exit" to go on', "exit");
    // The prompt named the key and the network (CONFIG_NAME and chain id from the beacon node's spec).
    expect(r.output).toContain(`0x${key.pubkey}`);
    expect(r.output).toContain(`testnet (chain ${release.chainId})`);
    expect({ code: r.code, output: r.code === 0 ? "" : r.output }).toEqual({ code: 0, output: "" });
    expect(r.output).toMatch(new RegExp(`exit published \\(validator ${key.index}, epoch \\d+\\)`));
    await waitOn(node, slowly(async () => {
      const s = await validatorState(beaconUrl, key.pubkey);
      return s?.status === "active_exiting" && /^\d+$/.test(s.exitEpoch) && s.exitEpoch !== "18446744073709551615";
    }), 180_000, "the validator to be active_exiting with an exit epoch");
  });

  test("the deposited validator becomes active_ongoing, and the validator client that imported it attests for it", async () => {
    const genesis = release.clGenesisTime;
    const epochSec = SECONDS_PER_SLOT * SLOTS_PER_EPOCH;
    let seenInState = 0;
    await waitOn(node, slowly(async () => {
      const s = await validatorState(beaconUrl, extra.pubkey);
      if (s && !seenInState) seenInState = nowSec();
      return s?.status === "active_ongoing";
    }), 1_800_000, "the deposited validator to be active_ongoing");
    const v = (await node.beacon(`/eth/v1/beacon/states/head/validators/0x${extra.pubkey}`)).data;
    expect(v.index).toBe(String(extra.index));
    const activation = genesis + Number(v.validator.activation_epoch) * epochSec;
    // Figures for the README: deposit inclusion to the validator in the registry and to its activation epoch.
    process.stderr.write(`lifecycle: deposit included at epoch ${Math.floor((depositSlotTime - genesis) / epochSec)}; in the registry after ${seenInState - depositSlotTime} s; activation epoch ${v.validator.activation_epoch}, ${activation - depositSlotTime} s after inclusion\n`);
    expect(Number(v.validator.activation_epoch)).toBeGreaterThan(0);

    // Liveness (an attestation or block seen from the index) in an epoch it is active in.
    await waitOn(node, slowly(async () => {
      const epoch = Math.floor((await node.headSlot()) / SLOTS_PER_EPOCH);
      const body = JSON.parse(await httpGet(`${beaconUrl}/eth/v1/validator/liveness/${epoch}`, JSON.stringify([String(extra.index)])));
      return epoch >= Number(v.validator.activation_epoch) && body.data?.[0]?.is_live === true;
    }), 3 * epochSec * 1000, "the deposited validator to attest");
  }, 2_400_000);
});
