/**
 * Real geth + prysm beacon + prysm validator from the client modules' own container specs: the chain advances
 * and the genesis validators (made by `ephemery keys generate`) do their duties, node identities survive a restart and the switch by ephemery-reset to
 * iteration N+1 (genesis sync, no checkpoint provider), and the validator's keys are listed through the
 * keymanager API with the token where KEY_TOOLS reads it.
 *
 * Re-deposit after the reset: the host also carries a ninth key, outside every genesis, deposited on N by
 * `ephemery keys deposit`. With hosts[].validator.redeposit on and the funding key prefunded in N+1's genesis, the
 * reset program's own re-deposit step deposits it again on N+1 (once), and the validator comes back on N+1: in the
 * registry with its withdrawal credentials, then active and attesting through the same validator client.
 */
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { iterationAt } from "../../lib/ephemery";
import { addressOf } from "../../lib/execution/transaction";
import { executionCredentials } from "../../lib/keys/deposit";
import { validatorState } from "../../lib/keys/exit";
import { METRICS_FILE, RedepositRecord, recordPath } from "../../lib/keys/redeposit";
import { clientBinaries, ensureClientImages } from "../support/chainClients";
import { CHAIN_WITHDRAWAL_ADDRESS, ChainRelease, ChainSchedule, DEPOSIT_CONTRACT, GenesisKey, generateChainKeys, generateChainRelease, scheduleOf } from "../support/chainRelease";
import { runCli } from "../support/cli";
import { ReleaseServer } from "../support/releases";
import { ChainNode, httpGet, publishChainRelease, waitOn } from "./harness";

const SECONDS_PER_SLOT = 3;
const VALIDATORS = 8;
const PERIOD_SEC = 600;
/** Ephemery's current fork (Osaka on the EL). */
const FORK = "fulu";
const SLOTS_PER_EPOCH = 32;
const nowSec = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polls every few seconds: the waits for the re-deposited validator are minutes long. */
const slowly = (check: () => Promise<boolean>) => async () => { const ok = await check(); if (!ok) await sleep(3000); return ok; };
/** Pays the deposit on N (ephemery keys deposit) and the re-deposit on N+1 (the reset program); prefunded in both. */
const FUNDER = Buffer.alloc(32, 9);

