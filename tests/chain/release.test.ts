/** The generated release: the upstream file set, consistent values, keystores lib/keys accepts, a genesis geth initialises. */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { decryptKeystore, parseKeystore } from "../../lib/keys/keystore";
import { clientBinaries } from "../support/chainClients";
import { ChainRelease, DEPOSIT_CONTRACT, generateChainRelease, interopSecret } from "../support/chainRelease";

const bins = clientBinaries();
const schedule = { baseTime: 1_800_000_000 - 100 * 600, periodSec: 600, genesisDelaySec: 60, chainIdBase: 39438000 };
let release: ChainRelease;

beforeAll(async () => {
  release = await generateChainRelease({ iteration: 100, schedule, validators: 4, secondsPerSlot: 3, prysmctl: bins.prysmctl, geth: bins.geth, bootEnrs: ["enr:-AAA"], bootEnodes: ["enode://ab@127.0.0.1:30303"] });
});

const text = (name: string) => release.files[name].toString();
const envOf = (name: string) => Object.fromEntries(text(name).trim().split("\n").map((l) => /^(?:export )?([A-Z_]+)="(.*)"$/.exec(l)!.slice(1, 3)));

test("the interop key of validator 0 is the spec's", () => {
  // eth2.0-pm interop: the first mock-start private key.
  expect(interopSecret(0).toString("hex")).toBe("25295f0d1d592a90b333e26e85149708208e9f8e8bc18f6c77bd62f8ad7a6866");
});

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

test("the keystores pass lib/keys validation and decrypt to the interop secrets", () => {
  expect(release.keys).toHaveLength(4);
  for (const k of release.keys) {
    const parsed = parseKeystore(k.keystore);
    expect(parsed.pubkey).toBe(k.pubkey);
    expect(decryptKeystore(parsed.keystore, k.password)).toEqual(interopSecret(k.index));
    expect(decryptKeystore(parsed.keystore, "wrong")).toBeUndefined();
  }
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
