/**
 * The program ranks checkpoint providers before building nodes: run index.ts under mocks with the probe on,
 * against real beacon-like servers on loopback, and read the list each node was built with.
 */
import { clGenesisTime, iterationAt } from "../../lib/ephemery";
import { RecordedResource as Recorded, runProgram } from "../support/mocks";
import { beaconServer, closedPort, TestServer } from "./fakeNode";

async function runIndex(config: Record<string, unknown>, probeCheckpoints = true): Promise<{ resources: Recorded[]; hosts: unknown }> {
  const { resources, outputs } = await runProgram(config, { stack: "ops", probeCheckpoints });
  return { resources, hosts: outputs.hosts };
}

describe("deploy-time checkpoint ranking in index.ts", () => {
  const genesis = clGenesisTime(iterationAt(Math.floor(Date.now() / 1000)));
  let good: TestServer;
  let otherChain: TestServer;
  let down: string;

  beforeAll(async () => {
    good = await beaconServer({ genesisTime: genesis, finalizedSlot: 640 });
    otherChain = await beaconServer({ genesisTime: genesis - 2_419_200, finalizedSlot: 640 });
    down = `http://127.0.0.1:${await closedPort()}`;
  });
  afterAll(async () => {
    await Promise.all([good.close(), otherChain.close()]);
  });

  const host = (name: string, extra: Record<string, unknown> = {}) => ({ name, kind: "local", runtime: "compose", dataDir: `/tmp/ephemery-ops-${name}`, ...extra });
  const nodeInputs = (resources: Recorded[], name: string) =>
    resources.find((r) => r.type === "ephemery:node:EphemeryNode" && r.name === name)!.inputs;

  it("builds each node with the qualified providers only, and genesis sync where none qualifies", async () => {
    const { resources, hosts } = await runIndex({
      "ephemery:network": { checkpointSyncUrls: [otherChain.url, good.url, down] },
      "ephemery:hosts": [host("node1")],
    });
    expect(nodeInputs(resources, "node1").checkpointSyncUrls).toEqual([good.url]);
    expect(hosts).toEqual([expect.objectContaining({ name: "node1" })]);
    expect(good.requests).toContain("GET /eth/v1/beacon/genesis");

    const fallback = await runIndex({
      "ephemery:network": { checkpointSyncUrls: [otherChain.url, down], genesisSyncFallback: true },
      "ephemery:hosts": [host("node2")],
    });
    expect(nodeInputs(fallback.resources, "node2").checkpointSyncUrls).toEqual([]);
  });

  it("keeps the configured list when genesis sync fallback is off", async () => {
    const { resources } = await runIndex({
      "ephemery:network": { checkpointSyncUrls: [otherChain.url, down], genesisSyncFallback: false },
      "ephemery:hosts": [host("node3")],
    });
    expect(nodeInputs(resources, "node3").checkpointSyncUrls).toEqual([otherChain.url, down]);
  });

  it("does not probe when EPHEMERY_SKIP_CHECKPOINT_PROBE=1", async () => {
    const before = otherChain.requests.length;
    const { resources } = await runIndex({
      "ephemery:network": { checkpointSyncUrls: [otherChain.url] },
      "ephemery:hosts": [host("node4")],
    }, false);
    expect(process.env.EPHEMERY_SKIP_CHECKPOINT_PROBE).toBe("1");
    expect(nodeInputs(resources, "node4").checkpointSyncUrls).toEqual([otherChain.url]);
    expect(otherChain.requests.length).toBe(before);
  });
});
