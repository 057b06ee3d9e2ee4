/** Real EIP-2335 keystores for tests: cheap kdf parameters, written by @chainsafe/bls-keystore. */
import { create } from "@chainsafe/bls-keystore";
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface TestKey {
  secret: Buffer;
  pubkey: string;
  json: string;
  password: string;
}

/** A deterministic BLS secret below the curve order (first byte 0). */
export function testSecret(i: number): Buffer {
  const s = createHash("sha256").update(`ephemery-test-key-${i}`).digest();
  s[0] = 0;
  return s;
}

/**
 * Public keys of secrets, derived by a plain Node process: @noble/curves is ESM-only and jest cannot load it
 * in the test's own module system (the code under test loads it in worker threads).
 */
export function derivePubkeys(secrets: Buffer[]): string[] {
  const script = `const {bls12_381}=require("@noble/curves/bls12-381.js");
const secrets=JSON.parse(require("fs").readFileSync(0,"utf8"));
process.stdout.write(JSON.stringify(secrets.map(s=>Buffer.from(bls12_381.longSignatures.getPublicKey(Buffer.from(s,"hex")).toBytes(true)).toString("hex"))));`;
  return JSON.parse(execFileSync(process.execPath, ["-e", script], { input: JSON.stringify(secrets.map((s) => s.toString("hex"))), encoding: "utf8", cwd: path.join(__dirname, "../..") }));
}

export async function makeKeys(count: number, opts: { password?: (i: number) => string; kdf?: "scrypt" | "pbkdf2"; first?: number } = {}): Promise<TestKey[]> {
  const first = opts.first ?? 0;
  const secrets = Array.from({ length: count }, (_, i) => testSecret(first + i));
  const pubkeys = derivePubkeys(secrets);
  return Promise.all(
    secrets.map(async (secret, i) => {
      const password = opts.password?.(first + i) ?? "correct horse battery staple";
      const kdf = opts.kdf === "pbkdf2"
        ? { function: "pbkdf2" as const, params: { dklen: 32, c: 16, prf: "hmac-sha256" as const, salt: createHash("sha256").update(`salt${i}`).digest("hex") } }
        : { function: "scrypt" as const, params: { dklen: 32, n: 16, r: 8, p: 1, salt: createHash("sha256").update(`salt${i}`).digest("hex") } };
      const ks = await create(password, secret, Buffer.from(pubkeys[i], "hex"), `m/12381/3600/${first + i}/0/0`, "", kdf);
      return { secret, pubkey: pubkeys[i], json: JSON.stringify(ks), password };
    }),
  );
}

/** Writes keystores the way the deposit CLI names them; returns the directory. */
export function writeKeyDir(keys: TestKey[], dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-keys-"))): string {
  fs.mkdirSync(dir, { recursive: true });
  keys.forEach((k, i) => fs.writeFileSync(path.join(dir, `keystore-m_12381_3600_${i}_0_0-1700000000.json`), k.json));
  return dir;
}

export function tempDir(prefix = "ephemery-keys-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
