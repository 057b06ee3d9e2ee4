/**
 * Every client's data layout through a real switch: the program wipes chain data in the Docker volumes and keeps
 * exactly the node identity that shared/EPHEMERY.md lists, for all ten clients.
 */
import { chainIdOf, elGenesisTime } from "../../lib/ephemery";
import { CLIENT_LAYOUTS, ReleaseServer, TestNode } from "./harness";

jest.setTimeout(60_000);

const PAIRS: [string, string][] = [
  ["geth", "lighthouse"],
  ["nethermind", "teku"],
  ["besu", "prysm"],
  ["reth", "nimbus"],
  ["erigon", "lodestar"],
];

describe("wipe and keep for each client's layout", () => {
  const server = new ReleaseServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  test.each(PAIRS)("%s + %s", async (el, cl) => {
    const node = await TestNode.create(server, { execution: el, consensus: cl, validator: false });
    try {
      server.publish(150);
      expect((await node.run("ensure", elGenesisTime(150) + 60)).code).toBe(0);
      const seeded: Record<"execution" | "consensus", Record<string, string>> = { execution: {}, consensus: {} };
      for (const [role, client] of [["execution", el], ["consensus", cl]] as const) {
        const layout = CLIENT_LAYOUTS[client];
        seeded[role] = {
          [layout.identity]: `identity of ${client}`,
          [`${layout.chain}/000001.ldb`]: `chain ${chainIdOf(150)}`,
          [`${layout.chain}/LOCK`]: "",
        };
        node.seedVolume(role, seeded[role]);
      }
      server.publish(151);
      const r = await node.run("run", elGenesisTime(151));
      expect(r.code).toBe(0);
      expect(node.current()).toBe("releases/ephemery-151");
      for (const [role, client] of [["execution", el], ["consensus", cl]] as const) {
        const layout = CLIENT_LAYOUTS[client];
        expect([client, node.readVolume(role, layout.identity)]).toEqual([client, layout.identityKept ? `identity of ${client}` : undefined]);
        expect([client, node.readVolume(role, `${layout.chain}/000001.ldb`)]).toEqual([client, undefined]);
        expect([client, node.readVolume(role, `${layout.chain}/LOCK`)]).toEqual([client, undefined]);
      }
    } finally {
      node.cleanup();
    }
  });
});
