/**
 * `npm run bench:keys [-- --count N] [--threads N] [--cache DIR] [--skip-js]`
 *
 * Validates N keystores (default 1000) written with the deposit CLI's parameters (scrypt n=262144, r=8, p=1)
 * including the password check and BLS public key derivation, first with lib/keys (native crypto, one worker
 * thread per core), then with a plain pure-JavaScript EIP-2335 implementation (@chainsafe/bls-keystore on
 * its JavaScript scrypt, one key after another) on the same keystores, and prints keys per second for both.
 * The keystores are generated once into a cache dir (that takes about as long as one native run).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import { createRequire } from "module";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { parseKeystore } from "../lib/keys/keystore";
import { validateSource } from "../lib/keys/validate";

const N = 262144;
const PASSWORD = "ephemery bench \u{1d531}\u{1d522}\u{1d530}\u{1d531} password";
const nodeRequire = createRequire(__filename);

const { values } = parseArgs({
  options: { count: { type: "string" }, threads: { type: "string" }, cache: { type: "string" }, "skip-js": { type: "boolean" } },
});
const count = Number(values.count ?? 1000);
const threads = Number(values.threads ?? os.availableParallelism());
const cache = values.cache ?? path.join(os.tmpdir(), "ephemery-bench-keys", `scrypt-n${N}`);
if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive integer, got ${values.count}`);

function bls(): { getPublicKey(sk: Uint8Array): { toBytes(c?: boolean): Uint8Array } } {
  return nodeRequire("@noble/curves/bls12-381.js").bls12_381.longSignatures;
}

async function encrypt(secret: Buffer, pubkey: string, index: number): Promise<string> {
  const salt = crypto.randomBytes(32);
  const iv = crypto.randomBytes(16);
  const pw = Buffer.from(PASSWORD.normalize("NFKD"), "utf8");
  const key = await new Promise<Buffer>((resolve, reject) =>
    crypto.scrypt(pw, salt, 32, { N, r: 8, p: 1, maxmem: 512 * 1024 * 1024 }, (e, k) => (e ? reject(e) : resolve(k))));
  const c = crypto.createCipheriv("aes-128-ctr", key.subarray(0, 16), iv);
  const cipher = Buffer.concat([c.update(secret), c.final()]);
  const checksum = crypto.createHash("sha256").update(key.subarray(16, 32)).update(cipher).digest("hex");
  return JSON.stringify({
    crypto: {
      kdf: { function: "scrypt", params: { dklen: 32, n: N, r: 8, p: 1, salt: salt.toString("hex") }, message: "" },
      checksum: { function: "sha256", params: {}, message: checksum },
      cipher: { function: "aes-128-ctr", params: { iv: iv.toString("hex") }, message: cipher.toString("hex") },
    },
    description: "pulumi-ephemery benchmark key",
    pubkey,
    path: `m/12381/3600/${index}/0/0`,
    uuid: crypto.randomUUID(),
    version: 4,
  });
}

async function ensureKeystores(): Promise<string> {
  const dir = path.join(cache, String(count));
  fs.mkdirSync(dir, { recursive: true });
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !fs.existsSync(path.join(dir, `keystore-${String(i).padStart(5, "0")}.json`)));
  if (missing.length === 0) return dir;
  process.stdout.write(`generating ${missing.length} keystores (scrypt n=${N}) into ${dir} ...\n`);
  const t0 = Date.now();
  let next = 0;
  // libuv runs crypto.scrypt on its thread pool: one job per core keeps every core busy.
  await Promise.all(Array.from({ length: threads }, async () => {
    while (next < missing.length) {
      const i = missing[next++];
      const secret = crypto.createHash("sha256").update(`bench-${i}`).digest();
      secret[0] = 0;
      const pubkey = Buffer.from(bls().getPublicKey(secret).toBytes(true)).toString("hex");
      fs.writeFileSync(path.join(dir, `keystore-${String(i).padStart(5, "0")}.json`), await encrypt(secret, pubkey, i));
    }
  }));
  process.stdout.write(`generated in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return dir;
}

async function pureJs(dir: string): Promise<{ seconds: number; ok: number }> {
  // Force @chainsafe/bls-keystore onto its JavaScript scrypt (it picks Node's native one when it can).
  nodeRequire("@chainsafe/bls-keystore/lib/env.js").isNode = false;
  const keystoreLib = nodeRequire("@chainsafe/bls-keystore") as { decrypt(ks: unknown, pw: string): Promise<Uint8Array> };
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  const t0 = process.hrtime.bigint();
  let ok = 0;
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), "utf8");
    const parsed = parseKeystore(text);
    const secret = await keystoreLib.decrypt(parsed.keystore, PASSWORD);
    if (Buffer.from(bls().getPublicKey(secret).toBytes(true)).toString("hex") === parsed.pubkey) ok++;
  }
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, ok };
}

async function main(): Promise<void> {
  const dir = await ensureKeystores();
  const cpus = os.cpus();
  process.stdout.write(`machine: ${cpus.length} x ${cpus[0]?.model ?? "cpu"}, node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}\n`);
  const t0 = process.hrtime.bigint();
  const { report } = await validateSource(dir, { passwordFor: () => PASSWORD, expectedCount: count, threads });
  const nativeSec = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!report.ok) throw new Error(`native validation failed: ${JSON.stringify(report.errors.slice(0, 3))}`);
  const rows = [["lib/keys (native scrypt, worker threads)", String(threads), String(report.count), nativeSec.toFixed(1), (report.count / nativeSec).toFixed(2)]];
  if (!values["skip-js"]) {
    const js = await pureJs(dir);
    if (js.ok !== count) throw new Error(`pure-JS validation accepted ${js.ok} of ${count} keys`);
    rows.push(["@chainsafe/bls-keystore (pure-JS scrypt)", "1", String(count), js.seconds.toFixed(1), (count / js.seconds).toFixed(2)]);
  }
  const head = ["implementation", "threads", "keys", "seconds", "keys/s"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  process.stdout.write(`\nvalidate ${count} keystores (scrypt n=${N}, r=8, p=1; decrypt + checksum + BLS pubkey check)\n${line(head)}\n${rows.map(line).join("\n")}\n`);
  if (rows.length === 2) process.stdout.write(`speed-up: ${(Number(rows[0][4]) / Number(rows[1][4])).toFixed(1)}x\n`);
}

main().catch((e) => {
  process.stderr.write(`bench:keys: ${(e as Error).message}\n`);
  process.exit(1);
});
