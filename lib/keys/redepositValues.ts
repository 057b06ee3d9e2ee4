/**
 * What the host's re-deposit step is rendered with: where the program and the funding key live, and the settings
 * it runs with (no secret among them). Pure, but for the bundling of the program itself.
 */
import * as path from "path";
import { hostPaths } from "../clients/types";
import { bundleProgram } from "../bundle";
import type { HostConfig } from "../config/schema";
import { executionCredentials } from "./deposit";
import type { RedepositSettings } from "./redeposit";

export const redepositProgramPath = (dataDir: string, node: string) => `${hostPaths(dataDir, node).scripts}/ephemery-redeposit.js`;
export const fundingKeyPath = (dataDir: string, node: string) => `${hostPaths(dataDir, node).root}/secrets/deposit-funding.key`;

/** lib/keys/redeposit.ts with everything it imports, as one file that runs under a bare Node.js. */
export function redepositProgramSource(): string {
  return bundleProgram(path.join(__dirname, "redeposit.ts"), "ephemery re-deposit program, bundled from lib/keys/redeposit.ts by pulumi-ephemery.");
}

/** The settings of a host whose re-deposit is enabled (all but the iteration, which each run passes). */
export function redepositSettings(host: HostConfig): Omit<RedepositSettings, "iteration"> | undefined {
  const r = host.validator?.redeposit;
  if (!r?.enabled) return undefined;
  const paths = hostPaths(host.dataDir, host.name);
  return {
    node: host.name,
    releaseDir: `${paths.testnetRoot}/current`,
    keysDir: `${paths.keysRoot}/current`,
    fundingKeyFile: fundingKeyPath(host.dataDir, host.name),
    recordDir: `${paths.state}/redeposit`,
    textfileDir: paths.textfile,
    rpcUrl: `http://127.0.0.1:${host.execution.rpcPort}`,
    beaconUrl: `http://127.0.0.1:${host.consensus.beaconApiPort}`,
    withdrawalCredentials: r.withdrawalCredentials ?? `0x${executionCredentials("0x01", r.withdrawalAddress!).toString("hex")}`,
    amountGwei: String(r.amountGwei),
    dryRun: r.dryRun,
    maxDeposits: r.maxDeposits,
    receiptTimeoutSec: r.receiptTimeoutSec,
  };
}

/** The whole run's time bound for the reset program: keystore decryption, beacon lookups and each inclusion wait. */
export function redepositTimeoutSec(host: HostConfig): number {
  const r = host.validator?.redeposit;
  return r ? 120 + r.maxDeposits * (10 + r.receiptTimeoutSec) : 0;
}
