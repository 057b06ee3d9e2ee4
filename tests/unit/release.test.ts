/** The release checker (lib/reset/release.ts) against upstream-shaped releases, one broken field per case. */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildNodeSpecs } from "../../lib/clients";
import { hostSchema, networkSchema } from "../../lib/config/schema";
import { chainIdOf, clGenesisTime, DEFAULT_SCHEDULE, elGenesisTime } from "../../lib/ephemery";
import { forkSupport, versionOf } from "../../lib/reset/forks";
import { directoryReader, parseConfigYaml, parseKeyValues, ReleasePolicy, ReleaseReader, verifyRelease } from "../../lib/reset/release";
import { releaseCheckerSource, releasePolicy } from "../../lib/reset/releaseRunner";
import { requiredReleaseFiles } from "../../lib/reset/values";
import { buildArchive, genesisSsz, ReleaseFileSet, releaseFiles } from "../support/releases";

const I = 160;

function reader(files: Record<string, string | Buffer>): ReleaseReader {
  return {
    exists: (n) => n in files,
    text: (n) => (n in files ? files[n].toString() : undefined),
    head: (n, bytes) => (n in files ? { head: Buffer.from(files[n]).subarray(0, bytes), size: Buffer.from(files[n]).length } : undefined),
  };
}

function policyFor(el = "geth", cl = "lighthouse", network = networkSchema.parse({})): ReleasePolicy {
  const host = hostSchema.parse({ name: "n1", kind: "local", execution: { client: el }, consensus: { client: cl }, validator: { feeRecipient: `0x${"11".repeat(20)}` } });
  const specs = buildNodeSpecs({ node: "n1", host, checkpointSyncUrls: [] });
  return releasePolicy(network, specs, requiredReleaseFiles(specs));
}

const check = (files: Record<string, string | Buffer>, policy = policyFor()) => verifyRelease(reader(files), I, policy);

