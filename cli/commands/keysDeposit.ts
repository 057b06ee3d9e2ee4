/** `ephemery keys deposit`: send the deposits of a deposit_data-*.json to the network's deposit contract. */
import * as fs from "fs";
import * as path from "path";
import { DepositDataJson, genesisForkVersionOf, networkConfigValue, verifyDeposit } from "../../lib/keys/deposit";
import { sendDeposits } from "../../lib/keys/depositTx";
import { addressOf } from "../../lib/execution/transaction";
import { validatorState } from "../../lib/keys/exit";
import { HOST_API_OPTIONS, HostApis, openHostApis } from "./hostApis";
import { Command, CommandIO, json, stringOpt, UsageError } from "../command";

const MAX_DEPOSIT_FILE_BYTES = 16 * 1024 * 1024;

function readDeposits(file: string): DepositDataJson[] {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st?.isFile()) throw new UsageError(`--deposit-data ${file} is not a readable file`);
  if (st.size > MAX_DEPOSIT_FILE_BYTES) throw new UsageError(`--deposit-data ${file} is ${st.size} bytes, over ${MAX_DEPOSIT_FILE_BYTES}`);
  let list: unknown;
  try { list = JSON.parse(fs.readFileSync(file, "utf8")); } catch (e) { throw new Error(`${file} is not JSON: ${(e as Error).message}`); }
  if (!Array.isArray(list)) throw new Error(`${file} must hold a JSON list of deposits, as deposit_data-*.json does`);
  return list.map((d, i) => {
    const ok = d && typeof d === "object" && ["pubkey", "withdrawal_credentials", "signature", "deposit_message_root", "deposit_data_root", "fork_version"]
      .every((k) => typeof (d as Record<string, unknown>)[k] === "string") && Number.isSafeInteger((d as DepositDataJson).amount);
    if (!ok) throw new Error(`${file} entry ${i} lacks a field of deposit data (pubkey, withdrawal_credentials, amount, signature, deposit_message_root, deposit_data_root, fork_version)`);
    return { ...(d as DepositDataJson), pubkey: (d as DepositDataJson).pubkey.replace(/^0x/, "").toLowerCase() };
  });
}

function readFundingKey(io: CommandIO, file: string): Buffer {
  const p = path.resolve(io.cwd, file);
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st?.isFile() || st.size > 200) throw new UsageError(`--funding-key-file ${file} must be a small file holding one 32-byte hex private key`);
  if ((st.mode & 0o077) !== 0) io.err(`warning: ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it\n`);
  const hex = fs.readFileSync(p, "utf8").trim().replace(/^0x/, "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`${file} does not hold a 32-byte hex private key`);
  return Buffer.from(hex, "hex");
}

export const keysDepositCommands: Command[] = [
  {
    path: ["keys", "deposit"],
    summary: "Send deposits (deposit_data-*.json) to the network's deposit contract through a node's JSON-RPC",
    usage: "ephemery keys deposit --deposit-data FILE [--pubkey 0x..]... (--host NAME [--stack NAME | --file PATH] [SSH options] | --rpc-url URL) --funding-key-file F [--network-config config.yaml | --deposit-contract 0x.. --chain-id N --fork-version 0x..] [--dry-run] [--yes] [--json]",
    options: {
      ...HOST_API_OPTIONS,
      "deposit-data": { type: "string" }, pubkey: { type: "string", multiple: true }, "rpc-url": { type: "string" },
      "funding-key-file": { type: "string" }, "network-config": { type: "string" }, "deposit-contract": { type: "string" },
      "chain-id": { type: "string" }, "fork-version": { type: "string" }, "dry-run": { type: "boolean" }, yes: { type: "boolean" },
      "skip-checks": { type: "boolean" }, json: { type: "boolean" },
    },
    async run({ values }, io) {
      const file = stringOpt(values, "deposit-data");
      if (!file) throw new UsageError("--deposit-data FILE is required (the deposit_data-*.json that keys generate wrote)");
      const hostName = stringOpt(values, "host");
      let rpcUrl = stringOpt(values, "rpc-url");
      if (hostName && rpcUrl) throw new UsageError("give --host NAME (an SSH tunnel to the node) or --rpc-url URL, not both");
      if (!hostName && (!rpcUrl || !/^https?:\/\/[A-Za-z0-9.:[\]/_-]+$/.test(rpcUrl))) throw new UsageError("--host NAME (a host of the stack, reached over SSH) or --rpc-url http(s)://HOST:PORT of an execution node is required");
      const keyFile = stringOpt(values, "funding-key-file");
      if (!keyFile) throw new UsageError("--funding-key-file F is required: the execution-layer key that pays the deposits");

      let apis: HostApis | undefined;
      try {
        if (hostName) {
          apis = await openHostApis(values, io, ["rpc", "beacon"]);
          rpcUrl = apis.urls.rpc;
        }
        return await deposit(values, io, rpcUrl!, keyFile, apis);
      } finally {
        await apis?.close();
      }
    },
  },
];

