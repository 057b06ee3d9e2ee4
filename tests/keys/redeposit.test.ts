/** The pure parts of re-deposit: what to send, the record's checks, the release facts, metrics, the setting's rules. */
import * as fs from "fs";
import * as path from "path";
import { redepositSchema } from "../../lib/config/keys";
import { loadStackConfig } from "../../lib/config/load";
import { emptyRecord, metricsText, networkFacts, parseRecord, planRedeposit, readFundingKeyFile, RedepositRecord, writeAtomic } from "../../lib/keys/redeposit";
import { tempDir } from "./fixtures";

const pk = (c: string) => c.repeat(96);
const HASH = `0x${"ab".repeat(32)}`;

describe("planRedeposit", () => {
  const keys = [pk("a"), pk("b"), pk("c"), pk("d")];

  test("keys the chain knows are skipped, recorded ones are never signed again, the rest are sent", () => {
    const record: RedepositRecord = { ...emptyRecord(7), deposits: {
      [pk("b")]: { state: "intent", txHash: HASH, nonce: "3", from: `0x${"11".repeat(20)}`, raw: "0x02f8", at: 1 },
      [pk("c")]: { state: "included", txHash: HASH, block: 9, at: 2 },
    } };
    expect(planRedeposit(keys, record, new Set([pk("a")]), 64)).toEqual({ resume: [pk("b")], send: [pk("d")], overLimit: [] });
  });

  test("maxDeposits counts what this iteration already sent", () => {
    const record: RedepositRecord = { ...emptyRecord(7), deposits: { [pk("a")]: { state: "included", txHash: HASH, block: 1, at: 1 } } };
    expect(planRedeposit(keys, record, new Set(), 2)).toEqual({ resume: [], send: [pk("b")], overLimit: [pk("c"), pk("d")] });
  });
});

describe("parseRecord", () => {
  const good = { version: 1, iteration: 7, complete: false, deposits: { [pk("a")]: { state: "intent", txHash: HASH, nonce: "0", from: `0x${"11".repeat(20)}`, raw: "0x02aa", at: 1 } } };

  test("reads back what the program writes", () => {
    expect(parseRecord(JSON.stringify(good), 7)).toEqual(good);
  });

  test.each([
    ["another iteration's record", { ...good, iteration: 8 }],
    ["an entry without its raw transaction", { ...good, deposits: { [pk("a")]: { ...good.deposits[pk("a")], raw: undefined } } }],
    ["a bad pubkey", { ...good, deposits: { zz: good.deposits[pk("a")] } }],
    ["an unknown state", { ...good, deposits: { [pk("a")]: { state: "sent", txHash: HASH } } }],
  ])("refuses %s: a run must never guess that nothing was sent", (_what, r) => {
    expect(() => parseRecord(JSON.stringify(r), 7)).toThrow(/is not one this program wrote/);
  });
});

test("networkFacts reads the fork version, deposit contract and chain id from the release's config.yaml", () => {
  const yaml = "CONFIG_NAME: ephemery\nGENESIS_FORK_VERSION: 0x1000101b\nDEPOSIT_CHAIN_ID: 39438151\nDEPOSIT_CONTRACT_ADDRESS: 0x4242424242424242424242424242424242424242\n";
  expect(networkFacts(yaml)).toEqual({ forkVersion: "0x1000101b", depositContract: "0x4242424242424242424242424242424242424242", chainId: 39438151n });
  expect(() => networkFacts(yaml.replace(/DEPOSIT_CONTRACT_ADDRESS.*/, "DEPOSIT_CONTRACT_ADDRESS: 0x42"))).toThrow(/no DEPOSIT_CONTRACT_ADDRESS of 20 bytes/);
  expect(() => networkFacts(yaml.replace(/DEPOSIT_CHAIN_ID.*/, "DEPOSIT_CHAIN_ID: $(id)"))).toThrow(/DEPOSIT_CHAIN_ID/);
});