describe("verifyRelease", () => {
  test.each(["legacy", "genesis-json"] as const)("accepts an upstream release in the %s layout, with its facts", (layout) => {
    const v = check(releaseFiles(I, { layout }));
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.facts).toMatchObject({ iteration: I, chainId: chainIdOf(I), elGenesisTime: elGenesisTime(I), clGenesisTime: clGenesisTime(I), periodSec: 2_419_200, layout });
    expect(v.facts!.forks.map((f) => f.fork)).toEqual(["altair", "bellatrix", "capella", "deneb", "electra", "fulu"]);
    expect(v.scheduleMismatch).toEqual([]);
    expect(v.unsupportedForks).toEqual([]);
  });

  test.each([["besu", "teku"], ["nethermind", "nimbus"]])("%s hosts accept a release without besu.json and chainspec.json", (el, cl) => {
    const files = releaseFiles(I, { layout: "genesis-json" });
    expect(files["besu.json"]).toBeUndefined();
    expect(check(files, policyFor(el, cl)).ok).toBe(true);
  });

  test("a decoy chainId earlier in genesis.json does not pass", () => {
    const files = releaseFiles(I);
    const doc = JSON.parse(files["genesis.json"]);
    const decoy = { decoy: { chainId: chainIdOf(I) }, ...doc, config: { ...doc.config, chainId: 1 } };
    const v = check({ ...files, "genesis.json": JSON.stringify(decoy) });
    expect(v.ok).toBe(false);
    expect(v.problems.join("\n")).toMatch(/CHAIN_ID is "39438160", expected "1" \(genesis.json config.chainId\)/);
  });

  const edits: [string, (f: ReleaseFileSet) => void, RegExp][] = [
    ["DEPOSIT_CHAIN_ID disagrees with genesis.json", (f) => { f["config.yaml"] = f["config.yaml"].replace(`DEPOSIT_CHAIN_ID: ${chainIdOf(I)}`, "DEPOSIT_CHAIN_ID: 39438999"); }, /config.yaml DEPOSIT_CHAIN_ID is "39438999"/],
    ["genesis.ssz genesis_time is wrong", (f) => { f["genesis.ssz"].writeBigUInt64LE(BigInt(clGenesisTime(I) + 12), 0); }, /genesis.ssz genesis_time is "\d+", expected "\d+"/],
    ["genesis.ssz fork version is wrong", (f) => { Buffer.from("6000101b", "hex").copy(f["genesis.ssz"], 52); }, /genesis.ssz fork.current_version is "0x6000101b", expected "0x7000101b"/],
    ["genesis.ssz validators root differs from genesis_validators_root.txt", (f) => { f["genesis.ssz"].fill(7, 8, 40); }, /genesis_validators_root.txt is "0x[0-9a-f]{64}", expected "0x0707/],
    ["genesis.ssz is truncated", (f) => { f["genesis.ssz"] = f["genesis.ssz"].subarray(0, 4096); }, /genesis.ssz is 4096 bytes, smaller than any mainnet-preset BeaconState/],
    ["nodevars GENESIS_TIME is off", (f) => { f["nodevars_env.txt"] = f["nodevars_env.txt"].replace(`GENESIS_TIME="${clGenesisTime(I)}"`, `GENESIS_TIME="${clGenesisTime(I) + 604800}"`); }, /nodevars_env.txt GENESIS_TIME/],
    ["retention.vars and config.yaml disagree on the period", (f) => { f["retention.vars"] = f["retention.vars"].replace('GENESIS_RESET_INTERVAL="2419200"', 'GENESIS_RESET_INTERVAL="1209600"'); }, /EPHEMERY_RESET_PERIOD is "2419200", expected "1209600"/],
    ["the EL activates Osaka later than the CL activates Fulu", (f) => { const d = JSON.parse(f["genesis.json"]); d.config.osakaTime += 1200; f["genesis.json"] = JSON.stringify(d); }, /config.osakaTime is \d+, expected at most/],
    ["genesis.ssz is not a genesis state", (f) => { f["genesis.ssz"].writeBigUInt64LE(5n, 40); }, /genesis.ssz slot is 5, expected 0/],
    ["forks activate out of order", (f) => { f["config.yaml"] = f["config.yaml"].replace("ELECTRA_FORK_EPOCH: 0", "ELECTRA_FORK_EPOCH: 10"); }, /FULU_FORK_EPOCH 0 comes before ELECTRA_FORK_EPOCH 10/],
    ["config.yaml uses an alias", (f) => { f["config.yaml"] += "EXTRA: *anchor\n"; }, /anchor, alias/],
    ["config.yaml sets a key twice", (f) => { f["config.yaml"] += `DEPOSIT_CHAIN_ID: ${chainIdOf(I)}\n`; }, /sets DEPOSIT_CHAIN_ID twice/],
    ["nodevars_env.txt holds shell code", (f) => { f["nodevars_env.txt"] += 'X="$(touch /tmp/pwned)"\n'; }, /nodevars_env.txt line \d+ is not a KEY="value" line/],
    ["the tag and retention.vars disagree", (f) => { f["retention.vars"] = f["retention.vars"].replace(`ephemery-${I}"`, `ephemery-${I + 1}"`); }, /ITERATION_RELEASE is "ephemery-161", expected "ephemery-160"/],
  ];
  test.each(edits)("rejects a release where %s", (_what, edit, message) => {
    const files = releaseFiles(I);
    edit(files);
    const v = check(files);
    expect(v.ok).toBe(false);
    expect(v.problems.join("\n")).toMatch(message);
  });

  const CLS = ["lighthouse", "teku", "prysm", "nimbus", "lodestar"];
  test.each(CLS)("a release truncated below what %s reads is rejected, one missing file at a time", (cl) => {
    const policy = policyFor("geth", cl);
    for (const f of policy.requiredFiles) {
      const files: Record<string, string | Buffer> = { ...releaseFiles(I) };
      delete files[f];
      const v = check(files, policy);
      expect([f, v.ok]).toEqual([f, false]);
      expect(v.problems.join("\n")).toContain(`lacks ${f}`);
    }
  });

  test("what each consensus client reads is required", () => {
    expect(policyFor("geth", "lighthouse").requiredFiles).toEqual(expect.arrayContaining(["boot_enr.yaml", "deposit_contract_block.txt", "genesis.ssz", "config.yaml"]));
    expect(policyFor("geth", "nimbus").requiredFiles).toEqual(expect.arrayContaining(["bootstrap_nodes.txt", "deposit_contract_block.txt"]));
    expect(policyFor("besu", "teku").requiredFiles).not.toContain("besu.json");
    expect(policyFor("nethermind", "teku").requiredFiles).not.toContain("chainspec.json");
  });

  test("a self-consistent release on a new period is accepted and reported as a schedule mismatch", () => {
    const v = check(releaseFiles(I, { periodSec: 14 * 86400 }));
    expect(v.ok).toBe(true);
    expect(v.facts!.periodSec).toBe(14 * 86400);
    expect(v.scheduleMismatch).toEqual([expect.stringMatching(/^period 1209600 s in the release, 2419200 s in ephemery:network.schedule.periodSec/)]);
  });

  test("a genesis off the configured schedule is a mismatch; configuring the new schedule clears it", () => {
    const moved = elGenesisTime(I) + 7 * 86400;
    expect(check(releaseFiles(I, { elGenesis: moved })).scheduleMismatch).toEqual([expect.stringMatching(/^EL genesis \d+ in the release/)]);
    const network = networkSchema.parse({ schedule: { baseTime: DEFAULT_SCHEDULE.baseTime + 7 * 86400 } });
    expect(check(releaseFiles(I, { elGenesis: moved }), policyFor("geth", "lighthouse", network)).scheduleMismatch).toEqual([]);
  });

  test("a fork the pinned clients do not support is reported per client", () => {
    const v = check(releaseFiles(I, { forkEpochs: { gloas: 2048 } }));
    expect(v.ok).toBe(true);
    expect(v.unsupportedForks.map((u) => `${u.fork}@${u.epoch} ${u.role} ${u.client}`)).toEqual([
      "gloas@2048 execution geth", "gloas@2048 consensus lighthouse", "gloas@2048 validator lighthouse",
    ]);
  });

  test("an old pinned version is flagged for fulu, an unknown tag is not judged", () => {
    expect(forkSupport("lighthouse", "consensus", "sigp/lighthouse:v7.1.0")).toMatchObject({ forks: ["electra"], known: true });
    expect(forkSupport("nimbus", "consensus", "statusim/nimbus-eth2:multiarch-v25.11.0")).toMatchObject({ forks: ["electra", "fulu"] });
    expect(forkSupport("geth", "execution", "ethereum/client-go:latest")).toMatchObject({ known: false });
    expect(versionOf("v1.16.7")).toEqual([1, 16, 7]);
    expect(versionOf("25.11.1")).toEqual([25, 11, 1]);
  });
});

