/** `ephemery keys exit`: voluntary exits signed by the validator client and published to a beacon node. */
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
import { httpJson } from "../../lib/http";
import { publishExit, signExit, validatorState } from "../../lib/keys/exit";
import { Command, CommandIO, intOpt, json, stringOpt, UsageError } from "../command";
import { HOST_API_OPTIONS, HostApis, openHostApis } from "./hostApis";

const URL_RE = /^https?:\/\/[A-Za-z0-9.:[\]/_-]+$/;

/** "<CONFIG_NAME> (chain <DEPOSIT_CHAIN_ID>)" from the beacon node's spec, for the confirmation. */
async function networkName(beaconUrl: string): Promise<string> {
  const spec = (await httpJson(`${beaconUrl}/eth/v1/config/spec`)).body as { data?: Record<string, unknown> } | undefined;
  const name = String(spec?.data?.CONFIG_NAME ?? "unknown network").replace(/[^A-Za-z0-9._-]/g, "?").slice(0, 40);
  const chain = String(spec?.data?.DEPOSIT_CHAIN_ID ?? "?").replace(/\D/g, "").slice(0, 20);
  return `${name} (chain ${chain || "?"})`;
}

async function confirm(io: CommandIO, question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    return answer.trim() === "exit";
  } finally {
    rl.close();
  }
}

export const keysExitCommands: Command[] = [
  {
    path: ["keys", "exit"],
    summary: "Exit validators for good: a voluntary exit signed by the validator client, published to a beacon node",
    usage: "ephemery keys exit --pubkey 0x.. [--pubkey 0x..]... (--host NAME [--stack NAME | --file PATH] [SSH options] [--token-file F] | --keymanager-url URL --token-file F --beacon-url URL) [--epoch N] [--yes] [--json]",
    options: {
      ...HOST_API_OPTIONS,
      pubkey: { type: "string", multiple: true }, "keymanager-url": { type: "string" }, "token-file": { type: "string" },
      "beacon-url": { type: "string" }, epoch: { type: "string" }, yes: { type: "boolean" }, json: { type: "boolean" },
    },
    async run({ values }, io) {
      const pubkeys = ((values.pubkey as string[] | undefined) ?? []).map((p) => p.toLowerCase().replace(/^0x/, ""));
      if (!pubkeys.length) throw new UsageError("name the validators to exit with --pubkey 0x.. (once per key)");
      const badKey = pubkeys.find((p) => !/^[0-9a-f]{96}$/.test(p));
      if (badKey !== undefined) throw new UsageError(`--pubkey ${badKey} is not a 48-byte BLS public key in hex`);
      const epoch = intOpt(values, "epoch");
      if (epoch !== undefined && epoch < 0) throw new UsageError("--epoch must be 0 or more");
      const hostName = stringOpt(values, "host");
      if (hostName && (values["keymanager-url"] !== undefined || values["beacon-url"] !== undefined)) {
        throw new UsageError("give --host NAME (SSH tunnels to the node's keymanager and beacon APIs) or --keymanager-url and --beacon-url, not both");
      }
      const tokenFile = stringOpt(values, "token-file");
      let apis: HostApis | undefined;
      try {
        let km: string | undefined;
        let beacon: string | undefined;
        let token: string | undefined;
        if (hostName) {
          apis = await openHostApis(values, io, ["keymanager", "beacon"]);
          ({ keymanager: km, beacon } = apis.urls);
          if (!tokenFile) {
            token = await apis.keymanagerToken();
            if (!token) throw new Error(`no keymanager token found in the validator container of ${hostName}; pass --token-file F (check: ephemery status --host ${hostName})`);
          }
        } else {
          km = stringOpt(values, "keymanager-url")?.replace(/\/+$/, "");
          beacon = stringOpt(values, "beacon-url")?.replace(/\/+$/, "");
          if (!km || !URL_RE.test(km)) throw new UsageError("--host NAME, or --keymanager-url http(s)://HOST:PORT of the validator client's keymanager API, is required");
          if (!beacon || !URL_RE.test(beacon)) throw new UsageError("--beacon-url http(s)://HOST:PORT of a beacon node is required (or --host NAME)");
          if (!tokenFile) throw new UsageError("--token-file F is required: the keymanager API token of the validator client (with --host it is read from the host)");
        }
        token ??= readToken(io, tokenFile!);
        return await exitValidators(values, io, pubkeys, km!, beacon!, token, epoch);
      } finally {
        await apis?.close();
      }
    },
  },
];

function readToken(io: CommandIO, tokenFile: string): string {
  const tokenPath = path.resolve(io.cwd, tokenFile);
  const st = fs.statSync(tokenPath, { throwIfNoEntry: false });
  if (!st?.isFile() || st.size > 4096) throw new UsageError(`--token-file ${tokenFile} must be a small file holding the keymanager token`);
  const token = fs.readFileSync(tokenPath, "utf8").trim();
  if (!/^[A-Za-z0-9._~+/=-]{1,1024}$/.test(token)) throw new Error(`${tokenFile} does not hold a keymanager token (one line of token characters)`);
  return token;
}

async function exitValidators(values: Record<string, unknown>, io: CommandIO, pubkeys: string[], km: string, beacon: string, token: string, epoch: number | undefined): Promise<number> {
  const network = await networkName(beacon);
  const question = `Exit ${pubkeys.length} validator(s) on ${network} for good:\n${pubkeys.map((p) => `  0x${p}`).join("\n")}\nType "exit" to go on: `;
  if (!values.yes) {
    if (!io.isTTY || !process.stdin.isTTY) throw new UsageError(`this exits ${pubkeys.length} validator(s) on ${network} for good; run again with --yes to go on`);
    if (!(await confirm(io, question))) { io.err("nothing was exited\n"); return 1; }
  }
  const results = [];
  for (const pk of pubkeys) {
    const exit = await signExit(km, token, pk, epoch);
    await publishExit(beacon, exit);
    const state = await validatorState(beacon, pk);
    results.push({ pubkey: pk, validatorIndex: exit.message.validator_index, epoch: exit.message.epoch, status: state?.status ?? "unknown", exitEpoch: state?.exitEpoch ?? "" });
    if (!values.json) io.err(`0x${pk.slice(0, 12)}…: exit published (validator ${exit.message.validator_index}, epoch ${exit.message.epoch}), now ${state?.status ?? "unknown"}\n`);
  }
  io.out(values.json ? json({ network, exits: results }) : `${results.length} exit(s) published on ${network}\n`);
  return 0;
}
