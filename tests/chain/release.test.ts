/** The generated release: the upstream file set, consistent values, keystores lib/keys accepts, a genesis geth initialises. */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { interopSecret, mnemonicToSeed, secretAtPath } from "../../lib/keys/derive";
import { decryptKeystore, parseKeystore } from "../../lib/keys/keystore";
import { clientBinaries } from "../support/chainClients";
import { derivePubkeys } from "../keys/fixtures";
import { CHAIN_MNEMONIC, CHAIN_WITHDRAWAL_ADDRESS, ChainRelease, DEPOSIT_CONTRACT, generateChainRelease, PREFUND_WEI } from "../support/chainRelease";

const bins = clientBinaries();
const schedule = { baseTime: 1_800_000_000 - 100 * 600, periodSec: 600, genesisDelaySec: 60, chainIdBase: 39438000 };
let release: ChainRelease;

beforeAll(async () => {
  release = await generateChainRelease({ iteration: 100, schedule, validators: 4, secondsPerSlot: 3, prysmctl: bins.prysmctl, geth: bins.geth, bootEnrs: ["enr:-AAA"], bootEnodes: ["enode://ab@127.0.0.1:30303"], prefund: [FUNDED] });
});
const FUNDED = `0x${"5a".repeat(20)}`;

const text = (name: string) => release.files[name].toString();
const envOf = (name: string) => Object.fromEntries(text(name).trim().split("\n").map((l) => /^(?:export )?([A-Z_]+)="(.*)"$/.exec(l)!.slice(1, 3)));

test("the release carries the upstream files with one consistent set of values", () => {
  for (const f of ["config.yaml", "genesis.json", "genesis.ssz", "boot_enr.yaml", "bootstrap_nodes.txt", "boot_enode.txt", "deposit_contract.txt", "deposit_contract_block.txt", "deploy_block.txt", "genesis_validators_root.txt", "nodevars_env.txt", "retention.vars"]) {
    expect([f, release.files[f]?.length > 0]).toEqual([f, true]);
  }
  const el = 1_800_000_000, cl = el + 60, cid = 39438100;
  expect(envOf("retention.vars")).toEqual({ ITERATION_NUMBER: "100", ITERATION_RELEASE: "ephemery-100", GENESIS_TIMESTAMP: String(el), GENESIS_RESET_INTERVAL: "600", CHAIN_ID: String(cid) });
  expect(envOf("nodevars_env.txt")).toMatchObject({ CHAIN_ID: String(cid), GENESIS_TIME: String(cl), GENESIS_VALROOT: release.genesisValidatorsRoot, GENESIS_BLOCK: release.elGenesisHash, BOOTNODE_ENR_LIST: "enr:-AAA" });
  expect(text("config.yaml")).toContain(`MIN_GENESIS_TIME: ${el}\n`);
  expect(text("config.yaml")).toContain(`DEPOSIT_CHAIN_ID: ${cid}\n`);
  expect(text("genesis_validators_root.txt").trim()).toMatch(/^0x[0-9a-f]{64}$/);
  const genesis = JSON.parse(text("genesis.json"));
  expect(genesis.config.chainId).toBe(cid);
  expect(genesis.config.pragueTime).toBe(cl);
  expect(genesis.config.osakaTime).toBeUndefined();
  // The deposit contract and the system contracts Prague needs (EIP-4788, -2935, -7002, -7251) have code.
  for (const a of [DEPOSIT_CONTRACT, "0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02", "0x0000F90827F1C53a10cb7A02335B175320002935", "0x00000961Ef480Eb55e80D19ad83579A64c007002", "0x0000BBdDc7CE488642fb579F8B00f3a590007251"]) {
    const key = Object.keys(genesis.alloc).find((k) => k.toLowerCase().replace(/^0x/, "") === a.toLowerCase().slice(2));
    expect([a, key && genesis.alloc[key].code?.length > 2]).toEqual([a, true]);
  }
});

test("the genesis validators are keys 0..n-1 of the test mnemonic, from keys generate: keystores open, 0x01 credentials in the state", () => {
  expect(release.keys.map((k) => k.index)).toEqual([0, 1, 2, 3]);
  const seed = mnemonicToSeed(CHAIN_MNEMONIC);
  for (const k of release.keys) {
    const parsed = parseKeystore(k.keystore);
    expect(parsed.pubkey).toBe(k.pubkey);
    expect(parsed.keystore.path).toBe(`m/12381/3600/${k.index}/0/0`);
    expect(decryptKeystore(parsed.keystore, k.password)).toEqual(secretAtPath(seed, `m/12381/3600/${k.index}/0/0`));
    expect(decryptKeystore(parsed.keystore, "wrong")).toBeUndefined();
  }
  // Not prysm's interop keys, which prysmctl would make without the deposit file.
  expect(release.keys[0].pubkey).not.toBe(derivePubkeys([interopSecret(0)])[0]);
  expect(release.genesisValidators.map((v) => v.pubkey)).toEqual(release.keys.map((k) => k.pubkey));
  expect(release.genesisValidators.map((v) => v.withdrawalCredentials)).toEqual(release.keys.map(() => `0x01${"00".repeat(11)}${CHAIN_WITHDRAWAL_ADDRESS.slice(2)}`));
});

test("a prefunded address holds its balance in genesis.json", () => {
  const alloc = JSON.parse(text("genesis.json")).alloc;
  const key = Object.keys(alloc).find((k) => k.toLowerCase().replace(/^0x/, "") === FUNDED.slice(2));
  expect(BigInt(alloc[key!].balance)).toBe(PREFUND_WEI);
});

function gethInitHash(genesisJson: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-geth-init-"));
  try {
    fs.writeFileSync(path.join(dir, "genesis.json"), genesisJson);
    const out = execFileSync("sh", ["-c", '"$1" init --datadir="$2/d" --state.scheme=path "$2/genesis.json" 2>&1 || true', "init", bins.geth, dir], { encoding: "utf8", timeout: 120_000 });
    return /Successfully wrote genesis state.*hash=([0-9a-f]{6}\.\.[0-9a-f]{6})/.exec(out)?.[1] ?? out.slice(-400);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
const shortHash = (h: string) => `${h.slice(2, 8)}..${h.slice(-6)}`;

test("a Fulu release: Osaka at the genesis time, and geth initialises the block the genesis state names", async () => {
  const fulu = await generateChainRelease({ iteration: 101, schedule, validators: 4, secondsPerSlot: 3, prysmctl: bins.prysmctl, geth: bins.geth, fork: "fulu" });
  const genesis = JSON.parse(fulu.files["genesis.json"].toString());
  expect(genesis.config.osakaTime).toBe(fulu.clGenesisTime);
  expect(fulu.files["config.yaml"].toString()).toContain("FULU_FORK_EPOCH: 0\n");
  expect(gethInitHash(fulu.files["genesis.json"].toString())).toBe(shortHash(fulu.elGenesisHash));
});

test("geth initialises genesis.json to the block the genesis state names", () => {
  expect(gethInitHash(text("genesis.json"))).toBe(shortHash(release.elGenesisHash));
});
