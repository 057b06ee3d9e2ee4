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
export function iterationAt(t: number): number {
  assertWholeSeconds(t, "time");
  if (t < BASE_TIME) throw new Error(`time ${t} is before Ephemery's schedule began (${BASE_TIME})`);
  return Math.floor((t - BASE_TIME) / PERIOD_SEC);
}

export function chainIdOf(iteration: number): number {
  assertIteration(iteration);
  return CHAIN_ID_BASE + iteration;
}

export function iterationOfChainId(chainId: number): number {
  const i = chainId - CHAIN_ID_BASE;
  if (!Number.isSafeInteger(chainId) || i < 0) throw new Error(`chain id ${chainId} is not an Ephemery chain id`);
  return i;
}

export function elGenesisTime(iteration: number): number {
  assertIteration(iteration);
  return BASE_TIME + iteration * PERIOD_SEC;
}

export function clGenesisTime(iteration: number): number {
  return elGenesisTime(iteration) + GENESIS_DELAY_SEC;
}

/** The moment the next iteration's EL genesis happens: when a node must switch. */
export function nextResetTime(iteration: number): number {
  return elGenesisTime(iteration + 1);
}

export function iterationInfo(iteration: number): IterationInfo {
  return {
    iteration,
    chainId: chainIdOf(iteration),
    elGenesisTime: elGenesisTime(iteration),
    clGenesisTime: clGenesisTime(iteration),
    nextResetTime: nextResetTime(iteration),
  };
}

export function networkAt(t: number): IterationInfo {
  return iterationInfo(iterationAt(t));
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
