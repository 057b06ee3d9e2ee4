import { z } from "zod";

const pubkey = z.string().regex(/^(0x)?[0-9a-fA-F]{96}$/, "must be a 48-byte BLS public key in hex (96 characters, 0x optional)")
  .transform((s) => s.toLowerCase().replace(/^0x/, ""));

/** `hosts[].validator.keys`: where the validator's EIP-2335 keystores come from (see the keys issue). */
export const keySourceSchema = z.strictObject({
  path: z
    .string()
    .min(1)
    .optional()
    .describe("A directory of EIP-2335 keystores, or an archive (.zip, .tar, .tar.gz/.tgz, .tar.xz), on the workstation. Omit it to remove every key from the host (the first step of moving all of its keys away)."),
  expectedCount: z.number().int().min(0).optional().describe("How many keys the source must hold; a mismatch is an error."),
  pubkeys: z.array(pubkey).optional().describe("The exact pubkeys the source must hold; missing and extra keys are named."),
  backupsToKeep: z.number().int().min(1).max(100).default(5).describe("Key and slashing-protection backups kept on the host."),
  moveWaitEpochs: z.number().int().min(0).default(2)
    .describe("Epochs to wait before a key moved from another host may sign here."),
}).superRefine((k, ctx) => {
  if (k.path === undefined && ((k.expectedCount ?? 0) > 0 || (k.pubkeys?.length ?? 0) > 0)) {
    ctx.addIssue({ code: "custom", path: ["path"], message: "keys are expected but no path is set: give the directory or archive that holds them" });
  }
});

export type KeySourceConfig = z.output<typeof keySourceSchema>;

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be 0x followed by 64 hex characters (32 bytes)").transform((s) => s.toLowerCase());

/** `hosts[].validator.redeposit`: deposit this host's keys again after each reset when the new genesis lacks them. */
export const redepositSchema = z.strictObject({
  enabled: z.boolean().default(false)
    .describe("After each verified reset, deposit the host's keys that the new chain does not know, paid from ephemery:depositFundingKeys.<host> (or ephemery:depositFundingKey)."),
  dryRun: z.boolean().default(false).describe("Log and count what would be deposited; send nothing."),
  withdrawalAddress: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte hex address").optional()
    .describe("Withdrawal address for 0x01 credentials (32 ETH deposits); or give withdrawalCredentials."),
  withdrawalCredentials: hex32.optional()
    .describe("Full 0x01 or 0x02 withdrawal credentials (32 bytes) instead of withdrawalAddress."),
  amountGwei: z.number().int().min(1_000_000_000).max(2_048_000_000_000).default(32_000_000_000)
    .describe("Deposit per key in gwei (0x01 credentials: exactly 32 ETH)."),
  maxDeposits: z.number().int().min(1).max(1000).default(64)
    .describe("At most this many deposits per iteration: a bound on what a wrong setting can spend."),
  receiptTimeoutSec: z.number().int().min(10).max(3600).default(300)
    .describe("How long one run waits for a deposit's inclusion; the next run looks it up again."),
}).superRefine((r, ctx) => {
  if (r.enabled && (r.withdrawalAddress === undefined) === (r.withdrawalCredentials === undefined)) {
    ctx.addIssue({ code: "custom", path: ["withdrawalAddress"], message: "give exactly one of withdrawalAddress (0x01 credentials) and withdrawalCredentials" });
  }
  const kind = r.withdrawalCredentials?.slice(0, 4) ?? "0x01";
  if (r.withdrawalCredentials && kind !== "0x01" && kind !== "0x02") {
    ctx.addIssue({ code: "custom", path: ["withdrawalCredentials"], message: "must start with 0x01 or 0x02 (execution-layer credentials)" });
  }
  if (kind === "0x01" && r.amountGwei !== 32_000_000_000) {
    ctx.addIssue({ code: "custom", path: ["amountGwei"], message: `0x01 credentials take exactly 32000000000 gwei (32 ETH); got ${r.amountGwei}. Use 0x02 credentials for other amounts` });
  }
});

export type RedepositConfig = z.output<typeof redepositSchema>;
