import { z } from "zod";

/** `hosts[].validator.keys`: where the validator's EIP-2335 keystores come from (see the keys issue). */
export const keySourceSchema = z.strictObject({
  path: z
    .string()
    .min(1)
    .describe("A directory of EIP-2335 keystores, or an archive (.zip, .tar, .tar.gz/.tgz, .tar.xz), on the workstation."),
  expectedCount: z.number().int().min(1).optional().describe("How many keys the source must hold; a mismatch is an error."),
  backupsToKeep: z.number().int().min(1).max(100).default(5).describe("Key and slashing-protection backups kept on the host."),
  moveWaitEpochs: z.number().int().min(0).default(2)
    .describe("Epochs to wait before a key moved from another host may sign here."),
});

export type KeySourceConfig = z.output<typeof keySourceSchema>;
