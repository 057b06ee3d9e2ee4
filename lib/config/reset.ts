import { z } from "zod";
import { charsetString, CRON_RULE } from "./charsets";

/** `hosts[].reset`: the job that carries a node across Ephemery resets (see the reset issue). */
export const resetSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Install the reset job on this host."),
    schedule: charsetString(CRON_RULE)
      .default("* * * * *")
      .describe("Cron schedule of the reset program; every minute by default so the switch lands on time."),
    keepPreviousTestnets: z.number().int().min(1).max(20).default(2)
      .describe("How many previous testnet directories to keep after a switch."),
  })
  .prefault({});

export type ResetConfig = z.output<typeof resetSchema>;
