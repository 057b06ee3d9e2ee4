/**
 * `ephemery keys generate`: validator keys from a mnemonic, in the key-source layout ValidatorKeys reads
 * (keystore-*.json next to deposit_data-*.json, as the deposit CLI writes them), plus the ephemery-genesis
 * validators/<name>.txt lines. The output directory appears whole or not at all, and every keystore is checked
 * by the project's own validator before it does.
 */
import * as fs from "fs";
import * as path from "path";
import { secretAtPath, mnemonicToSeed, signingKeyPath } from "./derive";
import { checkAmount, CredentialsKind, DepositDataJson, executionCredentials, genesisValidatorLine, makeDeposit, parseCredentials, verifyDeposit } from "./deposit";
import { encryptKeystore, WriterKdf } from "./keystoreWriter";
import { validateSource } from "./validate";

/** Far beyond any Ephemery operator's need, low enough that a typo cannot run for days. */
export const MAX_KEYS_PER_RUN = 10_000;

export interface GenerateOptions {
  mnemonic: string;
  /** BIP-39 passphrase ("25th word"); empty by default, as the deposit CLI. */
  mnemonicPassphrase?: string;
  startIndex: number;
  count: number;
  password: string;
  withdrawal: { address: string; kind: CredentialsKind } | { credentials: string };
  amountGwei: bigint;
  forkVersion: string;
  networkName: string;
  kdf?: WriterKdf;
  /** Name of the ephemery-genesis validators file (validators/<name>.txt). */
  genesisName: string;
  outDir: string;
  /** Seconds since the epoch used in file names (the deposit CLI's convention); injectable for tests. */
  now?: number;
}

export interface GenerateResult {
  outDir: string;
  pubkeys: string[];
  keystoreFiles: string[];
  depositDataFile: string;
  genesisFile: string;
}

export async function generateKeys(o: GenerateOptions): Promise<GenerateResult> {
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > MAX_KEYS_PER_RUN) throw new Error(`--count must be from 1 to ${MAX_KEYS_PER_RUN}, got ${o.count}`);
  if (!Number.isInteger(o.startIndex) || o.startIndex < 0 || o.startIndex + o.count - 1 > 0xffffffff) throw new Error(`--start-index must be a whole number from 0, and the last index below 2^32; got ${o.startIndex}`);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(o.genesisName)) throw new Error(`the genesis validators file name must be 1-64 characters of A-Z a-z 0-9 . _ -, got "${o.genesisName}"`);
  const { credentials, kind } = "credentials" in o.withdrawal
    ? parseCredentials(o.withdrawal.credentials)
    : { credentials: executionCredentials(o.withdrawal.kind, o.withdrawal.address), kind: o.withdrawal.kind };
  checkAmount(kind, o.amountGwei);

  const outDir = path.resolve(o.outDir);
  const existing = fs.statSync(outDir, { throwIfNoEntry: false });
  if (existing && (!existing.isDirectory() || fs.readdirSync(outDir).length > 0)) {
    throw new Error(`${o.outDir} already exists and is not an empty directory: keys are never written over; choose a new --out`);
  }
  const parent = path.dirname(outDir);
  fs.mkdirSync(parent, { recursive: true });
  const work = fs.mkdtempSync(path.join(parent, `.${path.basename(outDir)}.partial-`));
  try {
    fs.chmodSync(work, 0o700);
    const seed = mnemonicToSeed(o.mnemonic, o.mnemonicPassphrase ?? "");
    const now = o.now ?? Math.floor(Date.now() / 1000);
    const deposits: DepositDataJson[] = [];
    const keystoreFiles: string[] = [];
    for (let i = o.startIndex; i < o.startIndex + o.count; i++) {
      const keyPath = signingKeyPath(i);
      const secret = secretAtPath(seed, keyPath);
      const keystore = encryptKeystore(secret, o.password, keyPath, o.kdf ?? "scrypt");
      const file = `keystore-${keyPath.replace(/\//g, "_")}-${now}.json`;
      fs.writeFileSync(path.join(work, file), `${JSON.stringify(keystore)}\n`, { mode: 0o600 });
      keystoreFiles.push(file);
      deposits.push(makeDeposit(secret, credentials, o.amountGwei, o.forkVersion, o.networkName));
      secret.fill(0);
    }
    for (const d of deposits) {
      const problems = verifyDeposit(d, o.forkVersion);
      if (problems.length) throw new Error(`internal check of the deposit for 0x${d.pubkey} failed: ${problems.join("; ")}`);
    }
    const depositDataFile = `deposit_data-${now}.json`;
    fs.writeFileSync(path.join(work, depositDataFile), `${JSON.stringify(deposits)}\n`, { mode: 0o644 });
    const genesisFile = `${o.genesisName}.txt`;
    const lines = [`# ${deposits.length} validators (pulumi-ephemery keys generate)`, "# pubkey:withdrawal_credentials:balance", ...deposits.map(genesisValidatorLine)];
    fs.writeFileSync(path.join(work, genesisFile), `${lines.join("\n")}\n`, { mode: 0o644 });

    // Every keystore must open with the password and hold the key its deposit names, as ValidatorKeys will check.
    const pubkeys = deposits.map((d) => d.pubkey);
    const { report } = await validateSource(work, { passwordFor: () => o.password, expectedPubkeys: pubkeys, expectedCount: pubkeys.length });
    if (!report.ok || report.keys.some((k) => k.passwordOk !== true)) {
      throw new Error(`the keystores written do not pass the project's own check: ${report.errors.map((e) => `${e.file}: ${e.message}`).join("; ") || "a password did not open its keystore"}`);
    }
    if (existing) fs.rmdirSync(outDir);
    fs.renameSync(work, outDir);
    return { outDir, pubkeys, keystoreFiles, depositDataFile, genesisFile };
  } catch (e) {
    fs.rmSync(work, { recursive: true, force: true });
    throw e;
  }
}
