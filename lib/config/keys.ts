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