describe("the release fixture", () => {
  /** testnet-all.tar.gz as ephemery-genesis builds it (scripts/build-legacy-config.sh, then `cd dist2 && tar cfz ... *`). */
  const UPSTREAM = [
    "boot_enode.txt", "boot_enr.txt", "boot_enr.yaml", "bootnode-keys/", "bootnode-keys/bootnode_pk.enr", "bootnode-keys/bootnode_pk.key.enc",
    "bootnode.txt", "bootstrap_nodes.txt", "bootstrap_nodes.yaml", "config.yaml", "deploy_block.txt", "deposit_contract.txt",
    "deposit_contract_block.txt", "deposit_contract_block_hash.txt", "enodes.txt", "genesis.json", "genesis.ssz",
    "genesis_validators_root.txt", "nodevars_env.txt", "parsedBeaconState.json", "retention.vars", "validator-names.yaml",
  ];
  test.each([["legacy", ["besu.json", "chainspec.json"]], ["genesis-json", []]] as const)("builds the %s layout as a flat archive of upstream's file set", (layout, extra) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-fixture-"));
    try {
      fs.writeFileSync(path.join(dir, "a.tar.gz"), buildArchive(releaseFiles(I, { layout })));
      const names = execFileSync("tar", ["-tzf", path.join(dir, "a.tar.gz")], { encoding: "utf8" }).trim().split("\n").sort();
      expect(names).toEqual([...UPSTREAM, ...extra].sort());
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
    const nodevars = releaseFiles(I)["nodevars_env.txt"];
    expect(nodevars).not.toMatch(/export/);
    expect(nodevars.trim().split("\n").map((l) => l.split("=")[0])).toEqual(["ITERATION_NUMBER", "CHAIN_ID", "BOOTNODE_ENR", "BOOTNODE_ENR_LIST", "BOOTNODE_ENODE", "BOOTNODE_ENODE_LIST", "GENESIS_TIME", "GENESIS_VALROOT", "GENESIS_BLOCK"]);
  });
});

