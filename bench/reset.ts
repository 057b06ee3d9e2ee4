/**
 * Reset benchmark on the test setup (real Docker engine, stand-in clients, a loopback release server):
 *   - switch: from the switch moment (the new EL genesis) to every container running and answering on the new chain;
 *   - staging: from a release being published to it being downloaded, verified and staged.
 * Goal: every node answers on the new chain before the new chain's first slot (600 s after the switch).
 * Run: npm run bench:reset   (BENCH_CYCLES=3, BENCH_RUNTIME=docker|compose, BENCH_SSZ_MIB=16)
 */
import { chainIdOf, elGenesisTime, GENESIS_DELAY_SEC } from "../lib/ephemery";
import { RESET_TIMING } from "../lib/reset/values";
import { dockerAnswers, startDockerd, stopDockerdIfStarted } from "../tests/support/dockerd";
import { buildArchive, nodeAnswers, ReleaseServer, releaseFiles, TestNode, waitFor } from "../tests/reset/harness";

const CYCLES = Number(process.env.BENCH_CYCLES ?? 3);
const RUNTIME = (process.env.BENCH_RUNTIME ?? "docker") as "docker" | "compose";
const SSZ_MIB = Number(process.env.BENCH_SSZ_MIB ?? 16);
const FIRST = 150;

/** A release about the size of a real one: genesis.ssz dominates. */
function sizedArchive(iteration: number): Buffer {
  return buildArchive(releaseFiles(iteration, { sszBytes: SSZ_MIB * 1024 * 1024 }));
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(2);
  return `min ${f(s[0])} s, median ${f(s[Math.floor(s.length / 2)])} s, max ${f(s[s.length - 1])} s (n=${s.length})`;
}

async function allOnChain(node: TestNode, iteration: number): Promise<boolean> {
  const running = Object.values(node.containerStarts()).every((s) => s.startsWith("true"));
  if (!running) return false;
  const a = await nodeAnswers(node).catch(() => undefined);
  return a?.chainId === chainIdOf(iteration);
}

async function main(): Promise<void> {
  const startedDockerd = dockerAnswers() ? undefined : await startDockerd();
  const server = new ReleaseServer();
  await server.start();
  const node = await TestNode.create(server, { runtime: RUNTIME });
  const staging: number[] = [];
  const switching: number[] = [];
  const checked: number[] = [];
  try {
    server.publish(FIRST, sizedArchive(FIRST));
    const ensure = await node.run("ensure", elGenesisTime(FIRST) + 60);
    if (ensure.code !== 0) throw new Error(`ensure failed:\n${ensure.stderr}`);
    node.startClients();
    await waitFor(() => allOnChain(node, FIRST), 60_000, "first chain");

    for (let c = 1; c <= CYCLES; c++) {
      const next = FIRST + c;
      const archive = sizedArchive(next);
      // Published two hours before its genesis; the first poll in the pre-stage window stages it.
      const publishedAt = Date.now();
      server.publish(next, archive);
      const stage = await node.run("run", elGenesisTime(next) - 2 * 3600);
      if (stage.code !== 0 || !/staged ephemery-/.test(stage.stderr)) throw new Error(`staging failed:\n${stage.stderr}`);
      staging.push((Date.now() - publishedAt) / 1000);

      const switchAt = Date.now();
      const run = await node.run("run", elGenesisTime(next));
      if (run.code !== 0) throw new Error(`switch failed:\n${run.stderr}`);
      checked.push((Date.now() - switchAt) / 1000);
      await waitFor(() => allOnChain(node, next), 60_000, `chain ${next}`);
      switching.push((Date.now() - switchAt) / 1000);
      process.stderr.write(`cycle ${c}: staged in ${staging[c - 1].toFixed(2)} s, switched in ${switching[c - 1].toFixed(2)} s\n`);
    }
  } finally {
    node.cleanup();
    await server.stop();
    if (startedDockerd) await stopDockerdIfStarted();
  }

  const poll = RESET_TIMING.pollIntervalSec;
  const worstSwitch = Math.max(...switching) + 60;
  console.log(`ephemery-reset benchmark (${RUNTIME} runtime, ${CYCLES} resets, genesis.ssz ${SSZ_MIB} MiB, stand-in clients)`);
  console.log(`switch moment -> all containers running on the new chain: ${stats(switching)}`);
  console.log(`  of which the reset program's run (stop, archive, wipe, swap, start, checks): ${stats(checked)}`);
  console.log(`release published -> staged (one run: download, verify, unpack): ${stats(staging)}`);
  console.log(`  with cron every minute and a ${poll} s poll in the pre-stage window: staged within ${poll + 60} s + ${Math.max(...staging).toFixed(2)} s of publication`);
  console.log(`goal: on the new chain before its first slot, ${GENESIS_DELAY_SEC} s after the switch moment;` +
    ` worst case here (cron fires up to 60 s late): ${worstSwitch.toFixed(2)} s -> ${worstSwitch < GENESIS_DELAY_SEC ? "met" : "NOT met"}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
