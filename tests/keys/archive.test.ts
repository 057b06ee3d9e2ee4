import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { LIMITS, readKeySource } from "../../lib/keys/archive";
import { validateSource } from "../../lib/keys/validate";
import { makeKeys, TestKey, tempDir, writeKeyDir } from "./fixtures";

let keys: TestKey[];
let work: string;
let keyDir: string;

beforeAll(async () => {
  keys = await makeKeys(3, { kdf: "pbkdf2" });
  work = tempDir("ephemery-archive-");
  keyDir = writeKeyDir(keys, path.join(work, "validator_keys"));
  fs.writeFileSync(path.join(keyDir, "deposit_data-1700000000.json"), "[]");
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: work, stdio: "pipe" });
const names = (src: string) => readKeySource(src).map((f) => f.name).sort();
const expected = ["validator_keys/deposit_data-1700000000.json", ...[0, 1, 2].map((i) => `validator_keys/keystore-m_12381_3600_${i}_0_0-1700000000.json`)];

describe.each([
  ["tar", ["-cf", "keys.tar", "validator_keys"]],
  ["tar.gz", ["-czf", "keys.tar.gz", "validator_keys"]],
  ["tgz", ["-czf", "keys.tgz", "validator_keys"]],
  ["tar.xz", ["-cJf", "keys.tar.xz", "validator_keys"]],
])("a .%s made by GNU tar", (ext, args) => {
  test("reads every file and validates the keys", async () => {
    run("tar", args);
    const file = path.join(work, `keys.${ext}`);
    expect(names(file)).toEqual(expected);
    const { report } = await validateSource(file, { expectedCount: 3, passwordFor: () => keys[0].password, threads: 1 });
    expect(report).toMatchObject({ ok: true, count: 3, errors: [] });
    expect(report.keys.map((k) => k.pubkey).sort()).toEqual(keys.map((k) => k.pubkey).sort());
  });
});

test("a .zip made by Info-ZIP (deflated) reads the same files", () => {
  run("zip", ["-qr", "keys.zip", "validator_keys"]);
  expect(names(path.join(work, "keys.zip"))).toEqual(expected);
});

test("a directory reads the same files, relative to it", () => {
  expect(names(keyDir)).toEqual(expected.map((n) => n.replace("validator_keys/", "")));
});

describe("unsafe or broken sources are refused with the entry named", () => {
  test("a truncated .tar.gz", async () => {
    run("tar", ["-czf", "full.tar.gz", "validator_keys"]);
    const data = fs.readFileSync(path.join(work, "full.tar.gz"));
    fs.writeFileSync(path.join(work, "cut.tar.gz"), data.subarray(0, Math.floor(data.length / 2)));
    const { report } = await validateSource(path.join(work, "cut.tar.gz"));
    expect(report.ok).toBe(false);
    expect(report.errors[0].message).toMatch(/truncated or corrupt/);
  });

  test("a truncated .tar (cut inside an entry)", () => {
    run("tar", ["-cf", "full.tar", "validator_keys"]);
    const data = fs.readFileSync(path.join(work, "full.tar"));
    fs.writeFileSync(path.join(work, "cut.tar"), data.subarray(0, 2 * 512 + 512 + 100) /* directory header, file header, part of the file */);
    expect(() => readKeySource(path.join(work, "cut.tar"))).toThrow(/is cut short .* truncated/);
  });

  test("a truncated .zip", () => {
    run("zip", ["-qr", "whole.zip", "validator_keys"]);
    const data = fs.readFileSync(path.join(work, "whole.zip"));
    fs.writeFileSync(path.join(work, "cut.zip"), data.subarray(0, data.length - 30));
    expect(() => readKeySource(path.join(work, "cut.zip"))).toThrow(/truncated/);
  });

  test("a ../ entry in a tar (written with -P)", async () => {
    const inner = path.join(work, "inner");
    fs.mkdirSync(inner, { recursive: true });
    fs.writeFileSync(path.join(work, "evil.json"), "{}");
    execFileSync("tar", ["-P", "-cf", "../dotdot.tar", "../evil.json"], { cwd: inner });
    const { report } = await validateSource(path.join(work, "dotdot.tar"));
    expect(report.errors).toEqual([{ file: `${path.join(work, "dotdot.tar")}:../evil.json`, message: expect.stringMatching(/contains a "\.\." path segment/) }]);
  });

  test("an absolute path in a tar", () => {
    run("tar", ["-P", "-cf", "abs.tar", path.join(work, "evil.json")]);
    expect(() => readKeySource(path.join(work, "abs.tar"))).toThrow(/has an absolute path/);
  });

  test("a symbolic link in a tar, a zip and a directory", () => {
    const dir = path.join(work, "linked");
    fs.mkdirSync(dir);
    fs.symlinkSync("/etc/passwd", path.join(dir, "keystore-link.json"));
    run("tar", ["-cf", "link.tar", "linked"]);
    run("zip", ["-qry", "link.zip", "linked"]);
    for (const src of ["link.tar", "link.zip", "linked"]) {
      let err: Error & { entry?: string } = new Error("no error");
      try { readKeySource(path.join(work, src)); } catch (e) { err = e as Error; }
      expect(err.message).toMatch(/is a symbolic link; links are refused/);
      expect(err.entry).toMatch(/keystore-link\.json$/);
    }
  });

  test("a hard link in a tar", () => {
    const dir = path.join(work, "hard");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "a.json"), "{}");
    fs.linkSync(path.join(dir, "a.json"), path.join(dir, "b.json"));
    run("tar", ["-cf", "hard.tar", "hard"]);
    expect(() => readKeySource(path.join(work, "hard.tar"))).toThrow(/is a hard link/);
  });

  test("an oversized entry", () => {
    const saved = LIMITS.entryBytes;
    LIMITS.entryBytes = 4096;
    try {
      const dir = path.join(work, "big");
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, "huge.json"), "x".repeat(5000));
      run("tar", ["-czf", "big.tgz", "big"]);
      expect(() => readKeySource(path.join(work, "big.tgz"))).toThrow(/big\/huge\.json|is 5000 bytes, over the 4096-byte limit/);
      let entry = "";
      try { readKeySource(path.join(work, "big.tgz")); } catch (e) { entry = (e as { entry: string }).entry; }
      expect(entry).toBe("big/huge.json");
    } finally {
      LIMITS.entryBytes = saved;
    }
  });

  test("a file that is neither a directory nor a known archive", async () => {
    fs.writeFileSync(path.join(work, "keys.rar"), "x");
    const { report } = await validateSource(path.join(work, "keys.rar"));
    expect(report.errors[0].message).toMatch(/neither a directory nor an archive/);
  });
});