async function deposit(values: Record<string, unknown>, io: CommandIO, rpcUrl: string, keyFile: string, apis: HostApis | undefined): Promise<number> {
  const file = stringOpt(values, "deposit-data")!;
  let contract = stringOpt(values, "deposit-contract");
  let chainId = stringOpt(values, "chain-id");
  let forkVersion = stringOpt(values, "fork-version");
  const networkConfig = stringOpt(values, "network-config");
  // With --host and no network given, the release the host has installed names it.
  const text = networkConfig ? fs.readFileSync(path.resolve(io.cwd, networkConfig), "utf8").slice(0, 1024 * 1024)
    : apis && !(contract && chainId && forkVersion) ? await apis.releaseConfig() : undefined;
  if (text !== undefined) {
    contract ??= networkConfigValue(text, "DEPOSIT_CONTRACT_ADDRESS");
    chainId ??= networkConfigValue(text, "DEPOSIT_CHAIN_ID");
    forkVersion ??= genesisForkVersionOf(text);
  }
  if (!contract || !chainId || !forkVersion) throw new UsageError("give --host, --network-config (the release's config.yaml) or all of --deposit-contract, --chain-id and --fork-version");
  if (!/^\d{1,19}$/.test(chainId)) throw new UsageError(`--chain-id must be a whole number, got "${chainId}"`);

  const wanted = ((values.pubkey as string[] | undefined) ?? []).map((p) => p.replace(/^0x/, "").toLowerCase());
  const all = readDeposits(path.resolve(io.cwd, file));
  const unknown = wanted.filter((p) => !all.some((d) => d.pubkey === p));
  if (unknown.length) throw new UsageError(`${file} has no deposit for ${unknown.map((p) => `0x${p}`).join(", ")}`);
  const deposits = wanted.length ? all.filter((d) => wanted.includes(d.pubkey)) : all;
  if (!values["skip-checks"]) {
    const bad = deposits.map((d) => ({ d, problems: verifyDeposit(d, forkVersion!) })).filter((x) => x.problems.length);
    if (bad.length) throw new Error(`not sending: ${bad.map((x) => `0x${x.d.pubkey.slice(0, 12)}…: ${x.problems.join("; ")}`).join("\n  ")}`);
  }
  const fundingKey = readFundingKey(io, keyFile);
  const totalEth = deposits.reduce((s, d) => s + BigInt(d.amount), 0n) / 1_000_000_000n;
  const via = apis ? `host ${apis.host.name} (SSH tunnel to its JSON-RPC)` : rpcUrl;
  const plan = `${deposits.length} deposit(s), ${totalEth} ETH in all, from ${addressOf(fundingKey)} to ${contract} on chain ${chainId} via ${via}`;
  if (values["dry-run"]) {
    io.out(values.json ? json({ dryRun: true, deposits: deposits.map((d) => ({ pubkey: d.pubkey, amount: d.amount })) }) : `dry run: would send ${plan}\n`);
    return 0;
  }
  if (!values.yes) throw new UsageError(`this sends ${plan}; run again with --yes to send (or --dry-run to look first)`);
  const sent = await sendDeposits({
    rpcUrl, depositContract: contract, chainId: BigInt(chainId), fundingKey, deposits,
    onProgress: values.json ? undefined : (line) => io.err(`${line}\n`),
  });
  // The beacon node sees a deposit only after the execution chain's follow distance: "not yet" is normal.
  const beaconStatus = (pubkey: string) => validatorState(apis!.urls.beacon, pubkey).then(
    (st) => st?.status ?? "not yet known to the beacon node",
    (e: Error) => `unknown (beacon API: ${e.message.slice(0, 160)})`,
  );
  const states = apis ? await Promise.all(sent.map((s) => beaconStatus(s.pubkey))) : [];
  const withState = sent.map((s, i) => ({ ...s, ...(apis ? { beaconStatus: states[i] } : {}) }));
  io.out(values.json ? json({ deposits: withState }) : `${withState.map((s) => `0x${s.pubkey}: included in block ${s.block} (${s.txHash})${s.beaconStatus ? `; beacon: ${s.beaconStatus}` : ""}`).join("\n")}\n`);
  return 0;
}
