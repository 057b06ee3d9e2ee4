/**
 * A real Ephemery-format release for the live-chain tier: a genesis.json that geth v1.16 initialises, a
 * genesis.ssz made by prysmctl `testnet generate-genesis` from the same genesis.json (so the CL's execution payload
 * header names the EL's genesis block), config.yaml with Ephemery's values except the slot time and genesis delay,
 * and the genesis validators: keystores and deposit data written by `ephemery keys generate` from a fixed test
 * mnemonic, given to prysmctl as --deposit-json-file. Pack it with buildArchive, serve it with ReleaseServer
 * (./releases).
 *
 * Where this differs from an upstream release, and why: prysmctl sets the EL genesis timestamp to the CL genesis
 * time (upstream uses MIN_GENESIS_TIME); besu.json/chainspec.json are not written (no geth node reads them, and the
 * new upstream generator drops them too). The genesis fork is Electra or Fulu (Ephemery's).
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { mnemonicToSeed, secretAtPath, signingKeyPath } from "../../lib/keys/derive";
import { DepositDataJson } from "../../lib/keys/deposit";
import { runCli } from "./cli";

const run = promisify(execFile);

/** The schedule the release follows: Ephemery's closed form with test-sized numbers (lib/ephemery.ts has the real ones). */
export interface ChainSchedule {
  baseTime: number;
  periodSec: number;
  genesisDelaySec: number;
  chainIdBase: number;
}

export const scheduleOf = (s: ChainSchedule) => ({
  elGenesis: (i: number) => s.baseTime + i * s.periodSec,
  clGenesis: (i: number) => s.baseTime + i * s.periodSec + s.genesisDelaySec,
  chainId: (i: number) => s.chainIdBase + i,
});

export interface ChainReleaseOptions {
  iteration: number;
  schedule: ChainSchedule;
  /** Genesis validators: keys 0..n-1 of CHAIN_MNEMONIC (EIP-2334 paths), made by `ephemery keys generate`. */
  validators: number;
  secondsPerSlot: number;
  /** The prysmctl and geth binaries (scripts/client-binaries.sh). */
  prysmctl: string;
  geth: string;
  /** CL ENRs and EL enodes of the test network's bootnodes; empty lists are valid. */
  bootEnrs?: string[];
  bootEnodes?: string[];
  /** Password of every keystore. */
  keystorePassword?: string;
  /** The fork at genesis: electra (Prague on the EL; default) or fulu (Osaka), Ephemery's current fork. */
  fork?: "electra" | "fulu";
  /** Execution addresses given PREFUND_WEI each in genesis.json (e.g. to pay deposits). */
  prefund?: string[];
}

export interface GenesisKey {
  index: number;
  /** Lower-case hex, no 0x. */
  pubkey: string;
  secret: Buffer;
  keystore: string;
  password: string;
}

export interface ChainRelease {
  iteration: number;
  files: Record<string, string | Buffer>;
  keys: GenesisKey[];
  /** The validators of genesis.ssz, in index order (hex without 0x for pubkeys, 0x-hex credentials). */
  genesisValidators: { pubkey: string; withdrawalCredentials: string }[];
  genesisValidatorsRoot: string;
  elGenesisHash: string;
  elGenesisTime: number;
  clGenesisTime: number;
  chainId: number;
}

export const DEPOSIT_CONTRACT = "0x4242424242424242424242424242424242424242";
/** The test network's validator mnemonic (the BIP-39 test vector): genesis keys from index 0, later ones after them. */
export const CHAIN_MNEMONIC = `${"abandon ".repeat(11)}about`;
/** Withdrawal address (0x01 credentials) of every generated validator. */
export const CHAIN_WITHDRAWAL_ADDRESS = `0x${"ee".repeat(20)}`;
export const PREFUND_WEI = 10n ** 24n;

/**
 * Runs `ephemery keys generate` (pbkdf2, so a start imports quickly) for keys start..start+count-1 of the mnemonic,
 * signed for config.yaml's GENESIS_FORK_VERSION, into `out` (new). Returns the keys and the deposit data file.
 */
