import {
  chainIdOf, clGenesisTime, elGenesisTime, iterationAt, iterationOfTag, networkAt, nextResetTime,
  PERIOD_SEC, releaseTag, DEFAULT_SCHEDULE, iterationOfChainId,
} from "../../lib/ephemery";
import { networkSchema } from "../../lib/config/schema";

// Known points from the release history (shared/EPHEMERY.md).
const known = [
  { iteration: 135, chainId: 39438135, el: 1720119600, cl: 1720120200 },
  { iteration: 140, chainId: 39438140, el: 1732215600, cl: 1732216200 },
  { iteration: 150, chainId: 39438150, el: 1756407600, cl: 1756408200 },
];

describe("Ephemery arithmetic", () => {
  test.each(known)("iteration $iteration matches the published release", ({ iteration, chainId, el, cl }) => {
    expect(chainIdOf(iteration)).toBe(chainId);
    expect(elGenesisTime(iteration)).toBe(el);
    expect(clGenesisTime(iteration)).toBe(cl);
    expect(iterationAt(el)).toBe(iteration);
    expect(iterationAt(el - 1)).toBe(iteration - 1);
    expect(nextResetTime(iteration)).toBe(el + PERIOD_SEC);
  });

  test("every genesis since 135 falls on a Thursday at 19:00 UTC", () => {
    for (let i = 135; i < 200; i++) {
      const d = new Date(elGenesisTime(i) * 1000);
      expect([d.getUTCDay(), d.getUTCHours(), d.getUTCMinutes()]).toEqual([4, 19, 0]);
    }
  });

  test("networkAt is consistent within an iteration", () => {
    const mid = elGenesisTime(160) + 12345;
    expect(networkAt(mid)).toEqual({
      iteration: 160, chainId: 39438160, elGenesisTime: elGenesisTime(160),
      clGenesisTime: elGenesisTime(160) + 600, nextResetTime: elGenesisTime(161),
    });
  });

  test("a configured schedule moves every figure; the default stays today's", () => {
    const s = { baseTime: 1_000_000_000, periodSec: 14 * 86400, genesisDelaySec: 300, chainIdBase: 7_000 };
    expect(networkAt(1_000_000_000 + 3 * 14 * 86400 + 5, s)).toEqual({
      iteration: 3, chainId: 7_003, elGenesisTime: 1_000_000_000 + 3 * 14 * 86400,
      clGenesisTime: 1_000_000_000 + 3 * 14 * 86400 + 300, nextResetTime: 1_000_000_000 + 4 * 14 * 86400,
    });
    expect(iterationOfChainId(7_003, s)).toBe(3);
    expect(networkAt(1756407600)).toMatchObject({ iteration: 150, chainId: 39438150 });
    expect(networkSchema.parse({}).schedule).toEqual(DEFAULT_SCHEDULE);
    expect(() => networkSchema.parse({ schedule: { periodSec: 59 } })).toThrow(); // a minute is the floor (test networks)
    expect(networkSchema.parse({ schedule: { periodSec: 600 } }).schedule.periodSec).toBe(600);
  });

  test("rejects milliseconds and times before the schedule", () => {
    expect(() => iterationAt(Date.now())).toThrow(/milliseconds/);
    expect(() => iterationAt(1000)).toThrow(/before Ephemery/);
  });

  test("release tags round-trip and bad tags are named", () => {
    expect(releaseTag(171)).toBe("ephemery-171");
    expect(iterationOfTag("ephemery-171")).toBe(171);
    expect(() => iterationOfTag("v1.2")).toThrow(/"v1.2"/);
  });
});
