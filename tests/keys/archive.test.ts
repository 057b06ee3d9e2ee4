import { execFileSync, spawn } from "child_process";
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

describe("hostile archives: every byte is accounted for, nothing blocks, names print safely", () => {
  /** Rewrites one tar header field (and its checksum) of the entry whose name ends with `suffix`. */
  function patchTarField(data: Buffer, suffix: string, fieldOffset: number, value: Buffer): Buffer {
    const out = Buffer.from(data);
    for (let off = 0; off + 512 <= out.length; off += 512) {
      const name = out.subarray(off, off + 100).toString("latin1").replace(/\0.*$/s, "");
      if (!name.endsWith(suffix) || out.subarray(off + 257, off + 262).toString("latin1") !== "ustar") continue;
      value.copy(out, off + fieldOffset);
      out.fill(0x20, off + 148, off + 156);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += out[off + i];
      out.write(`${sum.toString(8).padStart(6, "0")}\0 `, off + 148, "latin1");
      return out;
    }
    throw new Error(`no entry ${suffix}`);
  }

  test("a tar size field that is not octal fails instead of dropping the rest of the archive", async () => {
    run("tar", ["--format=ustar", "-cf", "sized.tar", "validator_keys"]);
    const data = fs.readFileSync(path.join(work, "sized.tar"));
    const victim = "keystore-m_12381_3600_1_0_0-1700000000.json";
    fs.writeFileSync(path.join(work, "badsize.tar"), patchTarField(data, victim, 124, Buffer.from("zzzzzzzzzzz\0", "latin1")));
    const { report } = await validateSource(path.join(work, "badsize.tar"));
    expect(report.ok).toBe(false);
    expect(report.errors).toEqual([{ file: `${path.join(work, "badsize.tar")}:validator_keys/${victim}`, message: expect.stringMatching(/tar size field "zzzzzzzzzzz\\\\x00" that is not an octal number/) }]);
  });

  test("a FIFO named *.tar is refused without waiting for a writer", () => {
    run("tar", ["-cf", "good.tar", "validator_keys"]);
    const fifo = path.join(work, "pipe.tar");
    execFileSync("mkfifo", [fifo]);
    // A writer that would feed a valid archive: a blocking reader would wait for it and then accept the keys.
    const writer = spawn("sh", ["-c", `sleep 1; cat ${JSON.stringify(path.join(work, "good.tar"))} > ${JSON.stringify(fifo)}`], { stdio: "ignore" });
    try {
      expect(() => readKeySource(fifo)).toThrow(/is a FIFO \(named pipe\), not a regular file/);
    } finally {
      process.kill(writer.pid!, "SIGKILL");
    }
  });

  test("a device behind a *.tar name is refused", () => {
    const link = path.join(work, "zero.tar");
    fs.symlinkSync("/dev/zero", link);
    expect(() => readKeySource(link)).toThrow(/is a character device, not a regular file/);
  });

  test("a zip written by Python's zipfile.writestr (to a pipe: data descriptors, no file type bits; stored and deflated) is read", () => {
    const script = `import sys, zipfile
with zipfile.ZipFile(sys.stdout.buffer, "w") as z:
    for i, name in enumerate(sys.argv[1:]):
        z.writestr("validator_keys/" + name.split("/")[-1], open(name, "rb").read(), compress_type=zipfile.ZIP_STORED if i % 2 else zipfile.ZIP_DEFLATED)
`;
    const files = fs.readdirSync(keyDir).sort().map((f) => path.join(keyDir, f));
    const zip = execFileSync("python3", ["-c", script, ...files]);
    expect(zip.readUInt16LE(6) & 0x08).toBe(0x08); // the first entry has a data descriptor
    fs.writeFileSync(path.join(work, "python.zip"), zip);
    expect(names(path.join(work, "python.zip"))).toEqual(expected);
    expect(readKeySource(path.join(work, "python.zip")).find((f) => f.name.endsWith("_0_0_0-1700000000.json"))?.data.toString()).toBe(keys[0].json);
  });

  test("duplicate entry names are refused in a tar and a zip", () => {
    run("tar", ["-cf", "dup.tar", "validator_keys"]);
    run("tar", ["-rf", "dup.tar", "validator_keys/keystore-m_12381_3600_0_0_0-1700000000.json"]);
    expect(() => readKeySource(path.join(work, "dup.tar"))).toThrow(/appears twice in the archive/);
    const zip = execFileSync("python3", ["-W", "ignore", "-c", `import sys, zipfile
with zipfile.ZipFile(sys.stdout.buffer, "w") as z:
    z.writestr("a/keystore.json", "{}")
    z.writestr("./a/keystore.json", "{}")
`]);
    fs.writeFileSync(path.join(work, "dup.zip"), zip);
    let err: Error & { entry?: string } = new Error("no error");
    try { readKeySource(path.join(work, "dup.zip")); } catch (e) { err = e as Error; }
    expect(err.message).toMatch(/appears twice/);
    expect(err.entry).toBe("a/keystore.json");
  });

  test("a name with a newline and an escape is refused and printed escaped, on one line", async () => {
    const dir = path.join(work, "ctl");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "keystore\nok: all good\u001b[2J.json"), "{}");
    run("tar", ["-cf", "ctl.tar", "ctl"]);
    const { report } = await validateSource(path.join(work, "ctl.tar"));
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0].file).toBe(`${path.join(work, "ctl.tar")}:ctl/keystore\\nok: all good\\x1b[2J.json`);
    expect(report.errors[0].message).toMatch(/has control characters/);
    expect(JSON.stringify(report.errors)).not.toMatch(/\\u001b|[^\\]\\n/);
  });

  test.each([["tgz", "-czf"], ["txz", "-cJf"]])("a .%s that decompresses past the limit says so, with the limit", (ext, flag) => {
    const saved = LIMITS.totalBytes;
    LIMITS.totalBytes = 64 * 1024;
    try {
      const dir = path.join(work, `bomb-${ext}`);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, "zeros.json"), Buffer.alloc(3 * 1024 * 1024));
      run("tar", [flag, `bomb.${ext}`, `bomb-${ext}`]);
      expect(() => readKeySource(path.join(work, `bomb.${ext}`))).toThrow(new RegExp(`decompresses to more than ${64 * 1024 + 1024 * 1024} bytes, the limit for a key source`));
    } finally {
      LIMITS.totalBytes = saved;
    }
  });
});
