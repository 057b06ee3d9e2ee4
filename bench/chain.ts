/**
 * Live-chain benchmark: one node of real geth + prysm (beacon + validator) from the client modules' specs, on
 * generated releases N and N+1 with a test-sized schedule (BENCH_SLOT_SEC s slots, 32-slot epochs), switched by
 * the rendered ephemery-reset program. Prints:
 *   - from N's first slot (its CL genesis): seconds to the first block and to the first finalized epoch;
 *   - from N+1's EL genesis (the switch moment): seconds until the node answers on N+1 (EL chain id and CL
 *     genesis), until N+1's first block, and the slots N+1 missed before it (slots are N+1's CL genesis onwards).
 * Run: npm run bench:chain   (BENCH_SLOT_SEC=3, BENCH_VALIDATORS=8, BENCH_FORK=fulu|electra; needs scripts/client-binaries.sh built)
 */
import { iterationAt } from "../lib/ephemery";
import { ChainNode, publishChainRelease, waitOn } from "../tests/chain/harness";
import { clientBinaries, ensureClientImages } from "../tests/support/chainClients";
import { generateChainRelease, scheduleOf } from "../tests/support/chainRelease";
import { dockerAnswers, registerUser, startDockerd, stopDockerdIfStarted } from "../tests/support/dockerd";
import { ReleaseServer } from "../tests/support/releases";

const SLOT_SEC = Number(process.env.BENCH_SLOT_SEC ?? 3);
const VALIDATORS = Number(process.env.BENCH_VALIDATORS ?? 8);
const FORK = (process.env.BENCH_FORK ?? "fulu") as "fulu" | "electra";
/** 0: prysmctl stamps genesis.json with the CL genesis time (see tests/chain/chain.test.ts). */
const GENESIS_DELAY_SEC = 0;
const now = () => Date.now() / 1000;

async function main(): Promise<void> {
  registerUser();
  const startedDockerd = dockerAnswers() ? undefined : await startDockerd();
  ensureClientImages();
  const bins = clientBinaries();
  const server = new ReleaseServer();
  await server.start();
  const n = iterationAt(Math.floor(now()));
  const elN = Math.floor(now()) + 40;
  // Finality takes about four epochs; N+1 starts one epoch after that budget.
  const periodSec = 40 + 6 * 32 * SLOT_SEC;
  const schedule = { baseTime: elN - n * periodSec, periodSec, genesisDelaySec: GENESIS_DELAY_SEC, chainIdBase: 39438000 };
  const s = scheduleOf(schedule);
  const gen = (iteration: number, boot: { bootEnrs?: string[]; bootEnodes?: string[] } = {}) =>
    generateChainRelease({ iteration, schedule, validators: VALIDATORS, secondsPerSlot: SLOT_SEC, prysmctl: bins.prysmctl, geth: bins.geth, fork: FORK, ...boot });
  const node = await ChainNode.create(server.network, schedule);
  const out: string[] = [];
  try {
    const releaseN = await gen(n);
    publishChainRelease(server, releaseN);
    if ((await node.run("ensure", Math.floor(now()))).code !== 0) throw new Error("ensure failed");
    node.installKeys(releaseN.keys);
    node.up();
    const clN = releaseN.clGenesisTime;
    await waitOn(node, async () => (await node.blockNumber()) >= 1, 300_000, "N's first block");
    const firstBlockN = now() - clN;
    await waitOn(node, async () => Number((await node.beacon("/eth/v1/beacon/states/head/finality_checkpoints")).data.finalized.epoch) > 0, 900_000, "N's first finalized epoch");
    const finalizedN = now() - clN;
    out.push(`iteration N: first block ${firstBlockN.toFixed(1)} s after its first slot's start; first finalized epoch ${finalizedN.toFixed(1)} s (${(finalizedN / (32 * SLOT_SEC)).toFixed(2)} epochs)`);

    const identity = await node.identity();
    const releaseNext = await gen(n + 1, { bootEnrs: [identity.enr], bootEnodes: [node.enode()] });
    publishChainRelease(server, releaseNext);
    if ((await node.run("run", Math.floor(now()))).code !== 0) throw new Error("staging N+1 failed");
    const switchAt = s.elGenesis(n + 1);
    if (switchAt > now()) await new Promise((r) => setTimeout(r, (switchAt - now()) * 1000));
    const switched = await node.run("run", Math.max(Math.floor(now()), switchAt), { EPHEMERY_CHECK_TIMEOUT_SEC: "180" });
    if (switched.code !== 0) throw new Error(`switch failed:\n${switched.stderr}`);
    const answered = now() - switchAt;
    await waitOn(node, async () => (await node.blockNumber()) >= 1, 300_000, "N+1's first block");
    const firstBlock = now() - switchAt;
    const slot1 = Number((await node.beacon("/eth/v2/beacon/blocks/head")).data.message.slot);
    // The head is N+1's first block or a later one: count the slots before the earliest block on chain.
    let earliest = slot1;
    for (let slot = 1; slot < slot1; slot++) {
      const hdr = await node.beacon(`/eth/v1/beacon/headers/${slot}`).catch(() => undefined);
      if (hdr?.data) { earliest = slot; break; }
    }
    out.push(`iteration N+1 (switch at its EL genesis, first slot ${GENESIS_DELAY_SEC} s later): node answers on N+1 ${answered.toFixed(1)} s after the switch moment; ` +
      `first block ${firstBlock.toFixed(1)} s after it (slot ${earliest}); slots missed at the start: ${earliest - 1}`);
  } finally {
    node.cleanup();
    await server.stop();
    if (startedDockerd) await stopDockerdIfStarted();
  }
  console.log(`live-chain benchmark (geth + prysm, ${FORK} at genesis, ${VALIDATORS} validators, ${SLOT_SEC} s slots, one node, genesis delay ${GENESIS_DELAY_SEC} s)`);
  for (const line of out) console.log(line);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
