/**
 * Moving a key between hosts in one update, under mocks: the old host's release (client stopped, slashing
 * protection exported) feeds the new host's install, which imports only the moved keys' records and waits
 * moveWaitEpochs before the client may sign.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { hostPaths } from "../../lib/clients/types";
import { buildNodeSpecs } from "../../lib/clients";
import { hostSchema } from "../../lib/config/schema";
import { readArchive } from "../../lib/keys/archive";
import { makeKeys, TestKey, tempDir, writeKeyDir } from "./fixtures";

const GVR = `0x${"ab".repeat(32)}`;
let keys: TestKey[];
let work: string;
const registered: { type: string; name: string; inputs: Record<string, any> }[] = [];
const releaseOut = (records: string[]) => `released ${records.length}\n-----BEGIN SLASHING PROTECTION-----\n${JSON.stringify({
  metadata: { interchange_format_version: "5", genesis_validators_root: GVR },
  data: records.map((pk, i) => ({ pubkey: `0x${pk}`, signed_blocks: [{ slot: String(100 + i) }], signed_attestations: [] })),
})}\n-----END SLASHING PROTECTION-----\n`;

beforeAll(async () => {
  keys = await makeKeys(2, { kdf: "pbkdf2" });
  work = tempDir("ephemery-move-");
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        // alpha gives up keys[0]; its export also holds a key that stays nowhere near beta (keys[1]).
        const stdout = args.name === "alpha-keys-release" ? releaseOut([keys[0].pubkey, keys[1].pubkey]) : "";
        return { id: `${args.name}-id`, state: { ...args.inputs, stdout, stderr: "" } };
      },
      call(args) {
        throw new Error(`unexpected provider function in test: ${args.token}`);
      },
    },
    "ephemery", "move", false,
  );
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test("the new host's install waits for the old host's release, imports only the moved keys, and waits 2 epochs", async () => {
  const { ValidatorKeys } = await import("../../components/validatorKeys");
  const dirB = writeKeyDir([keys[0]], path.join(work, "b"));
  const nodes = [
    hostSchema.parse({ name: "alpha", kind: "local", dataDir: path.join(work, "hosts"), validator: { feeRecipient: `0x${"11".repeat(20)}`, keys: {} } }),
    hostSchema.parse({ name: "beta", kind: "local", dataDir: path.join(work, "hosts"), validator: { feeRecipient: `0x${"11".repeat(20)}`, keys: { path: dirB, moveWaitEpochs: 2 } } }),
  ];
  const built = nodes.map((cfg) => {
    const host = { connection: { kind: "local" }, paths: hostPaths(cfg.dataDir, cfg.name) } as unknown as import("../../components/host").Host;
    const spec = buildNodeSpecs({ node: cfg.name, host: cfg, checkpointSyncUrls: [] }).validator!;
    return new ValidatorKeys(`${cfg.name}-keys`, { host, config: cfg, spec, validatorClient: "lighthouse", passwords: keys[0].password, threads: 1 });
  });
  expect(built.map((b) => b.pubkeys)).toEqual([[], [keys[0].pubkey]]);
  await new Promise<void>((resolve) => built[1].installed.urn.apply(() => resolve()));

  const order = registered.map((r) => r.name);
  expect(order.indexOf("beta-keys-install")).toBeGreaterThan(order.indexOf("alpha-keys-release"));
  const alphaRelease = registered.find((r) => r.name === "alpha-keys-release")!;
  expect(alphaRelease.inputs.stdin).toBe("\n"); // alpha keeps no key
  const install = registered.find((r) => r.name === "beta-keys-install")!;
  expect(install.inputs.create).toMatch(/^KEYS_MOVE_WAIT_SEC=768 '.*\/beta\/bin\/ephemery-keys' install$/);
  const stdin = (install.inputs.stdin as { value?: string }).value ?? (install.inputs.stdin as unknown as string);
  const files = readArchive(Buffer.from(stdin, "base64"), "tar");
  const interchange = JSON.parse(files.find((f) => f.name === "slashing-protection.json")!.data.toString());
  expect(interchange).toEqual({
    metadata: { interchange_format_version: "5", genesis_validators_root: GVR },
    data: [{ pubkey: `0x${keys[0].pubkey}`, signed_blocks: [{ slot: "100" }], signed_attestations: [] }],
  });
  // alpha receives nothing back: its install carries no interchange and no wait.
  const alphaInstall = registered.find((r) => r.name === "alpha-keys-install")!;
  expect(alphaInstall.inputs.create).toMatch(/^KEYS_MOVE_WAIT_SEC=0 /);
});
