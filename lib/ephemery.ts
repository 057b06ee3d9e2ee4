/**
 * Ephemery's schedule in closed form (valid since iteration 135, July 2024).
 * All times are unix seconds, UTC. Pure: no I/O, no Pulumi.
 */

/** One iteration lasts 28 days. */
export const PERIOD_SEC = 2_419_200;
/** "Genesis zero": the EL genesis of iteration 0 if the schedule had always held. */
export const BASE_TIME = 1_393_527_600;
/** The CL genesis follows the EL genesis by GENESIS_DELAY. */
export const GENESIS_DELAY_SEC = 600;
export const CHAIN_ID_BASE = 39_438_000;
/** The first iteration that follows the closed form. */
export const FIRST_SCHEDULED_ITERATION = 135;
export const SECONDS_PER_SLOT = 12;
export const SLOTS_PER_EPOCH = 32;
export const SECONDS_PER_EPOCH = SECONDS_PER_SLOT * SLOTS_PER_EPOCH;

/** The schedule a network follows; `ephemery:network.schedule` overrides it, these are today's values. */
export interface EphemerySchedule {
  baseTime: number;
  periodSec: number;
  genesisDelaySec: number;
  chainIdBase: number;
}

export const DEFAULT_SCHEDULE: EphemerySchedule = Object.freeze({
  baseTime: BASE_TIME,
  periodSec: PERIOD_SEC,
  genesisDelaySec: GENESIS_DELAY_SEC,
  chainIdBase: CHAIN_ID_BASE,
});

export interface IterationInfo {
  iteration: number;
  chainId: number;
  elGenesisTime: number;
  clGenesisTime: number;
  nextResetTime: number;
}

function assertWholeSeconds(t: number, what: string): void {
  if (!Number.isSafeInteger(t) || t < 0) {
    throw new Error(`${what} must be a whole number of unix seconds, got ${t}`);
  }
  // Milliseconds passed by mistake would land thousands of years ahead.
  if (t > 1e11) {
    throw new Error(`${what} looks like milliseconds (${t}); pass unix seconds`);
  }
}

/** The iteration running at time `t` (an iteration starts at its EL genesis). */
export function iterationAt(t: number, s: EphemerySchedule = DEFAULT_SCHEDULE): number {
  assertWholeSeconds(t, "time");
  if (t < s.baseTime) throw new Error(`time ${t} is before Ephemery's schedule began (${s.baseTime})`);
  return Math.floor((t - s.baseTime) / s.periodSec);
}

export function chainIdOf(iteration: number, s: EphemerySchedule = DEFAULT_SCHEDULE): number {
  assertIteration(iteration);
  return s.chainIdBase + iteration;
}

export function iterationOfChainId(chainId: number, s: EphemerySchedule = DEFAULT_SCHEDULE): number {
  const i = chainId - s.chainIdBase;
  if (!Number.isSafeInteger(chainId) || i < 0) throw new Error(`chain id ${chainId} is not an Ephemery chain id`);
  return i;
}

export function elGenesisTime(iteration: number, s: EphemerySchedule = DEFAULT_SCHEDULE): number {
  assertIteration(iteration);
  return s.baseTime + iteration * s.periodSec;
}

export function clGenesisTime(iteration: number, s: EphemerySchedule = DEFAULT_SCHEDULE): number {
  return elGenesisTime(iteration, s) + s.genesisDelaySec;
}

/** The moment the next iteration's EL genesis happens: when a node must switch. */
export function nextResetTime(iteration: number, s: EphemerySchedule = DEFAULT_SCHEDULE): number {
  return elGenesisTime(iteration + 1, s);
}

export function iterationInfo(iteration: number, s: EphemerySchedule = DEFAULT_SCHEDULE): IterationInfo {
  return {
    iteration,
    chainId: chainIdOf(iteration, s),
    elGenesisTime: elGenesisTime(iteration, s),
    clGenesisTime: clGenesisTime(iteration, s),
    nextResetTime: nextResetTime(iteration, s),
  };
}

export function networkAt(t: number, s: EphemerySchedule = DEFAULT_SCHEDULE): IterationInfo {
  return iterationInfo(iterationAt(t, s), s);
}

/** The release tag for an iteration, as published in ephemery-testnet/ephemery-genesis. */
export function releaseTag(iteration: number): string {
  assertIteration(iteration);
  return `ephemery-${iteration}`;
}

/** Parses `ephemery-<n>`; throws with the tag named when it is anything else. */
export function iterationOfTag(tag: string): number {
  const m = /^ephemery-(\d{1,6})$/.exec(tag.trim());
  if (!m) throw new Error(`release tag "${tag}" is not of the form ephemery-<iteration>`);
  return Number(m[1]);
}

function assertIteration(iteration: number): void {
  if (!Number.isSafeInteger(iteration) || iteration < 0) {
    throw new Error(`iteration must be a non-negative whole number, got ${iteration}`);
  }
}
