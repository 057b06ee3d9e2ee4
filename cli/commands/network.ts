import { FIRST_SCHEDULED_ITERATION, networkAt } from "../../lib/ephemery";
import { Command, intOpt, json } from "../command";

function iso(t: number): string {
  return new Date(t * 1000).toISOString().replace(".000Z", "Z");
}

export const networkCommands: Command[] = [
  {
    path: ["network"],
    summary: "Ephemery's iteration, chain id, genesis times and next reset, now or at --at",
    usage: "ephemery network [--at UNIX_SECONDS] [--json]",
    options: { at: { type: "string" }, json: { type: "boolean" } },
    async run({ values }, io) {
      const at = intOpt(values, "at") ?? Math.floor(Date.now() / 1000);
      const info = networkAt(at);
      if (values.json) {
        io.out(json({ iteration: info.iteration, chainId: info.chainId, elGenesisTime: info.elGenesisTime, clGenesisTime: info.clGenesisTime, nextResetTime: info.nextResetTime }));
        return 0;
      }
      const left = info.nextResetTime - at;
      io.out([
        `iteration        ${info.iteration} (release ephemery-${info.iteration})`,
        `chain id         ${info.chainId}`,
        `EL genesis       ${info.elGenesisTime} (${iso(info.elGenesisTime)})`,
        `CL genesis       ${info.clGenesisTime} (${iso(info.clGenesisTime)})`,
        `next reset       ${info.nextResetTime} (${iso(info.nextResetTime)}, in ${Math.floor(left / 86400)}d ${Math.floor((left % 86400) / 3600)}h ${Math.floor((left % 3600) / 60)}m)`,
        ...(info.iteration < FIRST_SCHEDULED_ITERATION ? [`note: iterations before ${FIRST_SCHEDULED_ITERATION} did not follow this schedule`] : []),
        "",
      ].join("\n"));
      return 0;
    },
  },
];