export async function generateChainKeys(o: { out: string; configYaml: string; start: number; count: number; password: string; mnemonic?: string }): Promise<{ keys: GenesisKey[]; depositDataFile: string; deposits: DepositDataJson[] }> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-chain-keys-"));
  try {
    fs.writeFileSync(path.join(work, "mnemonic"), `${o.mnemonic ?? CHAIN_MNEMONIC}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(work, "password"), o.password, { mode: 0o600 });
    fs.writeFileSync(path.join(work, "config.yaml"), o.configYaml);
    const r = await runCli(["keys", "generate", "--mnemonic-file", path.join(work, "mnemonic"), "--count", String(o.count), "--start-index", String(o.start),
      "--password-file", path.join(work, "password"), "--withdrawal-address", CHAIN_WITHDRAWAL_ADDRESS, "--network-config", path.join(work, "config.yaml"),
      "--kdf", "pbkdf2", "--out", o.out, "--json"]);
    if (r.code !== 0) throw new Error(`ephemery keys generate failed (${r.code}): ${r.stderr.slice(-2000)}`);
    const result = JSON.parse(r.stdout) as { pubkeys: string[]; keystoreFiles: string[]; depositDataFile: string };
    const seed = mnemonicToSeed(o.mnemonic ?? CHAIN_MNEMONIC);
    const keys = result.pubkeys.map((pubkey, i) => ({
      index: o.start + i,
      pubkey,
      secret: secretAtPath(seed, signingKeyPath(o.start + i)),
      keystore: fs.readFileSync(path.join(o.out, result.keystoreFiles[i]), "utf8"),
      password: o.password,
    }));
    const depositDataFile = path.join(o.out, result.depositDataFile);
    return { keys, depositDataFile, deposits: JSON.parse(fs.readFileSync(depositDataFile, "utf8")) };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
const FAR_FUTURE = "18446744073709551615";

/** Ephemery's config.yaml (ephemery-genesis cl-config.yaml and values.env) with the test's slot time and delay. */
export function ephemeryConfigYaml(o: { elGenesis: number; genesisDelaySec: number; chainId: number; validators: number; secondsPerSlot: number; fork?: "electra" | "fulu" }): string {
  const v = (fork: number) => `0x${fork}000101b`;
  return [
    "PRESET_BASE: 'mainnet'",
    "CONFIG_NAME: testnet",
    `MIN_GENESIS_ACTIVE_VALIDATOR_COUNT: ${o.validators}`,
    `MIN_GENESIS_TIME: ${o.elGenesis}`,
    `GENESIS_FORK_VERSION: ${v(1)}`,
    `GENESIS_DELAY: ${o.genesisDelaySec}`,
    `ALTAIR_FORK_VERSION: ${v(2)}`, "ALTAIR_FORK_EPOCH: 0",
    `BELLATRIX_FORK_VERSION: ${v(3)}`, "BELLATRIX_FORK_EPOCH: 0",
    "TERMINAL_TOTAL_DIFFICULTY: 0",
    "TERMINAL_BLOCK_HASH: 0x0000000000000000000000000000000000000000000000000000000000000000",
    `TERMINAL_BLOCK_HASH_ACTIVATION_EPOCH: ${FAR_FUTURE}`,
    `CAPELLA_FORK_VERSION: ${v(4)}`, "CAPELLA_FORK_EPOCH: 0",
    `DENEB_FORK_VERSION: ${v(5)}`, "DENEB_FORK_EPOCH: 0",
    `ELECTRA_FORK_VERSION: ${v(6)}`, "ELECTRA_FORK_EPOCH: 0",
    `FULU_FORK_VERSION: ${v(7)}`, `FULU_FORK_EPOCH: ${o.fork === "fulu" ? 0 : FAR_FUTURE}`,
    `SECONDS_PER_SLOT: ${o.secondsPerSlot}`,
    `SECONDS_PER_ETH1_BLOCK: ${o.secondsPerSlot}`,
    "MIN_VALIDATOR_WITHDRAWABILITY_DELAY: 256",
    // Ephemery's is 256 epochs; the test network lets its genesis validators exit at once (ephemery keys exit).
    "SHARD_COMMITTEE_PERIOD: 0",
    "ETH1_FOLLOW_DISTANCE: 12",
    "INACTIVITY_SCORE_BIAS: 4",
    "INACTIVITY_SCORE_RECOVERY_RATE: 16",
    "EJECTION_BALANCE: 30000000000",
    "MIN_PER_EPOCH_CHURN_LIMIT: 4",
    "CHURN_LIMIT_QUOTIENT: 65536",
    "MAX_PER_EPOCH_ACTIVATION_CHURN_LIMIT: 8",
    "PROPOSER_SCORE_BOOST: 40",
    `DEPOSIT_CHAIN_ID: ${o.chainId}`,
    `DEPOSIT_NETWORK_ID: ${o.chainId}`,
    `DEPOSIT_CONTRACT_ADDRESS: ${DEPOSIT_CONTRACT}`,
    "",
  ].join("\n");
}

async function prysmctlGenesis(prysmctl: string, dir: string, args: string[]): Promise<void> {
  try {
    await run(prysmctl, ["testnet", "generate-genesis", ...args], { cwd: dir, timeout: 120_000, maxBuffer: 16 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`prysmctl testnet generate-genesis failed: ${err.message}\n${(err.stderr ?? "").slice(-4000)}`);
  }
}

/** Generates release `iteration`: every file of a release, plus the genesis keys. Takes a few seconds. */
export async function generateChainRelease(o: ChainReleaseOptions): Promise<ChainRelease> {
  const s = scheduleOf(o.schedule);
  const el = s.elGenesis(o.iteration);
  const cl = s.clGenesis(o.iteration);
  const chainId = s.chainId(o.iteration);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-chain-release-"));
  try {
    const fork = o.fork ?? "electra";
    const config = ephemeryConfigYaml({ elGenesis: el, genesisDelaySec: o.schedule.genesisDelaySec, chainId, validators: o.validators, secondsPerSlot: o.secondsPerSlot, fork });
    fs.writeFileSync(path.join(dir, "config.yaml"), config);
    const password = o.keystorePassword ?? "ephemery live chain";
    const generated = await generateChainKeys({ out: path.join(dir, "keys"), configYaml: config, start: 0, count: o.validators, password });
    // --deposit-json-file takes the deposit CLI's deposit_data-*.json; --num-validators is a required flag, but the
    // interop keys it counts are made only without a deposit file (cmd/prysmctl/testnet/generate_genesis.go,
    // runtime/interop/premine-state.go, prysm v7.0.0).
    const common = ["--chain-config-file=config.yaml", `--deposit-json-file=${generated.depositDataFile}`, `--num-validators=${o.validators}`, `--genesis-time=${cl}`, `--fork=${fork}`];

    // geth's own developer genesis carries the system contracts Cancun and Prague need (EIP-4788, -2935, -7002,
    // -7251) and has Osaka at 0; an Electra genesis drops Osaka (the CL forks must match the EL's).
    const { stdout } = await run(o.geth, ["--dev", "dumpgenesis"], { timeout: 60_000, maxBuffer: 16 << 20 });
    const genesis = JSON.parse(stdout);
    if (fork === "electra") {
      delete genesis.config.osakaTime;
      delete genesis.config.blobSchedule?.osaka;
    } else if (genesis.config.osakaTime === undefined) {
      throw new Error("this geth's developer genesis has no osakaTime: it cannot run a Fulu genesis");
    } else {
      // prysmctl moves Shanghai, Cancun and Prague to the genesis time but not Osaka; geth refuses Osaka before Prague.
      genesis.config.osakaTime = cl;
    }
    genesis.config.chainId = chainId;
    genesis.config.depositContractAddress = DEPOSIT_CONTRACT;
    // The deposit contract as prysmctl's own testnet genesis deploys it.
    await prysmctlGenesis(o.prysmctl, dir, [...common, "--geth-genesis-json-out=prysm-genesis.json", "--output-ssz=scratch.ssz"]);
    const deposit = JSON.parse(fs.readFileSync(path.join(dir, "prysm-genesis.json"), "utf8")).alloc;
    const depositKey = Object.keys(deposit).find((a) => a.toLowerCase().replace(/^0x/, "") === DEPOSIT_CONTRACT.slice(2));
    if (!depositKey || !deposit[depositKey].code) throw new Error("prysmctl's testnet genesis has no deposit contract at " + DEPOSIT_CONTRACT);
    genesis.alloc[DEPOSIT_CONTRACT.slice(2)] = deposit[depositKey];
    for (const a of o.prefund ?? []) genesis.alloc[a.toLowerCase().replace(/^0x/, "")] = { balance: `0x${PREFUND_WEI.toString(16)}` };
    fs.writeFileSync(path.join(dir, "genesis-in.json"), JSON.stringify(genesis));
    await prysmctlGenesis(o.prysmctl, dir, [...common, "--geth-genesis-json-in=genesis-in.json", "--geth-genesis-json-out=genesis.json", "--output-ssz=genesis.ssz", "--output-json=state.json"]);

    const state = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8"));
    const gvr = bytesHex(state.genesis_validators_root);
    // The payload header sits in the field of the fork its shape was introduced in (deneb's for electra).
    const header = Object.entries(state).find(([k, v]) => k.startsWith("latest_execution_payload_header") && (v as { block_hash?: unknown } | null)?.block_hash)?.[1] as { block_hash: unknown } | undefined;
    if (!header) throw new Error("prysmctl's genesis state has no execution payload header");
    const elHash = bytesHex(header.block_hash);
    const genesisValidators = (state.validators as { public_key: unknown; withdrawal_credentials: unknown }[])
      .map((v) => ({ pubkey: bytesHex(v.public_key).slice(2), withdrawalCredentials: bytesHex(v.withdrawal_credentials) }));
    const statePubkeys = genesisValidators.map((v) => v.pubkey);
    if (statePubkeys.length !== o.validators) throw new Error(`prysmctl's genesis state has ${statePubkeys.length} validators, not the ${o.validators} generated`);

    const keys = generated.keys;
    keys.forEach((k, i) => {
      if (k.pubkey !== statePubkeys[i]) throw new Error(`generated key ${k.index} (${k.pubkey}) is not validator ${i} of the genesis state (${statePubkeys[i]})`);
    });

    const enrs = o.bootEnrs ?? [];
    const enodes = o.bootEnodes ?? [];
    const lines = (xs: string[]) => (xs.length ? `${xs.join("\n")}\n` : "");
    const tag = `ephemery-${o.iteration}`;
    const files: Record<string, string | Buffer> = {
      "config.yaml": config,
      "genesis.json": fs.readFileSync(path.join(dir, "genesis.json"), "utf8"),
      "genesis.ssz": fs.readFileSync(path.join(dir, "genesis.ssz")),
      "boot_enr.yaml": enrs.length ? enrs.map((e) => `- ${e}\n`).join("") : "[]\n",
      "boot_enr.txt": lines(enrs),
      "bootstrap_nodes.txt": lines(enrs),
      "boot_enode.txt": lines(enodes),
      "enodes.txt": lines(enodes),
      "deposit_contract.txt": `${DEPOSIT_CONTRACT}\n`,
      "deposit_contract_block.txt": "0\n",
      "deposit_contract_block_hash.txt": `${elHash}\n`,
      "deploy_block.txt": "0\n",
      "genesis_validators_root.txt": `${gvr}\n`,
      "nodevars_env.txt": [
        `ITERATION_NUMBER="${o.iteration}"`, `CHAIN_ID="${chainId}"`,
        `BOOTNODE_ENR="${enrs[0] ?? ""}"`, `BOOTNODE_ENR_LIST="${enrs.join(",")}"`,
        `BOOTNODE_ENODE="${enodes[0] ?? ""}"`, `BOOTNODE_ENODE_LIST="${enodes.join(",")}"`,
        `GENESIS_TIME="${cl}"`, `GENESIS_VALROOT="${gvr}"`, `GENESIS_BLOCK="${elHash}"`, "",
      ].join("\n"),
      "retention.vars": [
        `export ITERATION_NUMBER="${o.iteration}"`, `export ITERATION_RELEASE="${tag}"`, `export GENESIS_TIMESTAMP="${el}"`,
        `export GENESIS_RESET_INTERVAL="${o.schedule.periodSec}"`, `export CHAIN_ID="${chainId}"`, "",
      ].join("\n"),
    };
    return { iteration: o.iteration, files, keys, genesisValidators, genesisValidatorsRoot: gvr, elGenesisHash: elHash, elGenesisTime: el, clGenesisTime: cl, chainId };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** prysmctl's JSON state writes byte fields as base64, or as arrays of numbers for fixed-size ones: 0x-hex. */
function bytesHex(v: unknown): string {
  if (Array.isArray(v)) return `0x${Buffer.from(v as number[]).toString("hex")}`;
  if (typeof v === "string") return /^0x[0-9a-fA-F]*$/.test(v) ? v.toLowerCase() : `0x${Buffer.from(v, "base64").toString("hex")}`;
  throw new Error(`unexpected byte field in prysmctl's genesis state: ${JSON.stringify(v)?.slice(0, 80)}`);
}
