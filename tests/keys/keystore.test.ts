import { decryptKeystore, KDF_LIMITS, parseKeystore, passwordBytes } from "../../lib/keys/keystore";
import { checkPasswords } from "../../lib/keys/passwords";
import { scanSource, validateFiles } from "../../lib/keys/validate";
import { makeKeys } from "./fixtures";

// EIP-2335's own test vectors (https://eips.ethereum.org/EIPS/eip-2335#test-cases).
const SPEC_PASSWORD = "\u{1d531}\u{1d522}\u{1d530}\u{1d531}\u{1d52d}\u{1d51e}\u{1d530}\u{1d530}\u{1d534}\u{1d52c}\u{1d52f}\u{1d521}\u{1f511}";
const SPEC_SECRET = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
const SPEC_PUBKEY = "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07";
const SALT = "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3";
const IV = "264daa3f303d7259501c93d997d84fe6";
const SPEC_VECTORS = {
  scrypt: {
    crypto: {
      kdf: { function: "scrypt", params: { dklen: 32, n: 262144, p: 1, r: 8, salt: SALT }, message: "" },
      checksum: { function: "sha256", params: {}, message: "d2217fe5f3e9a1e34581ef8a78f7c9928e436d36dacc5e846690a5581e8ea484" },
      cipher: { function: "aes-128-ctr", params: { iv: IV }, message: "06ae90d55fe0a6e9c5c3bc5b170827b2e5cce3929ed3f116c2811e6366dfe20f" },
    },
    description: "This is a test keystore that uses scrypt to secure the secret.",
    pubkey: SPEC_PUBKEY,
    path: "m/12381/60/3141592653/589793238",
    uuid: "1d85ae20-35c5-4611-98e8-aa14a633906f",
    version: 4,
  },
  pbkdf2: {
    crypto: {
      kdf: { function: "pbkdf2", params: { dklen: 32, c: 262144, prf: "hmac-sha256", salt: SALT }, message: "" },
      checksum: { function: "sha256", params: {}, message: "8a9f5d9912ed7e75ea794bc5a89bca5f193721d30868ade6f73043c6ea6febf1" },
      cipher: { function: "aes-128-ctr", params: { iv: IV }, message: "cee03fde2af33149775b7223e7845e4fb2c8ae1792e5f99fe9ecf474cc8c16ad" },
    },
    description: "This is a test keystore that uses PBKDF2 to secure the secret.",
    pubkey: SPEC_PUBKEY,
    path: "m/12381/60/0/0",
    uuid: "64625def-3331-4eea-ab6f-782f3ed16a83",
    version: 4,
  },
};

describe("EIP-2335 password processing", () => {
  test("the spec's Unicode password normalises to its listed bytes", () => {
    expect(passwordBytes(SPEC_PASSWORD).toString("hex")).toBe("7465737470617373776f7264f09f9491");
  });
  test("control characters (C0, DEL, C1) are stripped", () => {
    expect(passwordBytes("pa\u0000ss\u007f\u0085word\n").toString("utf8")).toBe("password");
  });
});

describe.each(Object.entries(SPEC_VECTORS))("EIP-2335 %s test vector", (kdf, vector) => {
  const text = JSON.stringify(vector);
  test("parses and decrypts to the spec's secret", () => {
    const parsed = parseKeystore(text);
    expect(parsed.kdf).toBe(kdf);
    expect(parsed.pubkey).toBe(SPEC_PUBKEY);
    expect(decryptKeystore(parsed.keystore, SPEC_PASSWORD)?.toString("hex")).toBe(SPEC_SECRET);
  });
  // A wrong password costs a full scrypt run at n=2^18: the pbkdf2 vector and the generated keys cover it.
  if (kdf === "pbkdf2") test("a wrong password does not decrypt", () => {
    expect(decryptKeystore(parseKeystore(text).keystore, "testpassword")).toBeUndefined();
  });
  test("the worker check derives the spec's public key from the secret", async () => {
    const [r] = await checkPasswords([{ id: 7, keystore: parseKeystore(text).keystore, password: SPEC_PASSWORD }], { threads: 1 });
    expect(r).toEqual({ id: 7, passwordOk: true, derivedPubkey: SPEC_PUBKEY });
  });
});

