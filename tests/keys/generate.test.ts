/**
 * Key generation against references written elsewhere: the EIP-2333 test vectors (from the EIP), the BIP-39 seed
 * of the EIP's mnemonic, and deposit data that ethdo (wealdtech/ethdo cmd/validator/depositdata tests) produced
 * for the interop keys 0 and 1; then `ephemery keys generate` end to end, checked by `ephemery keys validate`.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { checkMnemonic, deriveChildSecret, deriveMasterSecret, interopSecret, mnemonicToSeed, secretAtPath } from "../../lib/keys/derive";
import {
  checkAmount, DepositDataJson, executionCredentials, genesisForkVersionOf, makeDeposit, parseCredentials, verifyDeposit,
} from "../../lib/keys/deposit";
import { blsPublicKey } from "../../lib/keys/bls";
import { decryptKeystore, parseKeystore } from "../../lib/keys/keystore";
import { runCli } from "../support/cli";
import { tempDir } from "./fixtures";

const EIP2333_VECTORS: [string, string, number, string][] = [
  ["c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04",
    "6083874454709270928345386274498605044986640685124978867557563392430687146096", 0,
    "20397789859736650942317412262472558107875392172444076792671091975210932703118"],
  ["3141592653589793238462643383279502884197169399375105820974944592",
    "29757020647961307431480504535336562678282505419141012933316116377660817309383", 3141592653,
    "25457201688850691947727629385191704516744796114925897962676248250929345014287"],
  ["0099FF991111002299DD7744EE3355BBDD8844115566CC55663355668888CC00",
    "27580842291869792442942448775674722299803720648445448686099262467207037398656", 4294967295,
    "29358610794459428860402234341874281240803786294062035874021252734817515685787"],
  ["d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3",
    "19022158461524446591288038168518313374041767046816487870552872741050760015818", 42,
    "31372231650479070279774297061823572166496564838472787488249775572789064611981"],
];

const ABANDON = `${"abandon ".repeat(11)}about`;

describe("EIP-2333 / BIP-39 derivation", () => {
  test.each(EIP2333_VECTORS)("test vector with seed %s", (seed, master, index, child) => {
    const m = deriveMasterSecret(Buffer.from(seed, "hex"));
    expect(m.toString()).toBe(master);
    expect(deriveChildSecret(m, index).toString()).toBe(child);
  });

  test("the EIP's mnemonic with passphrase TREZOR gives the seed of test case 0", () => {
    expect(mnemonicToSeed(ABANDON, "TREZOR").toString("hex")).toBe(EIP2333_VECTORS[0][0]);
  });

  test("secretAtPath walks every path element from the master key", () => {
    const seed = Buffer.from(EIP2333_VECTORS[0][0], "hex");
    const byHand = [12381, 3600, 0, 0, 0].reduce((sk, i) => deriveChildSecret(sk, i), deriveMasterSecret(seed));
    expect(secretAtPath(seed, "m/12381/3600/0/0/0").toString("hex")).toBe(byHand.toString(16).padStart(64, "0"));
    expect(() => secretAtPath(seed, "m/12381/x")).toThrow(/path element "x"/);
  });

  test("mnemonics: wrong word count, unknown word and bad checksum are named", () => {
    expect(() => checkMnemonic("abandon abandon")).toThrow(/12, 15, 18, 21 or 24 words; this one has 2/);
    expect(() => checkMnemonic(ABANDON.replace("about", "aboot"))).toThrow(/word 12 is not one/);
    expect(() => checkMnemonic(`${"abandon ".repeat(12)}`.trim())).toThrow(/checksum does not match/);
    expect(checkMnemonic(`  ${ABANDON.toUpperCase()}\n`)).toBe(ABANDON);
  });
});

describe("deposits", () => {
  const ETHDO = [
    { i: 0, wc: "00fad2a6bfb0e7f1f0f45460944fbd8dfa7f37da06a4d13b3983cc90bb46963b",
      pubkey: "a99a76ed7796f7be22d5b7e85deeb7c5677e88e511e0b337618f8c4eb61349b4bf2d153f649f7b53359fe8b94a38e44c",
      signature: "b7a757a4c506ac6ac5f2d23e065de7d00dc9f5a6a3f9610a8b60b65f166379139ae382c91ecbbf5c9fabc34b1cd2cf8f0211488d50d8754716d8e72e17c1a00b5d9b37cc73767946790ebe66cf9669abfc5c25c67e1e2d1c2e11429d149c25a2",
      messageRoot: "139b510ea7f2788ab82da1f427d6cbe1db147c15a053db738ad5500cd83754a6",
      dataRoot: "9e51b386f4271c18149dd0f73297a26a4a8c15c3622c44af79c92446f44a3554" },
    { i: 1, wc: "00ec7ef7780c9d151597924036262dd28dc60e1228f4da6fecf9d402cb3f3594",
      pubkey: "b89bebc699769726a318c8e9971bd3171297c61aea4a6578a7a4f94b547dcba5bac16a89108b6b6a1fe3695d1a874a0b",
      signature: "911fe0766e8b79d711dde46bc2142eb51e35be99e5f7da505af9eaad85707bbb8013f0dea35e30403b3e57bb13054c1d0d389aceeba1d4160a148026212c7e017044e3ea69cd96fbd23b6aa9fd1e6f7e82494fbd5f8fc75856711a6b8998926e",
      messageRoot: "bb4b6184b25873cdf430df3838c8d3e3d16cf3dc3b214e2f3ab7df9e6d5a9b52",
      dataRoot: "3b51670e9f266d44c879682a230d60f0d534c64ab25ee68700fe3adb17ddfcab" },
  ];

  test.each(ETHDO)("interop key $i: the same pubkey, signature and roots as ethdo", (v) => {
    const sk = interopSecret(v.i);
    expect(blsPublicKey(sk).toString("hex")).toBe(v.pubkey);
    const d = makeDeposit(sk, Buffer.from(v.wc, "hex"), 32_000_000_000n, "0x01020304", "test");
    expect(d).toMatchObject({ pubkey: v.pubkey, withdrawal_credentials: v.wc, amount: 32_000_000_000, signature: v.signature,
      deposit_message_root: v.messageRoot, deposit_data_root: v.dataRoot, fork_version: "01020304" });
    expect(verifyDeposit(d, "0x01020304")).toEqual([]);
  });

  test("verifyDeposit catches a changed amount, a changed root and another network's fork version", () => {
    const d = makeDeposit(interopSecret(3), executionCredentials("0x02", `0x${"ab".repeat(20)}`), 64_000_000_000n, "0x1000101b", "ephemery");
    expect(verifyDeposit({ ...d, amount: 32_000_000_000 }, "0x1000101b")).toEqual([
      expect.stringMatching(/deposit_message_root does not match/),
      expect.stringMatching(/deposit_data_root does not match/),
      expect.stringMatching(/signature does not verify/),
    ]);
    expect(verifyDeposit({ ...d, deposit_data_root: "00".repeat(32) }, "0x1000101b")).toEqual([expect.stringMatching(/deposit_data_root does not match/)]);
    const other = verifyDeposit(d, "0x00000000");
    expect(other).toEqual([expect.stringMatching(/fork_version is 1000101b/), expect.stringMatching(/signature does not verify/)]);
  });

  test("credentials and amounts follow the deposit tools' rules", () => {
    const wc = executionCredentials("0x01", "0x" + "11".repeat(20));
    expect(wc.toString("hex")).toBe(`01${"00".repeat(11)}${"11".repeat(20)}`);
    expect(parseCredentials(`0x${wc.toString("hex")}`).kind).toBe("0x01");
    expect(() => parseCredentials(`0x00${"00".repeat(31)}`)).toThrow(/start with 0x01 or 0x02/);
    expect(() => parseCredentials(`0x01${"ff".repeat(31)}`)).toThrow(/11 zero bytes/);
    expect(() => executionCredentials("0x01", "0x1234")).toThrow(/40 hex characters/);
    expect(() => checkAmount("0x01", 64_000_000_000n)).toThrow(/exactly 32 ETH/);
    expect(() => checkAmount("0x02", 999_999_999n)).toThrow(/between 1 ETH and 2048 ETH/);
    expect(() => checkAmount("0x02", 2_048_000_000_001n)).toThrow(/between 1 ETH and 2048 ETH/);
    expect(() => checkAmount("0x02", 2_048_000_000_000n)).not.toThrow();
  });

  test("GENESIS_FORK_VERSION is read from a config.yaml as data", () => {
    expect(genesisForkVersionOf("PRESET_BASE: mainnet\nGENESIS_FORK_VERSION: 0x1000101B # ephemery\n")).toBe("0x1000101b");
    expect(genesisForkVersionOf("GENESIS_FORK_VERSION: '0x10001020'\n")).toBe("0x10001020");
    expect(() => genesisForkVersionOf("GENESIS_FORK_VERSION: $(touch /tmp/x)\n")).toThrow(/no GENESIS_FORK_VERSION line/);
  });
});

describe("ephemery keys generate", () => {
  let work: string;
  beforeAll(() => {
    work = tempDir("ephemery-keys-generate-");
    fs.writeFileSync(path.join(work, "mnemonic.txt"), `${ABANDON}\n`);
    fs.writeFileSync(path.join(work, "password.txt"), "correct horse battery\n");
    fs.writeFileSync(path.join(work, "config.yaml"), "CONFIG_NAME: testnet\nGENESIS_FORK_VERSION: 0x1000101b\n");
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  const base = (out: string) => ["keys", "generate", "--mnemonic-file", path.join(work, "mnemonic.txt"), "--password-file", path.join(work, "password.txt"),
    "--network-config", path.join(work, "config.yaml"), "--out", path.join(work, out)];

  test("writes keystores, deposit data and genesis lines that the project's own checks accept", async () => {
    const address = `0x${"5a".repeat(20)}`;
    const r = await runCli([...base("keys-a"), "--count", "2", "--start-index", "3", "--kdf", "pbkdf2", "--withdrawal-address", address, "--compounding",
      "--amount-gwei", "64000000000", "--genesis-name", "me-node1", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    const dir = path.join(work, "keys-a");
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const files = fs.readdirSync(dir).sort();
    expect(files.filter((f) => f.startsWith("keystore-"))).toEqual([expect.stringMatching(/^keystore-m_12381_3600_3_0_0-\d+\.json$/), expect.stringMatching(/^keystore-m_12381_3600_4_0_0-\d+\.json$/)]);

    // Each keystore decrypts with the password to the key at its EIP-2334 path of the mnemonic's seed.
    const seed = mnemonicToSeed(ABANDON);
    for (const [n, file] of result.keystoreFiles.entries()) {
      expect(fs.statSync(path.join(dir, file)).mode & 0o777).toBe(0o600);
      const parsed = parseKeystore(fs.readFileSync(path.join(dir, file), "utf8"));
      expect(parsed.keystore.path).toBe(`m/12381/3600/${3 + n}/0/0`);
      expect(parsed.kdf).toBe("pbkdf2");
      expect(decryptKeystore(parsed.keystore, "correct horse battery")).toEqual(secretAtPath(seed, `m/12381/3600/${3 + n}/0/0`));
    }

    const deposits: DepositDataJson[] = JSON.parse(fs.readFileSync(path.join(dir, result.depositDataFile), "utf8"));
    expect(deposits.map((d) => d.pubkey)).toEqual(result.pubkeys);
    for (const d of deposits) {
      expect(Object.keys(d)).toEqual(["pubkey", "withdrawal_credentials", "amount", "signature", "deposit_message_root", "deposit_data_root", "fork_version", "network_name", "deposit_cli_version"]);
      expect(d.withdrawal_credentials).toBe(`02${"00".repeat(11)}${"5a".repeat(20)}`);
      expect(d.amount).toBe(64_000_000_000);
      expect(verifyDeposit(d, "0x1000101b")).toEqual([]);
    }
    expect(fs.readFileSync(path.join(dir, "me-node1.txt"), "utf8").split("\n").filter((l) => !l.startsWith("#") && l)).toEqual(
      deposits.map((d) => `0x${d.pubkey}:0x02${"00".repeat(11)}${"5a".repeat(20)}:64000000000`));

    const check = await runCli(["keys", "validate", dir, "--password-file", path.join(work, "password.txt"), "--expected-count", "2", "--json"]);
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: true, count: 2 });
  });

  test("scrypt keystores with the reference parameters (n=2^18, r=8, p=1) by default", async () => {
    const r = await runCli([...base("keys-scrypt"), "--count", "1", "--withdrawal-address", `0x${"01".repeat(20)}`, "--json"]);
    expect(r.code).toBe(0);
    const [file] = JSON.parse(r.stdout).keystoreFiles;
    const ks = JSON.parse(fs.readFileSync(path.join(work, "keys-scrypt", file), "utf8"));
    expect(ks.crypto.kdf).toMatchObject({ function: "scrypt", params: { n: 262144, r: 8, p: 1, dklen: 32 } });
  });

  test("never writes over an existing key directory, and a refused run leaves nothing behind", async () => {
    const dir = path.join(work, "keys-busy");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "keystore-old.json"), "{}");
    const r = await runCli([...base("keys-busy"), "--count", "1", "--kdf", "pbkdf2", "--withdrawal-address", `0x${"01".repeat(20)}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already exists and is not an empty directory: keys are never written over/);
    expect(fs.readdirSync(dir)).toEqual(["keystore-old.json"]);

    const bad = await runCli([...base("keys-bad"), "--count", "1", "--kdf", "pbkdf2", "--withdrawal-address", `0x${"01".repeat(20)}`, "--amount-gwei", "1"]);
    expect(bad.stderr).toMatch(/exactly 32 ETH/);
    expect(fs.readdirSync(work).filter((f) => f.includes("keys-bad"))).toEqual([]);
  });

  test("--new-mnemonic prints the words once, on stderr, and the keys come from them", async () => {
    const r = await runCli(["keys", "generate", "--new-mnemonic", "--count", "1", "--kdf", "pbkdf2", "--password-file", path.join(work, "password.txt"),
      "--fork-version", "0x1000101b", "--withdrawal-address", `0x${"01".repeat(20)}`, "--out", path.join(work, "keys-new"), "--json"]);
    expect(r.code).toBe(0);
    const words = /NEW MNEMONIC[^\n]*\n[^\n]*\n\n {2}([a-z ]+)\n/.exec(r.stderr)?.[1];
    expect(words?.split(" ")).toHaveLength(24);
    expect(r.stdout).not.toContain(words!);
    const expected = blsPublicKey(secretAtPath(mnemonicToSeed(words!), "m/12381/3600/0/0/0")).toString("hex");
    expect(JSON.parse(r.stdout).pubkeys).toEqual([expected]);
  });

  test("usage mistakes are named", async () => {
    const noFork = await runCli(["keys", "generate", "--new-mnemonic", "--count", "1", "--password-file", "p", "--withdrawal-address", "0x00", "--out", "x"]);
    expect(noFork.code).toBe(2);
    expect(noFork.stderr).toMatch(/give one of --network-config config.yaml .* or --fork-version/);
    const both = await runCli([...base("k"), "--new-mnemonic", "--count", "1", "--withdrawal-address", "0x00"]);
    expect(both.stderr).toMatch(/give one of --mnemonic-file F .* or --new-mnemonic/);
  });
});
