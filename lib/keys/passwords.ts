/**
 * Password checks for many keystores at once, on every core: each worker thread runs native scrypt/pbkdf2
 * and the BLS derivation, so the check runs as fast as the hardware allows.
 */
import * as os from "os";
import * as path from "path";
import { Worker } from "worker_threads";
import type { Keystore } from "./keystore";

export interface PasswordJob {
  id: number;
  keystore: Keystore;
  password: string;
}

export interface PasswordResult {
  id: number;
  /** True when the checksum matched (the password decrypts the keystore). */
  passwordOk: boolean;
  /** The public key derived from the decrypted secret (lower-case hex). */
  derivedPubkey?: string;
  error?: string;
}

/** Runs the jobs on `threads` worker threads (default: one per core, at most one per job). */
export async function checkPasswords(jobs: PasswordJob[], opts: { threads?: number } = {}): Promise<PasswordResult[]> {
  if (jobs.length === 0) return [];
  const count = Math.max(1, Math.min(opts.threads ?? os.availableParallelism(), jobs.length));
  const ext = path.extname(__filename);
  const file = path.join(__dirname, `passwordWorker${ext}`);
  // From sources (tests, ts-node) the worker is TypeScript too: let ts-node compile it in the worker.
  const execArgv = ext === ".ts" ? ["--require", "ts-node/register/transpile-only"] : [];
  const workers = Array.from({ length: count }, () => new Worker(file, { execArgv }));
  const results = new Array<PasswordResult>(jobs.length);
  const byId = new Map(jobs.map((j, i) => [j.id, i]));
  let next = 0;
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const feed = () => {
              if (next >= jobs.length) return resolve();
              w.postMessage(jobs[next++]);
            };
            w.on("message", (r: PasswordResult) => {
              results[byId.get(r.id)!] = r;
              feed();
            });
            w.once("error", reject);
            w.once("exit", (code) => (next < jobs.length || code !== 0 ? reject(new Error(`password worker exited with code ${code}`)) : undefined));
            feed();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
