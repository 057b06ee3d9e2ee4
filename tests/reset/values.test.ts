/** The reset program's rendered values that are decisions, not copies: pure, no Docker. */
import { buildNodeSpecs } from "../../lib/clients";
import { hostSchema, networkSchema } from "../../lib/config/schema";
import { checkpointProviders, DOWNLOAD_LIMITS, lockWaitSec, RESET_TIMING, resetScriptValues } from "../../lib/reset/values";

const network = networkSchema.parse({ checkpointSyncUrls: ["https://net-a.example", "https://net-b.example"] });
const host = (consensus: Record<string, unknown> = {}) => hostSchema.parse({ name: "n1", kind: "local", consensus });

describe("checkpoint providers the reset program may choose from", () => {
  test("the host's own list wins over the network's", () => {
    expect(checkpointProviders(host({ checkpointSyncUrls: ["https://host.example"] }), network)).toEqual(["https://host.example"]);
  });
  test("an empty host list means genesis sync only, not the network's providers", () => {
    expect(checkpointProviders(host({ checkpointSyncUrls: [] }), network)).toEqual([]);
  });
  test("without a host list, the network's, in order", () => {
    expect(checkpointProviders(host(), network)).toEqual(["https://net-a.example", "https://net-b.example"]);
  });
  test("rendered as CHECKPOINT_URLS", () => {
    const h = host();
    const values = resetScriptValues(h, network, buildNodeSpecs({ node: "n1", host: h, checkpointSyncUrls: [] }));
    expect(values.CHECKPOINT_URLS).toEqual(["https://net-a.example", "https://net-b.example"]);
    expect(values.LOCK_WAIT_SEC).toBe(lockWaitSec(2));
  });
});

describe("how long ensure waits for the lock", () => {
  test("longer than a run can hold it: one query, one archive, the checks, two probes per provider", () => {
    const d = DOWNLOAD_LIMITS;
    for (const n of [0, 4, 10]) {
      expect(lockWaitSec(n)).toBeGreaterThan(d.apiMaxTimeSec + d.archiveMaxTimeSec + RESET_TIMING.checkTimeoutSec + 2 * n * d.probeMaxTimeSec);
    }
  });
  test("each extra provider adds its two bounded probes", () => {
    expect(lockWaitSec(5) - lockWaitSec(4)).toBe(2 * DOWNLOAD_LIMITS.probeMaxTimeSec);
  });
});