describe("structural checks name what is wrong", () => {
  const base = SPEC_VECTORS.pbkdf2;
  const variant = (change: (v: any) => void) => {
    const v = JSON.parse(JSON.stringify(base));
    change(v);
    return JSON.stringify(v);
  };
  test.each([
    ["version 3", (v: any) => { v.version = 3; }, /version 3.*version 4/],
    ["an unsupported kdf", (v: any) => { v.crypto.kdf.function = "argon2"; }, /kdf "argon2"; supported: scrypt, pbkdf2/],
    ["another cipher", (v: any) => { v.crypto.cipher.function = "aes-256-gcm"; }, /cipher function must be "aes-128-ctr"/],
    ["another checksum", (v: any) => { v.crypto.checksum.function = "sha512"; }, /checksum function must be "sha256"/],
    ["a short pubkey", (v: any) => { v.pubkey = "9612d7"; }, /pubkey "9612d7"; it must be 48 bytes/],
    ["a non-power-of-2 scrypt n", (v: any) => { v.crypto.kdf = { function: "scrypt", params: { dklen: 32, n: 1000, r: 8, p: 1, salt: SALT }, message: "" }; }, /crypto\.kdf\.params\.n must be a power of 2/],
    ["a bad iv", (v: any) => { v.crypto.cipher.params.iv = "zz"; }, /crypto.cipher.params.iv must be 16 bytes of hex/],
  ])("%s", (_label, change, message) => {
    expect(() => parseKeystore(variant(change))).toThrow(message);
  });
  test("not JSON", () => expect(() => parseKeystore("{")).toThrow(/is not valid JSON/));
  test("a 0x-prefixed upper-case pubkey is normalised", () => {
    expect(parseKeystore(variant((v) => { v.pubkey = `0x${SPEC_PUBKEY.toUpperCase()}`; })).pubkey).toBe(SPEC_PUBKEY);
  });
});

describe("KDF parameters are bounded to what real tools write, with the limit named", () => {
  const withKdf = (kdf: Record<string, unknown>) => JSON.stringify({ ...SPEC_VECTORS.pbkdf2, crypto: { ...SPEC_VECTORS.pbkdf2.crypto, kdf: { message: "", ...kdf } } });
  const scrypt = (params: Record<string, unknown>) => withKdf({ function: "scrypt", params: { dklen: 32, n: 262144, r: 8, p: 1, salt: SALT, ...params } });
  const pbkdf2 = (params: Record<string, unknown>) => withKdf({ function: "pbkdf2", params: { dklen: 32, c: 262144, prf: "hmac-sha256", salt: SALT, ...params } });
  test.each([
    // n=2^20 r=24 took 3.2 GB and 49 s before the bound.
    ["scrypt n=2^20 r=24 (3 GiB)", scrypt({ n: 2 ** 20, r: 24 }), /needs 3221225472 bytes of memory \(128\*n\*r\), over the limit of 1073741824/],
    ["scrypt p=2^20-1 (weeks of CPU)", scrypt({ p: 2 ** 20 - 1 }), /crypto\.kdf\.params\.p must be an integer from 1 to 16, got 1048575/],
    ["scrypt n*r*p over the work limit", scrypt({ n: 2 ** 18, r: 8, p: 16 }), /costs n\*r\*p=33554432, over the limit of 8388608/],
    ["scrypt n=2^21", scrypt({ n: 2 ** 21 }), /params\.n must be an integer from 2 to 1048576, got 2097152/],
    ["scrypt r=64", scrypt({ r: 64 }), /params\.r must be an integer from 1 to 32, got 64/],
    ["scrypt r as a string", scrypt({ r: "8" }), /params\.r must be an integer from 1 to 32, got "8"/],
    ["scrypt dklen 64", scrypt({ dklen: 64 }), /crypto\.kdf\.params\.dklen must be 32, got 64/],
    ["pbkdf2 c=2^24", pbkdf2({ c: 2 ** 24 }), /crypto\.kdf\.params\.c must be an integer from 1 to 1048576, got 16777216/],
    ["pbkdf2 c=0", pbkdf2({ c: 0 }), /params\.c must be an integer from 1 to 1048576, got 0/],
    ["pbkdf2 prf hmac-sha512", pbkdf2({ prf: "hmac-sha512" }), /prf must be "hmac-sha256"/],
    ["an empty salt", pbkdf2({ salt: "" }), /salt must be 16 to 64 bytes of hex, got ""/],
    ["a 1 MiB salt", pbkdf2({ salt: "ab".repeat(512 * 1024) }), /salt must be 16 to 64 bytes of hex, got 1048576 characters/],
    ["an unknown kdf parameter", scrypt({ maxmem: 1 }), /crypto\.kdf\.params has unknown field\(s\) "maxmem"/],
    ["no kdf params", withKdf({ function: "scrypt" }), /no "crypto\.kdf\.params" object/],
  ])("%s is refused", (_label, text, message) => {
    expect(() => parseKeystore(text)).toThrow(message);
  });
  test("an unknown cipher parameter and a short iv are refused", () => {
    const v = JSON.parse(JSON.stringify(SPEC_VECTORS.pbkdf2));
    v.crypto.cipher.params.counter = 1;
    expect(() => parseKeystore(JSON.stringify(v))).toThrow(/crypto\.cipher\.params has unknown field\(s\) "counter"; allowed: iv/);
    v.crypto.cipher.params = { iv: "00".repeat(8) };
    expect(() => parseKeystore(JSON.stringify(v))).toThrow(/crypto\.cipher\.params\.iv must be 16 bytes of hex/);
  });
  test("the deposit CLI's parameters and the limits themselves pass", () => {
    expect(parseKeystore(scrypt({})).kdf).toBe("scrypt");
    expect(parseKeystore(scrypt({ n: KDF_LIMITS.scryptMaxN, r: 8, p: 1 })).kdf).toBe("scrypt");
    expect(parseKeystore(pbkdf2({ c: KDF_LIMITS.pbkdf2MaxC })).kdf).toBe("pbkdf2");
  });
  test("the same check stops `keys validate` and the program's scan: the file is named, nothing is decrypted", async () => {
    const files = [{ name: "keystore-m_12381_3600_0_0_0-1.json", data: Buffer.from(scrypt({ n: 2 ** 20, r: 24 })) }];
    const { report } = await validateFiles(files, { passwordFor: () => "x", threads: 1 });
    expect(report.ok).toBe(false);
    expect(report.keys).toEqual([]);
    expect(report.errors).toEqual([expect.objectContaining({ file: files[0].name, message: expect.stringMatching(/over the limit of 1073741824/) })]);
    expect(scanSource(files).errors[0].message).toMatch(/over the limit of 1073741824/);
  });
});

