/**
 * The validator exporter, run as a real process with node against a loopback server that answers like a beacon
 * node (fixtures/beacon-api.json) and an execution client's JSON-RPC.
 */
import * as fs from "fs";
import * as path from "path";
import { EXPORTER_METRICS } from "../../lib/monitoring/exporterMetrics";
import { FakeBeacon, FIXTURE_PUBKEYS, startFakeBeacon } from "./beaconServer";
import { freePort, parseExposition, startProcess, Started, tmpDir, waitFor } from "./support";

const EXPORTER = path.join(__dirname, "..", "..", "exporter", "validator-exporter.js");

describe("validator exporter against a beacon API", () => {
  let beacon: FakeBeacon;
  let exporter: Started;
  let dir: string;
  let port: number;

  const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

  beforeAll(async () => {
    beacon = await startFakeBeacon({ currentEpoch: 10, headBehindSlots: 3 });
    dir = tmpDir("exporter");
    // Keystores as the key installer lays them out, plus files that are not keystores.
    fs.mkdirSync(path.join(dir, "keys", "keystores"), { recursive: true });
    fs.mkdirSync(path.join(dir, "keys", "secrets"), { recursive: true });
    FIXTURE_PUBKEYS.forEach((pk, i) => fs.writeFileSync(
      path.join(dir, "keys", "keystores", `keystore-${i}.json`),
      JSON.stringify({ version: 4, pubkey: pk.slice(2), path: `m/12381/3600/${i}/0/0`, uuid: `0000000${i}-0000-4000-8000-000000000000`, crypto: {} }),
    ));
    fs.writeFileSync(path.join(dir, "keys", "secrets", "keystore-0.txt"), "not a keystore");
    fs.writeFileSync(path.join(dir, "keys", "keystores", "notes.json"), JSON.stringify({ hello: "world" }));
    port = await freePort();
    exporter = startProcess("node", [
      EXPORTER,
      `--listen=127.0.0.1:${port}`,
      `--beacon-url=${beacon.url}`,
      `--execution-url=${beacon.url}/rpc`,
      `--keys-dir=${path.join(dir, "keys")}`,
      `--state-file=${path.join(dir, "state.json")}`,
      "--interval-sec=0.3",
    ]);
  });

  afterAll(async () => {
    await exporter?.stop();
    await beacon?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("publishes health, attestation and proposal figures for the node's validators", async () => {
    const m = await waitFor("a processed epoch", async () => {
      const parsed = parseExposition(await scrape());
      return parsed.has("ephemery_exporter_last_processed_epoch") ? parsed : undefined;
    }, 20_000);
    // Wall clock at epoch 10; rewards are counted two epochs behind.
    expect(m.get("ephemery_exporter_last_processed_epoch")).toBe(8);
    expect(m.get("ephemery_beacon_api_up")).toBe(1);
    expect(m.get("ephemery_beacon_sync_distance")).toBe(3);
    expect(m.get("ephemery_beacon_peers")).toBe(48);
    expect(m.get("ephemery_beacon_finalized_epoch")).toBe(8);
    expect(m.get("ephemery_execution_head_block")).toBe(500);
    expect(m.get("ephemery_execution_peers")).toBe(7);
    expect(m.get("ephemery_execution_syncing")).toBe(0);
    expect(m.get("ephemery_validators_monitored")).toBe(2);

    const v11 = `validator="11",pubkey="${FIXTURE_PUBKEYS[0]}"`;
    const v12 = `validator="12",pubkey="${FIXTURE_PUBKEYS[1]}"`;
    expect(m.get(`ephemery_validator_active{${v11}}`)).toBe(1);
    expect(m.get(`ephemery_validator_balance_gwei{${v11}}`)).toBe(32001234567);
    expect(m.get(`ephemery_validator_attestation_duties_total{${v11}}`)).toBe(1);
    expect(m.get(`ephemery_validator_attestation_duties_total{${v12}}`)).toBe(1);
    // 11 attested on time; 12 lost its source and target rewards.
    expect(m.get(`ephemery_validator_attestations_missed_total{${v11}}`)).toBe(0);
    expect(m.get(`ephemery_validator_attestations_missed_total{${v12}}`)).toBe(1);
    expect(m.get(`ephemery_validator_attestation_reward_gwei{${v11}}`)).toBe(2856 + 5511 + 2966);
    expect(m.get(`ephemery_validator_attestation_reward_gwei{${v12}}`)).toBe(-5511 - 2966);
    expect(m.get(`ephemery_validator_attestation_ideal_reward_gwei{${v12}}`)).toBe(2856 + 5511 + 2966);
    // Slot 3 holds 11's block, slot 7 (12's duty) is empty; validator 99 is not ours.
    expect(m.get(`ephemery_validator_proposals_total{${v11},result="proposed"}`)).toBe(1);
    expect(m.get(`ephemery_validator_proposals_total{${v11},result="missed"}`)).toBe(0);
    expect(m.get(`ephemery_validator_proposals_total{${v12},result="missed"}`)).toBe(1);
    expect(m.get(`ephemery_validator_proposal_reward_gwei_total{${v11}}`)).toBe(123456);
    expect([...m.keys()].some((k) => k.includes('validator="99"'))).toBe(false);

    // It asked the rewards endpoint for exactly our active validators, and only for the processed epoch.
    const rewardCalls = beacon.requests.filter((r) => r.url.startsWith("/eth/v1/beacon/rewards/attestations/"));
    expect(new Set(rewardCalls.map((r) => r.url))).toEqual(new Set(["/eth/v1/beacon/rewards/attestations/8"]));
    expect(JSON.parse(rewardCalls[0].body).sort()).toEqual(["11", "12"]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8")).lastProcessedEpoch).toBe(8);
  });

  it("lists every metric the rules and dashboards may use, and no other ephemery_ family", async () => {
    const text = await scrape();
    const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]));
    expect(families).toEqual(new Set(Object.values(EXPORTER_METRICS)));
  });

  it("does not count an epoch twice across ticks", async () => {
    await new Promise((r) => setTimeout(r, 1200));
    const m = parseExposition(await scrape());
    expect(m.get(`ephemery_validator_attestation_duties_total{validator="11",pubkey="${FIXTURE_PUBKEYS[0]}"}`)).toBe(1);
  });

  it("starts over on a new genesis (an Ephemery reset) and reports the beacon API down when it stops answering", async () => {
    beacon.setGenesis(Math.floor(Date.now() / 1000) - 5 * 32 * 12 - 30);
    const m = await waitFor("the new chain's epoch", async () => {
      const parsed = parseExposition(await scrape());
      return parsed.get("ephemery_exporter_last_processed_epoch") === 3 ? parsed : undefined;
    }, 10_000);
    expect(m.get(`ephemery_validator_attestation_duties_total{validator="11",pubkey="${FIXTURE_PUBKEYS[0]}"}`)).toBe(2);
    await beacon.close();
    const down = await waitFor("beacon down", async () => {
      const parsed = parseExposition(await scrape());
      return parsed.get("ephemery_beacon_api_up") === 0 ? parsed : undefined;
    }, 10_000);
    expect(down.get('ephemery_exporter_errors_total{endpoint="syncing"}')).toBeGreaterThan(0);
  });

  it("takes the slot time from the beacon node's spec: on a 3 s chain it counts the epochs the wall clock is at", async () => {
    const fast = await startFakeBeacon({ currentEpoch: 10, secondsPerSlot: 3 });
    const fastPort = await freePort();
    const fastDir = tmpDir("exporter-fast");
    const proc = startProcess("node", [EXPORTER, `--listen=127.0.0.1:${fastPort}`, `--beacon-url=${fast.url}`, `--execution-url=${fast.url}/rpc`,
      `--keys-dir=${path.join(dir, "keys")}`, `--state-file=${path.join(fastDir, "state.json")}`, "--interval-sec=0.3"]);
    try {
      const m = await waitFor("a processed epoch", async () => {
        const parsed = parseExposition(await (await fetch(`http://127.0.0.1:${fastPort}/metrics`)).text());
        return parsed.has("ephemery_exporter_last_processed_epoch") ? parsed : undefined;
      }, 20_000);
      // With Ephemery's 12 s the exporter would think the chain is at epoch 2 and count epoch 0.
      expect(m.get("ephemery_exporter_last_processed_epoch")).toBe(8);
    } finally {
      await proc.stop();
      await fast.close();
      fs.rmSync(fastDir, { recursive: true, force: true });
    }
  });
});
