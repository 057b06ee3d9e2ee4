/** `ephemery keys generate`: new validator keys, deposit data and ephemery-genesis lines from a mnemonic. */
import * as fs from "fs";
import * as path from "path";
import { checkMnemonic, newMnemonic } from "../../lib/keys/derive";
import { genesisForkVersionOf, GWEI_PER_ETH } from "../../lib/keys/deposit";
import { generateKeys, GenerateOptions } from "../../lib/keys/generate";
import { Command, CommandIO, intOpt, json, stringOpt, UsageError } from "../command";

const SMALL_FILE_BYTES = 64 * 1024;

/** A file or pipe (`<(pulumi config get NAME)`) given on the command line: its text, bounded. */
function readSmallFile(io: CommandIO, flag: string, file: string): string {
  const p = path.resolve(io.cwd, file);
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st || !(st.isFile() || st.isFIFO())) throw new UsageError(`--${flag} ${file} is not a readable file`);
  const fd = fs.openSync(p, "r");
  try {
    const buf = Buffer.alloc(SMALL_FILE_BYTES + 1);
    let n = 0;
    for (let r; n < buf.length && (r = fs.readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
    if (n > SMALL_FILE_BYTES) throw new UsageError(`--${flag} ${file} is over ${SMALL_FILE_BYTES} bytes; a mnemonic, password or network config file is far smaller`);
    return buf.subarray(0, n).toString("utf8");
  } finally {
    fs.closeSync(fd);
  }
}

/** Password files usually end with a newline the user did not mean as part of the password. */
const stripFinalNewline = (s: string) => s.replace(/\r?\n$/, "");

export const keysGenerateCommands: Command[] = [
  {
    path: ["keys", "generate"],
    summary: "Make validator keys (EIP-2333/2334/2335), deposit data and ephemery-genesis lines from a mnemonic",
    usage: "ephemery keys generate (--mnemonic-file F | --new-mnemonic) --count N [--start-index I] --password-file P (--withdrawal-address 0x.. [--compounding] | --withdrawal-credentials 0x..) [--amount-gwei A] (--network-config config.yaml | --fork-version 0x..) [--network-name N] [--kdf scrypt|pbkdf2] [--genesis-name NAME] --out DIR [--json]",
    options: {
      "mnemonic-file": { type: "string" }, "new-mnemonic": { type: "boolean" },
      count: { type: "string" }, "start-index": { type: "string" }, "password-file": { type: "string" },
      "withdrawal-address": { type: "string" }, compounding: { type: "boolean" }, "withdrawal-credentials": { type: "string" },
      "amount-gwei": { type: "string" }, "network-config": { type: "string" }, "fork-version": { type: "string" },
      "network-name": { type: "string" }, kdf: { type: "string" }, "genesis-name": { type: "string" },
      out: { type: "string" }, json: { type: "boolean" },
    },
    async run({ values }, io) {
      const mnemonicFile = stringOpt(values, "mnemonic-file");
      if (Boolean(mnemonicFile) === Boolean(values["new-mnemonic"])) throw new UsageError("give one of --mnemonic-file F (an existing mnemonic) or --new-mnemonic");
      const count = intOpt(values, "count");
      if (count === undefined) throw new UsageError("--count N is required");
      const passwordFile = stringOpt(values, "password-file");
      if (!passwordFile) throw new UsageError("--password-file P is required (the password of every keystore written)");
      const out = stringOpt(values, "out");
      if (!out) throw new UsageError("--out DIR is required (a new or empty directory)");

      const address = stringOpt(values, "withdrawal-address");
      const credentials = stringOpt(values, "withdrawal-credentials");
      if (Boolean(address) === Boolean(credentials)) throw new UsageError("give one of --withdrawal-address 0x.. or --withdrawal-credentials 0x..");
      if (credentials && values.compounding) throw new UsageError("--compounding goes with --withdrawal-address; --withdrawal-credentials already carry their 0x01/0x02 prefix");

      const networkConfig = stringOpt(values, "network-config");
      let forkVersion = stringOpt(values, "fork-version");
      if (Boolean(networkConfig) === Boolean(forkVersion)) throw new UsageError("give one of --network-config config.yaml (the release's; its GENESIS_FORK_VERSION is used) or --fork-version 0x..");
      if (networkConfig) forkVersion = genesisForkVersionOf(readSmallFile(io, "network-config", networkConfig));
      if (!/^0x[0-9a-fA-F]{8}$/.test(forkVersion!)) throw new UsageError(`--fork-version must be 0x followed by 8 hex characters, got "${forkVersion}"`);

      const kdf = stringOpt(values, "kdf") ?? "scrypt";
      if (kdf !== "scrypt" && kdf !== "pbkdf2") throw new UsageError(`--kdf must be scrypt or pbkdf2, got "${kdf}"`);
      const amount = stringOpt(values, "amount-gwei");
      if (amount !== undefined && !/^\d{1,16}$/.test(amount)) throw new UsageError(`--amount-gwei must be a whole number of gwei, got "${amount}"`);

      let mnemonic: string;
      if (mnemonicFile) {
        mnemonic = checkMnemonic(readSmallFile(io, "mnemonic-file", mnemonicFile));
      } else {
        mnemonic = newMnemonic();
        io.err([
          "",
          "NEW MNEMONIC: write these words down now, offline. They are shown this once and stored nowhere;",
          "whoever has them controls these validators (and any later ones made from them).",
          "",
          `  ${mnemonic}`,
          "",
          "",
        ].join("\n"));
      }
      const options: GenerateOptions = {
        mnemonic,
        startIndex: intOpt(values, "start-index") ?? 0,
        count,
        password: stripFinalNewline(readSmallFile(io, "password-file", passwordFile)),
        withdrawal: credentials ? { credentials } : { address: address!, kind: values.compounding ? "0x02" : "0x01" },
        amountGwei: amount !== undefined ? BigInt(amount) : 32n * GWEI_PER_ETH,
        forkVersion: forkVersion!.toLowerCase(),
        networkName: stringOpt(values, "network-name") ?? "ephemery",
        kdf,
        genesisName: stringOpt(values, "genesis-name") ?? "validators",
        outDir: path.resolve(io.cwd, out),
      };
      if (!values.json) io.err(`writing ${count} key(s) to ${out} (${kdf}; a few seconds per key)...\n`);
      const result = await generateKeys(options);
      if (values.json) {
        io.out(json(result));
      } else {
        io.out([
          `${result.pubkeys.length} key(s) in ${result.outDir}:`,
          ...result.pubkeys.map((p, i) => `  0x${p}  ${result.keystoreFiles[i]}`),
          `deposit data: ${result.depositDataFile} (fork version ${options.forkVersion})`,
          `genesis lines: ${result.genesisFile} (add it as validators/<name>.txt in ephemery-genesis to be in every future genesis)`,
          `next: set hosts[].validator.keys.path to ${out} and the keystore password with`,
          "  pulumi config set --secret keystorePassword  (reads it from the prompt)",
          "",
        ].join("\n"));
      }
      return 0;
    },
  },
];
