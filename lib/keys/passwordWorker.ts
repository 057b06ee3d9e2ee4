/** Worker thread: decrypts keystores and derives their public keys. Secrets never leave this thread. */
import { parentPort } from "worker_threads";
import { publicKeyHex } from "./bls";
import { decryptKeystore, Keystore } from "./keystore";
import type { PasswordJob, PasswordResult } from "./passwords";

export function checkOne(job: PasswordJob): PasswordResult {
  try {
    const secret = decryptKeystore(job.keystore as Keystore, job.password);
    if (!secret) return { id: job.id, passwordOk: false };
    const derived = publicKeyHex(secret);
    secret.fill(0);
    return { id: job.id, passwordOk: true, derivedPubkey: derived };
  } catch (e) {
    return { id: job.id, passwordOk: false, error: (e as Error).message };
  }
}

parentPort?.on("message", (job: PasswordJob) => parentPort!.postMessage(checkOne(job)));