describe("validateFiles with generated keystores", () => {
  test("right passwords pass, a wrong one and a forged pubkey are named", async () => {
    const keys = await makeKeys(4, { password: (i) => `pw-${i}` });
    const forged = JSON.parse(keys[3].json);
    forged.pubkey = keys[2].pubkey.replace(/^../, "aa");
    const files = [
      ...keys.slice(0, 3).map((k, i) => ({ name: `keystore-${i}.json`, data: Buffer.from(k.json) })),
      { name: "keystore-3.json", data: Buffer.from(JSON.stringify(forged)) },
      { name: "deposit_data-1.json", data: Buffer.from("[]") },
    ];
    const passwords: Record<string, string> = { "keystore-0.json": "pw-0", "keystore-1.json": "WRONG", "keystore-2.json": "pw-2", "keystore-3.json": "pw-3" };
    const { report } = await validateFiles(files, { passwordFor: ({ file }) => passwords[file], expectedCount: 4, threads: 2 });
    expect(report.ok).toBe(false);
    expect(report.count).toBe(4);
    expect(report.keys.map((k) => [k.file, k.passwordOk, k.kdf])).toEqual([
      ["keystore-0.json", true, "scrypt"], ["keystore-1.json", false, "scrypt"], ["keystore-2.json", true, "scrypt"], ["keystore-3.json", true, "scrypt"],
    ]);
    expect(report.errors).toEqual([
      { file: "keystore-1.json", message: expect.stringMatching(/password is wrong/) },
      { file: "keystore-3.json", message: expect.stringContaining(`public key is 0x${keys[3].pubkey}, not the keystore's pubkey 0x${forged.pubkey}`) },
    ]);
  });

  test("without passwords passwordOk is null; duplicates and count mismatches are errors naming keys", async () => {
    const keys = await makeKeys(2, { kdf: "pbkdf2" });
    const files = [
      { name: "a.json", data: Buffer.from(keys[0].json) },
      { name: "b.json", data: Buffer.from(keys[1].json) },
      { name: "copy-of-a.json", data: Buffer.from(keys[0].json) },
    ];
    const { report } = await validateFiles(files, { expectedPubkeys: [keys[0].pubkey, "0x" + "ab".repeat(48)] });
    expect(report.keys.map((k) => k.passwordOk)).toEqual([null, null]);
    expect(report.keys.map((k) => k.kdf)).toEqual(["pbkdf2", "pbkdf2"]);
    const messages = report.errors.map((e) => `${e.file}: ${e.message}`).join("\n");
    expect(messages).toContain(`copy-of-a.json: holds the same key (0x${keys[0].pubkey}) as a.json`);
    expect(messages).toContain(`is missing 1 expected key(s): 0x${"ab".repeat(48)}`);
    expect(messages).toContain(`holds 1 key(s) that are not expected: 0x${keys[1].pubkey}`);
    const counted = await validateFiles(files.slice(0, 2), { expectedCount: 3 });
    expect(counted.report.errors).toEqual([{ file: "(source)", message: expect.stringMatching(/holds 2 key\(s\), expected 3/) }]);
    expect(counted.report.ok).toBe(false);
  });
});
