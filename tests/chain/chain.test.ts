/**
 * Real geth + prysm beacon + prysm validator from the client modules' own container specs: the chain advances
 * and the genesis validators (made by `ephemery keys generate`) do their duties, node identities survive a restart and the switch by ephemery-reset to
 * iteration N+1 (genesis sync, no checkpoint provider), and the validator's keys are listed through the
 * keymanager API with the token where KEY_TOOLS reads it.
 */
import * as fs from "fs";
import * as path from "path";
import { iterationAt } from "../../lib/ephemery";
import { clientBinaries, ensureClientImages } from "../support/chainClients";
import { ChainRelease, ChainSchedule, generateChainRelease, scheduleOf } from "../support/chainRelease";
import { ReleaseServer } from "../support/releases";
import { ChainNode, httpGet, publishChainRelease, waitOn } from "./harness";

const SECONDS_PER_SLOT = 3;
const VALIDATORS = 8;
const PERIOD_SEC = 600;
/** Ephemery's current fork (Osaka on the EL). */
const FORK = "fulu";
const nowSec = () => Math.floor(Date.now() / 1000);

describe("live chain: geth + prysm on generated Ephemery releases", () => {
  const server = new ReleaseServer();
  let node: ChainNode;
  let schedule: ChainSchedule;
  let n: number;
  let releaseN: ChainRelease;
  const bins = clientBinaries();

  beforeAll(async () => {
    ensureClientImages();
    await server.start();
    n = iterationAt(nowSec());
    // N's EL genesis 40 s from now leaves time to generate, install and start; N+1 follows one period later,
    // after N has finalized (about four 96 s epochs).
    // Generating the genesis keys (keys generate, pbkdf2 at the reference rounds) and importing them takes longer
    // than interop keys did.
    const elN = nowSec() + 60;
    // No genesis delay: prysmctl stamps genesis.json with the CL genesis time, and the release check holds a
    // release to MIN_GENESIS_TIME = genesis.json timestamp, GENESIS_TIME = MIN_GENESIS_TIME + GENESIS_DELAY.
    schedule = { baseTime: elN - n * PERIOD_SEC, periodSec: PERIOD_SEC, genesisDelaySec: 0, chainIdBase: 39438000 };
    releaseN = await generateChainRelease({ iteration: n, schedule, validators: VALIDATORS, secondsPerSlot: SECONDS_PER_SLOT, prysmctl: bins.prysmctl, geth: bins.geth, fork: FORK });
    publishChainRelease(server, releaseN);
    node = await ChainNode.create(server.network, schedule);
  });

  afterAll(async () => {
    node?.cleanup();
    await server.stop();
  });

  test("ensure installs release N; the generated containers start and the chain advances", async () => {
    const ensured = await node.run("ensure", nowSec());
    expect(ensured.stderr).not.toMatch(/ERROR/);
    expect(ensured.stdout.trim().split("\n").pop()).toBe(`iteration=${n}`);
    node.installKeys(releaseN.keys);
    node.up();

    const genesis = await (async () => {
      await waitOn(node, async () => (await node.beacon("/eth/v1/beacon/genesis")).data.genesis_time !== undefined, 120_000, "the beacon API");
      return (await node.beacon("/eth/v1/beacon/genesis")).data;
    })();
    expect(genesis).toMatchObject({ genesis_time: String(releaseN.clGenesisTime), genesis_validators_root: releaseN.genesisValidatorsRoot });
    expect(Number.parseInt(await node.rpc<string>("eth_chainId"), 16)).toBe(scheduleOf(schedule).chainId(n));
    expect((await node.beacon("/eth/v1/beacon/states/head/fork")).data.current_version).toBe("0x7000101b");
    // geth initialised the same genesis block the CL's state names.
    expect((await node.rpc<{ hash: string }>("eth_getBlockByNumber", ["0x0", false])).hash).toBe(releaseN.elGenesisHash);

    await waitOn(node, async () => (await node.headSlot()) >= 4 && (await node.blockNumber()) >= 3, 180_000, "CL head slot 4 and EL block 3");
  });

  test("the genesis validators do their duties: blocks proposed, attestations included, balances rising", async () => {
    const keys = new Set(releaseN.keys.map((k) => `0x${k.pubkey}`));
    const validators = (await node.beacon("/eth/v1/beacon/states/head/validators")).data as { validator: { pubkey: string }; status: string }[];
    expect(new Set(validators.map((v) => v.validator.pubkey))).toEqual(keys);
    expect(validators.every((v) => v.status === "active_ongoing")).toBe(true);

    await waitOn(node, async () => {
      const block = (await node.beacon("/eth/v2/beacon/blocks/head")).data.message;
      return block.body.attestations.length > 0 && Number(block.body.execution_payload.block_number) > 0;
    }, 120_000, "a head block that includes attestations and an execution payload");

    const total = async (state: string) => ((await node.beacon(`/eth/v1/beacon/states/${state}/validator_balances`)).data as { balance: string }[]).reduce((s, b) => s + BigInt(b.balance), 0n);
    const atGenesis = await total("genesis");
    await waitOn(node, async () => (await total("head")) > atGenesis, 120_000, "validator balances above their genesis total");
  });

  test("the chain finalizes (finalized epoch > 0)", async () => {
    await waitOn(node, async () => Number((await node.beacon("/eth/v1/beacon/states/head/finality_checkpoints")).data.finalized.epoch) > 0, 540_000, "a finalized epoch above 0");
  });

  test("every genesis validator made by keys generate attested: positive source and target rewards two epochs back", async () => {
    const epoch = Math.floor((await node.headSlot()) / 32) - 2;
    expect(epoch).toBeGreaterThan(0);
    const indices = releaseN.keys.map((k) => String(k.index));
    const body = JSON.parse(await httpGet(`http://127.0.0.1:${node.config.consensus.beaconApiPort}/eth/v1/beacon/rewards/attestations/${epoch}`, JSON.stringify(indices)));
    const rewards = (body.data?.total_rewards ?? []) as { validator_index: string; source: string; target: string }[];
    expect(rewards.map((r) => r.validator_index).sort()).toEqual([...indices].sort());
    expect(rewards.filter((r) => !(Number(r.source) > 0 && Number(r.target) > 0))).toEqual([]);
  });

  test("the prysm validator lists its keys through the keymanager API with the token KEY_TOOLS names", async () => {
    const res = await node.keymanager<{ data: { validating_pubkey: string }[] }>("/eth/v1/keystores");
    expect(res.status).toBe(200);
    expect(res.body.data.map((k) => k.validating_pubkey.toLowerCase()).sort()).toEqual(releaseN.keys.map((k) => `0x${k.pubkey}`).sort());
    const wrong = await fetch(`http://127.0.0.1:${node.config.validator!.keymanagerPort}/eth/v1/keystores`, { headers: { authorization: "Bearer 0xnot-the-token" } });
    expect([401, 403]).toContain(wrong.status);
  });

  let enode: string;
  let peerId: string;

  test("geth's enode and prysm's peer id survive a container restart", async () => {
    enode = node.enode();
    peerId = (await node.identity()).peer_id;
    expect(enode).toMatch(/^enode:\/\/[0-9a-f]{128}@/);
    expect(peerId).toMatch(/^16Uiu2/);
    const slotBefore = await node.headSlot();
    node.restart(["execution", "consensus"]);
    await waitOn(node, async () => (await node.headSlot()) > slotBefore + 1, 180_000, "the chain to advance after the restart");
    expect(node.enode()).toBe(enode);
    expect((await node.identity()).peer_id).toBe(peerId);
  });

  test("at N+1's EL genesis ephemery-reset switches the node: new chain from its genesis state, same identities, same keys", async () => {
    const next = n + 1;
    const s = scheduleOf(schedule);
    const identity = await node.identity();
    // N+1's boot files name this node, as upstream's name Ephemery's bootnodes.
    const releaseNext = await generateChainRelease({
      iteration: next, schedule, validators: VALIDATORS, secondsPerSlot: SECONDS_PER_SLOT, prysmctl: bins.prysmctl, geth: bins.geth, fork: FORK,
      bootEnrs: [identity.enr], bootEnodes: [enode],
    });
    publishChainRelease(server, releaseNext);
    // The same genesis validators give the same genesis_validators_root: only the archived, fresh slashing DB lets
    // them sign N+1's lower slots again.
    expect(releaseNext.clGenesisTime).toBe(releaseN.clGenesisTime + schedule.periodSec);

    const staged = await node.run("run", nowSec());
    expect(staged.code).toBe(0);
    expect(staged.stderr).toMatch(new RegExp(`staging ephemery-${next}`));
    expect(Number.parseInt(await node.rpc<string>("eth_chainId"), 16)).toBe(s.chainId(n));

    const wait = s.elGenesis(next) - nowSec();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait * 1000));
    const switched = await node.run("run", Math.max(nowSec(), s.elGenesis(next)), { EPHEMERY_CHECK_TIMEOUT_SEC: "180" });
    expect({ code: switched.code, log: switched.code === 0 ? "" : switched.stderr }).toEqual({ code: 0, log: "" });
    expect(switched.stderr).toMatch(/check passed/);
    // N's slashing-protection database is archived under N; the attestations on N+1 below show the validator
    // signs N+1's low slots again, which N's database would refuse (same keys, same genesis_validators_root).
    expect(fs.statSync(path.join(node.paths.archive, `ephemery-${n}`, "prysm-slashing-protection", "validator.db")).size).toBeGreaterThan(0);

    expect(Number.parseInt(await node.rpc<string>("eth_chainId"), 16)).toBe(s.chainId(next));
    const genesis = (await node.beacon("/eth/v1/beacon/genesis")).data;
    expect(genesis).toMatchObject({ genesis_time: String(releaseNext.clGenesisTime), genesis_validators_root: releaseNext.genesisValidatorsRoot });
    // No provider is asked after a switch: the reset emptied the checkpoint file the CL reads at start.
    expect(fs.readFileSync(path.join(node.paths.testnetRoot, "checkpoint-sync-url"), "utf8")).toBe("");

    await waitOn(node, async () => (await node.headSlot()) >= 3 && (await node.blockNumber()) >= 2, 240_000, "N+1's chain to advance");
    expect((await node.rpc<{ hash: string }>("eth_getBlockByNumber", ["0x0", false])).hash).toBe(releaseNext.elGenesisHash);
    expect(node.enode()).toBe(enode);
    expect((await node.identity()).peer_id).toBe(peerId);

    const res = await node.keymanager<{ data: { validating_pubkey: string }[] }>("/eth/v1/keystores");
    expect(res.body.data.map((k) => k.validating_pubkey.toLowerCase()).sort()).toEqual(releaseN.keys.map((k) => `0x${k.pubkey}`).sort());
    await waitOn(node, async () => ((await node.beacon("/eth/v2/beacon/blocks/head")).data.message.body.attestations.length > 0), 120_000, "attestations on N+1");
  });
});