describe("live chain: geth + prysm on generated Ephemery releases", () => {
  const server = new ReleaseServer();
  let node: ChainNode;
  let schedule: ChainSchedule;
  let n: number;
  let releaseN: ChainRelease;
  /** Key 8 of the test mnemonic: on this host from the start, in no genesis. */
  let extra: GenesisKey;
  let extraDepositData: string;
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
    releaseN = await generateChainRelease({ iteration: n, schedule, validators: VALIDATORS, secondsPerSlot: SECONDS_PER_SLOT, prysmctl: bins.prysmctl, geth: bins.geth, fork: FORK, prefund: [addressOf(FUNDER)] });
    publishChainRelease(server, releaseN);
    node = await ChainNode.create(server.network, schedule, {
      redeposit: { fundingKey: FUNDER, withdrawalAddress: CHAIN_WITHDRAWAL_ADDRESS, maxDeposits: 4, receiptTimeoutSec: 120 },
    });
    const made = await generateChainKeys({ out: path.join(node.root, "extra-keys"), configYaml: releaseN.files["config.yaml"].toString(), start: VALIDATORS, count: 1, password: "extra validator" });
    [extra] = made.keys;
    extraDepositData = made.depositDataFile;
  });

  afterAll(async () => {
    node?.cleanup();
    await server.stop();
  });

  test("ensure installs release N; the generated containers start and the chain advances", async () => {
    const ensured = await node.run("ensure", nowSec());
    expect(ensured.stderr).not.toMatch(/ERROR/);
    expect(ensured.stdout.trim().split("\n").pop()).toBe(`iteration=${n}`);
    node.installKeys([...releaseN.keys, extra]);
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

  test("ephemery keys deposit sends the host's ninth key to N's deposit contract; N's beacon node queues it", async () => {
    const work = path.join(node.root, "work");
    fs.mkdirSync(work, { mode: 0o700 });
    fs.writeFileSync(path.join(work, "config.yaml"), releaseN.files["config.yaml"]);
    fs.writeFileSync(path.join(work, "funding.key"), `0x${FUNDER.toString("hex")}\n`, { mode: 0o600 });
    const r = await runCli(["keys", "deposit", "--deposit-data", extraDepositData, "--rpc-url", `http://127.0.0.1:${node.config.execution.rpcPort}`,
      "--network-config", path.join(work, "config.yaml"), "--funding-key-file", path.join(work, "funding.key"), "--yes", "--json"]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect((JSON.parse(r.stdout).deposits as { pubkey: string }[]).map((d) => d.pubkey)).toEqual([extra.pubkey]);
    await waitOn(node, slowly(async () => ((await node.beacon("/eth/v1/beacon/states/head/pending_deposits")).data as { pubkey: string }[])
      .some((d) => d.pubkey.toLowerCase() === `0x${extra.pubkey}`)), 120_000, "the deposit in N's pending_deposits");
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
    expect(res.body.data.map((k) => k.validating_pubkey.toLowerCase()).sort()).toEqual([...releaseN.keys, extra].map((k) => `0x${k.pubkey}`).sort());
    const wrong = await fetch(`http://127.0.0.1:${node.config.validator!.keymanagerPort}/eth/v1/keystores`, { headers: { authorization: "Bearer 0xnot-the-token" } });
    expect([401, 403]).toContain(wrong.status);
  });

  let enode: string;
  let peerId: string;
  let releaseNext: ChainRelease;
  /** What the switching run of the reset program logged (its re-deposit step runs in the same run). */
  let switchLog: string;

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
    releaseNext = await generateChainRelease({
      iteration: next, schedule, validators: VALIDATORS, secondsPerSlot: SECONDS_PER_SLOT, prysmctl: bins.prysmctl, geth: bins.geth, fork: FORK,
      bootEnrs: [identity.enr], bootEnodes: [enode], prefund: [addressOf(FUNDER)],
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
    switchLog = switched.stderr;
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
    expect(res.body.data.map((k) => k.validating_pubkey.toLowerCase()).sort()).toEqual([...releaseN.keys, extra].map((k) => `0x${k.pubkey}`).sort());
    await waitOn(node, async () => ((await node.beacon("/eth/v2/beacon/blocks/head")).data.message.body.attestations.length > 0), 120_000, "attestations on N+1");
  });

  const dueFile = () => path.join(node.paths.state, "redeposit-due");
  const funderNonce = async () => Number.parseInt(await node.rpc<string>("eth_getTransactionCount", [addressOf(FUNDER), "latest"]), 16);
  let redeposit: { txHash: string; block: number; blockTime: number };

  test("after the switch the reset program re-deposits the ninth key (not in N+1's genesis) to N+1's deposit contract, paid by the funding key", async () => {
    const next = n + 1;
    expect(releaseNext.genesisValidators.map((v) => v.pubkey)).not.toContain(extra.pubkey);
    // The switching run owes the step and runs it at its end; should it not finish, the next runs (cron's, every
    // minute) retry while state/redeposit-due names the iteration.
    let log = switchLog;
    let runs = 1;
    while (fs.existsSync(dueFile()) && runs < 8) {
      await sleep(20_000);
      const r = await node.run("run", nowSec());
      expect(r.code).toBe(0);
      log += r.stderr;
      runs++;
    }
    expect({ due: fs.existsSync(dueFile()), log: fs.existsSync(dueFile()) ? log : "" }).toEqual({ due: false, log: "" });
    expect(log).toMatch(new RegExp(`re-depositing this host's validators that iteration ${next}'s genesis lacks`));
    expect(log).toMatch(new RegExp(`iteration ${next}: 9 key\\(s\\); 8 known to the new chain, 0 deposited, 1 to deposit`));
    expect(log).toMatch(new RegExp(`re-deposit for iteration ${next} done`));

    const record = JSON.parse(fs.readFileSync(recordPath(path.join(node.paths.state, "redeposit"), next), "utf8")) as RedepositRecord;
    expect(record).toMatchObject({ version: 1, iteration: next, complete: true });
    expect(Object.keys(record.deposits)).toEqual([extra.pubkey]);
    const entry = record.deposits[extra.pubkey];
    expect(entry.state).toBe("included");
    if (entry.state !== "included") return;

    // The transaction on N+1's chain: from the funding key, to N+1's deposit contract, succeeded, in the recorded block.
    const tx = await node.rpc<{ from: string; to: string; blockNumber: string }>("eth_getTransactionByHash", [entry.txHash]);
    expect({ from: tx.from.toLowerCase(), to: tx.to.toLowerCase(), block: Number.parseInt(tx.blockNumber, 16) }).toEqual({ from: addressOf(FUNDER).toLowerCase(), to: DEPOSIT_CONTRACT.toLowerCase(), block: entry.block });
    const receipt = await node.rpc<{ status: string; logs: { address: string }[] }>("eth_getTransactionReceipt", [entry.txHash]);
    expect(receipt.status).toBe("0x1");
    expect(receipt.logs.map((l) => l.address.toLowerCase())).toEqual([DEPOSIT_CONTRACT.toLowerCase()]);
    expect(Number.parseInt(await node.rpc<string>("eth_chainId"), 16)).toBe(releaseNext.chainId);
    const blockTime = Number.parseInt((await node.rpc<{ timestamp: string }>("eth_getBlockByNumber", [tx.blockNumber, false])).timestamp, 16);
    redeposit = { txHash: entry.txHash, block: entry.block, blockTime };
    const sent = new RegExp(`^(\\S+) ephemery-redeposit\\[[^\\]]*\\]: 0x${extra.pubkey.slice(0, 12)}…: sent ${entry.txHash}`, "m").exec(log);
    expect(sent).not.toBeNull();
    const sentAt = Math.floor(Date.parse(sent![1]) / 1000);
    process.stderr.write(`redeposit: N+1 genesis ${releaseNext.clGenesisTime}; deposit sent ${sentAt - releaseNext.clGenesisTime} s after it, included in block ${entry.block} at ${blockTime - releaseNext.clGenesisTime} s; reset program runs: ${runs}\n`);

    // Its metrics, as node-exporter's textfile collector reads them.
    const metrics = fs.readFileSync(path.join(node.paths.textfile, METRICS_FILE), "utf8");
    const promtool = spawnSync("promtool", ["check", "metrics"], { input: metrics, encoding: "utf8", timeout: 30_000 });
    expect({ code: promtool.status, out: promtool.stdout + promtool.stderr }).toEqual({ code: 0, out: "" });
    for (const line of [`ephemery_redeposit_iteration ${next}`, 'ephemery_redeposit_keys{state="in_chain"} 8', 'ephemery_redeposit_keys{state="included"} 1',
      'ephemery_redeposit_keys{state="pending"} 0', "ephemery_redeposit_complete 1", "ephemery_redeposit_dry_run 0", "ephemery_redeposit_last_run_success 1"]) {
      expect(metrics.split("\n")).toContain(line);
    }
  });

  test("a rerun of the reset program deposits nothing again, even if it is owed the step once more", async () => {
    const nonce = await funderNonce();
    expect(nonce).toBe(1);
    const recordFile = recordPath(path.join(node.paths.state, "redeposit"), n + 1);
    const record = fs.readFileSync(recordFile, "utf8");
    const again = await node.run("run", nowSec());
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/re-deposit/);
    // As a crash between the deposit and the removal of the due file would leave it: the record answers.
    fs.writeFileSync(dueFile(), `${n + 1}\n`);
    const owed = await node.run("run", nowSec());
    expect(owed.code).toBe(0);
    expect(owed.stderr).toMatch(new RegExp(`iteration ${n + 1}: re-deposit already done`));
    expect(fs.existsSync(dueFile())).toBe(false);
    await sleep(2 * SECONDS_PER_SLOT * 1000);
    expect(await funderNonce()).toBe(nonce);
    expect(fs.readFileSync(recordFile, "utf8")).toBe(record);
    // That run's gauges still say what the finished one found.
    const metrics = fs.readFileSync(path.join(node.paths.textfile, METRICS_FILE), "utf8").split("\n");
    for (const line of ['ephemery_redeposit_keys{state="in_chain"} 8', 'ephemery_redeposit_keys{state="included"} 1', "ephemery_redeposit_complete 1", "ephemery_redeposit_last_run_success 1"]) {
      expect(metrics).toContain(line);
    }
  });

  let seenInRegistry = 0;

  test("N+1's beacon node takes the deposit: pending_deposits, then the registry with the 0x01 credentials of the withdrawal address", async () => {
    const credentials = `0x${executionCredentials("0x01", CHAIN_WITHDRAWAL_ADDRESS).toString("hex")}`;
    const beaconUrl = `http://127.0.0.1:${node.config.consensus.beaconApiPort}`;
    let pending: { withdrawal_credentials: string; amount: string } | undefined;
    await waitOn(node, slowly(async () => {
      const queued = ((await node.beacon("/eth/v1/beacon/states/head/pending_deposits")).data as { pubkey: string; withdrawal_credentials: string; amount: string }[])
        .find((d) => d.pubkey.toLowerCase() === `0x${extra.pubkey}`);
      pending ??= queued;
      return queued !== undefined || (await validatorState(beaconUrl, extra.pubkey)) !== undefined;
    }), 180_000, "the re-deposit in N+1's pending_deposits or registry");
    if (pending) expect(pending).toMatchObject({ withdrawal_credentials: credentials, amount: "32000000000" });
    await waitOn(node, slowly(async () => (await validatorState(beaconUrl, extra.pubkey)) !== undefined), 1_200_000, "the re-deposited validator in N+1's registry");
    seenInRegistry = nowSec();
    const v = (await node.beacon(`/eth/v1/beacon/states/head/validators/0x${extra.pubkey}`)).data;
    // After N+1's eight genesis validators.
    expect({ index: v.index, credentials: v.validator.withdrawal_credentials }).toEqual({ index: String(VALIDATORS), credentials });
    process.stderr.write(`redeposit: ${pending ? "seen in pending_deposits; " : ""}in N+1's registry ${seenInRegistry - redeposit.blockTime} s after inclusion (status ${v.status})\n`);
  }, 1_500_000);

  test("the re-deposited validator becomes active_ongoing on N+1 and the validator client attests for it", async () => {
    const beaconUrl = `http://127.0.0.1:${node.config.consensus.beaconApiPort}`;
    const epochSec = SECONDS_PER_SLOT * SLOTS_PER_EPOCH;
    await waitOn(node, slowly(async () => (await validatorState(beaconUrl, extra.pubkey))?.status === "active_ongoing"), 1_800_000, "the re-deposited validator to be active_ongoing");
    const v = (await node.beacon(`/eth/v1/beacon/states/head/validators/0x${extra.pubkey}`)).data;
    const activation = releaseNext.clGenesisTime + Number(v.validator.activation_epoch) * epochSec;
    process.stderr.write(`redeposit: activation epoch ${v.validator.activation_epoch} of N+1, ${activation - redeposit.blockTime} s after inclusion, ${activation - releaseNext.clGenesisTime} s after N+1 genesis\n`);
    await waitOn(node, slowly(async () => {
      const epoch = Math.floor((await node.headSlot()) / SLOTS_PER_EPOCH);
      const body = JSON.parse(await httpGet(`${beaconUrl}/eth/v1/validator/liveness/${epoch}`, JSON.stringify([String(VALIDATORS)])));
      return epoch >= Number(v.validator.activation_epoch) && body.data?.[0]?.is_live === true;
    }), 3 * epochSec * 1000, "the re-deposited validator to attest on N+1");
  }, 2_400_000);
});