describe("parsers", () => {
  test("KEY=value lines with and without export; anything else is refused", () => {
    expect([...parseKeyValues('export A="1"\nB="x y"\n# c\nC=3\n', "f")]).toEqual([["A", "1"], ["B", "x y"], ["C", "3"]]);
    expect(() => parseKeyValues("A=`id`\n", "f")).toThrow(/line 1/);
    expect(() => parseKeyValues("A=1; rm -rf /\n", "f")).toThrow(/line 1/);
  });
  test("config.yaml: scalars, comments, a block key; aliases, tags and merge keys refused", () => {
    const m = parseConfigYaml("A: 1 # c\nB: 'q'\nBLOB_SCHEDULE:\n  - EPOCH: 1\n    MAX_BLOBS_PER_BLOCK: 2\nC: x#y\n");
    expect(m.get("A")).toBe("1");
    expect(m.get("B")).toBe("q");
    expect(m.get("C")).toBe("x#y");
    expect(m.get("BLOB_SCHEDULE")).toBe("- EPOCH: 1\nMAX_BLOBS_PER_BLOCK: 2");
    for (const bad of ["A: &a 1\n", "A: !!str 1\n", "<<: x\n", "A:\n  - *a\n", "  x: 1\n"]) expect(() => parseConfigYaml(bad)).toThrow();
  });
});

describe("the shipped checker", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const run = (files: Record<string, string | Buffer>, symlink?: [string, string]) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-check-"));
    dirs.push(dir);
    const rel = path.join(dir, "release");
    for (const [n, c] of Object.entries(files)) { fs.mkdirSync(path.dirname(path.join(rel, n)), { recursive: true }); fs.writeFileSync(path.join(rel, n), c); }
    if (symlink) fs.symlinkSync(symlink[1], path.join(rel, symlink[0]));
    fs.writeFileSync(path.join(dir, "check.js"), releaseCheckerSource());
    try {
      return { code: 0, out: execFileSync("node", [path.join(dir, "check.js"), "verify", rel, String(I), JSON.stringify(policyFor())], { encoding: "utf8" }) };
    } catch (e) {
      const err = e as { status: number; stdout: string };
      return { code: err.status, out: err.stdout };
    }
  };

  test("is one file that requires only Node built-ins", () => {
    const js = releaseCheckerSource();
    expect([...js.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]).sort()).toEqual(["fs", "path"]);
  });

  test("runs under node: exit 0 and the verdict lines for a good release", () => {
    const r = run(releaseFiles(I, { forkEpochs: { gloas: 100 } }));
    expect(r.code).toBe(0);
    expect(r.out).toContain("verdict=ok\n");
    expect(r.out).toContain(`chain_id=${chainIdOf(I)}\n`);
    expect(r.out).toContain("unsupported_fork=gloas 100 execution geth v1.16.7\n");
  });

  test("exit 1 with a one-line reason for a bad one; a linked file is refused, not followed", () => {
    const files: Record<string, string | Buffer> = { ...releaseFiles(I) };
    delete files["genesis_validators_root.txt"];
    const target = path.join(os.tmpdir(), `ephemery-gvr-${process.pid}`);
    fs.writeFileSync(target, "0x00\n");
    try {
      const r = run(files, ["genesis_validators_root.txt", target]);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/^verdict=reject\nreason=release file genesis_validators_root.txt is a link\n$/);
    } finally { fs.rmSync(target); }
  });

  test("bounds what it reads: an oversized genesis.json and a FIFO are refused without being read", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-bounds-"));
    dirs.push(dir);
    for (const [n, c] of Object.entries(releaseFiles(I))) { fs.mkdirSync(path.dirname(path.join(dir, n)), { recursive: true }); fs.writeFileSync(path.join(dir, n), c); }
    fs.truncateSync(path.join(dir, "genesis.json"), 65 * 1024 * 1024);   // sparse: nothing is written
    expect(verifyRelease(directoryReader(dir), I, policyFor()).problems).toEqual([`release file genesis.json is ${65 * 1024 * 1024} bytes, above its ${64 * 1024 * 1024}-byte limit`]);
    fs.rmSync(path.join(dir, "genesis.json"));
    execFileSync("mkfifo", [path.join(dir, "genesis.json")]);
    expect(verifyRelease(directoryReader(dir), I, policyFor()).problems).toEqual(["release file genesis.json is not a regular file"]);
  });

  test("genesisSsz writes the header fields at their offsets", () => {
    const b = genesisSsz(5, `0x${"ab".repeat(32)}`, "0x7000101b", 128);
    expect(b.readBigUInt64LE(0)).toBe(5n);
    expect(b.subarray(8, 40).toString("hex")).toBe("ab".repeat(32));
    expect(b.subarray(52, 56).toString("hex")).toBe("7000101b");
  });
});