test("metrics count keys by state", () => {
  const record: RedepositRecord = { ...emptyRecord(7), complete: true, deposits: { [pk("a")]: { state: "included", txHash: HASH, block: 1, at: 1 } } };
  const text = metricsText({ iteration: 7, record, inChain: 3, toSend: 0, dryRun: false, ok: true, nowSec: 100 });
  expect(text).toMatch(/^ephemery_redeposit_keys\{state="included"\} 1$/m);
  expect(text).toMatch(/^ephemery_redeposit_keys\{state="in_chain"\} 3$/m);
  expect(text).toMatch(/^ephemery_redeposit_complete 1$/m);
  expect(text).toMatch(/^ephemery_redeposit_iteration 7$/m);
});

test("the funding key file must be the owner's alone and hold one key", () => {
  const dir = tempDir("ephemery-funding-");
  try {
    const file = path.join(dir, "k");
    writeAtomic(file, `0x${"5a".repeat(32)}\n`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(readFundingKeyFile(file).toString("hex")).toBe("5a".repeat(32));
    fs.chmodSync(file, 0o640);
    expect(() => readFundingKeyFile(file)).toThrow(/has mode 640; it must be 0600/);
    fs.chmodSync(file, 0o600);
    fs.writeFileSync(file, "not a key");
    expect(() => readFundingKeyFile(file)).toThrow(/does not hold a 32-byte hex private key/);
    expect(() => readFundingKeyFile(path.join(dir, "missing"))).toThrow(/depositFundingKeys/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe("hosts[].validator.redeposit", () => {
  const addr = `0x${"42".repeat(20)}`;
  test("is off by default", () => {
    expect(redepositSchema.parse({})).toMatchObject({ enabled: false, dryRun: false, amountGwei: 32_000_000_000, maxDeposits: 64 });
  });
  test.each([
    ["neither address nor credentials", { enabled: true }, /give exactly one of withdrawalAddress/],
    ["both", { enabled: true, withdrawalAddress: addr, withdrawalCredentials: `0x01${"00".repeat(11)}${"42".repeat(20)}` }, /give exactly one/],
    ["0x00 credentials", { enabled: true, withdrawalCredentials: `0x00${"11".repeat(31)}` }, /must start with 0x01 or 0x02/],
    ["0x01 with 1 ETH", { enabled: true, withdrawalAddress: addr, amountGwei: 1_000_000_000 }, /exactly 32000000000 gwei/],
  ])("refuses %s", (_what, value, message) => {
    const r = redepositSchema.safeParse(value);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(message);
  });
  test("0x02 credentials take other amounts", () => {
    expect(redepositSchema.safeParse({ enabled: true, withdrawalCredentials: `0x02${"00".repeat(11)}${"42".repeat(20)}`, amountGwei: 64_000_000_000 }).success).toBe(true);
  });
});

describe("ephemery:depositFundingKeys in the stack config", () => {
  const entries = (funding: unknown, secret = true) => new Map<string, { value: unknown; secret: boolean }>([
    ["ephemery:hosts", { value: [{ name: "v1", kind: "local", validator: { feeRecipient: `0x${"11".repeat(20)}` } }], secret: false }],
    ["ephemery:depositFundingKeys", { value: funding, secret }],
  ]);
  const problems = (e: ReturnType<typeof entries>) => { const r = loadStackConfig(e); return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`); };

  test("a plain-text funding key is refused with the command that stores it as a secret", () => {
    expect(problems(entries({ v1: `0x${"5a".repeat(32)}` }, false)).join("\n")).toMatch(/depositFundingKeys: is a secret but is stored in plain text; run: pulumi config set --secret/);
  });
  test("a malformed key is named without echoing it, and a key for no host is named", () => {
    const bad = "0xnot-a-key-but-a-secret-anyway";
    const text = problems(entries({ v1: bad, ghost: `0x${"5a".repeat(32)}` })).join("\n");
    expect(text).toMatch(/must be a 32-byte private key in hex/);
    expect(text).not.toContain("not-a-key-but-a-secret-anyway");
    expect(problems(entries({ ghost: `0x${"5a".repeat(32)}` })).join("\n")).toMatch(/depositFundingKeys\.ghost: names no host; hosts are v1/);
  });
});
