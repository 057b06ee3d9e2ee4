/** Ephemery releases as the tests publish them: upstream's file set and layouts, real tar archives, a GitHub-style server on loopback. */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { NetworkConfig, networkSchema } from "../../lib/config/schema";
import { chainIdOf, clGenesisTime, elGenesisTime, releaseTag } from "../../lib/ephemery";
import { minBeaconStateBytes } from "../../lib/reset/release";

/** The two layouts of testnet-all.tar.gz: generator 5.x ("legacy", with besu.json and chainspec.json) and 6.x. */
export type ReleaseLayout = "legacy" | "genesis-json";

export interface ReleaseOptions {
  /** Default "legacy", what releases carried until genesis generator 6.x. */
  layout?: ReleaseLayout;
  /** Fork epochs written to config.yaml (default: electra and fulu at 0, gloas at FAR_FUTURE_EPOCH). */
  forkEpochs?: Partial<Record<"electra" | "fulu" | "gloas", bigint | number>>;
  /** GENESIS_RESET_INTERVAL and EPHEMERY_RESET_PERIOD (default 2419200). */
  periodSec?: number;
  /** EL genesis (default: the closed form of lib/ephemery.ts). */
  elGenesis?: number;
  /** genesis.ssz size (default: the smallest mainnet-preset BeaconState). */
  sszBytes?: number;
}

/** Known text files are strings (tests edit them); genesis.ssz is binary. Names may hold one `dir/`. */
export type ReleaseFileSet = Record<string, string | Buffer> &
  Record<"config.yaml" | "genesis.json" | "retention.vars" | "nodevars_env.txt" | "genesis_validators_root.txt", string> & { "genesis.ssz": Buffer };

const FORK_VERSIONS = {
  GENESIS: "0x1000101b", ALTAIR: "0x2000101b", BELLATRIX: "0x3000101b", CAPELLA: "0x4000101b",
  DENEB: "0x5000101b", ELECTRA: "0x6000101b", FULU: "0x7000101b", GLOAS: "0x8000101b",
};

/** A genesis.ssz with a real BeaconState head (genesis_time, genesis_validators_root, slot 0, fork) and the size of one. */
export function genesisSsz(genesisTime: number, validatorsRoot: string, forkVersion: string, sizeBytes = minBeaconStateBytes("mainnet")): Buffer {
  const b = Buffer.alloc(sizeBytes);
  b.writeBigUInt64LE(BigInt(genesisTime), 0);
  Buffer.from(validatorsRoot.slice(2), "hex").copy(b, 8);
  Buffer.from(forkVersion.slice(2), "hex").copy(b, 48);
  Buffer.from(forkVersion.slice(2), "hex").copy(b, 52);
  return b;
}

/**
 * The files of a release as ephemery-testnet/ephemery-genesis publishes testnet-all.tar.gz (scripts/build-genesis.sh,
 * build-bootnodes.sh, build-nodevars.sh, build-legacy-config.sh): the generator's metadata/ flattened, the legacy
 * copies (boot_enr.*, boot_enode.txt, bootnode.txt, deploy_block.txt), parsedBeaconState.json,
 * validator-names.yaml, retention.vars and bootnode-keys/. Consistent with the 28-day schedule unless told otherwise.
 */
export function releaseFiles(iteration: number, opts: ReleaseOptions = {}): ReleaseFileSet {
  const cid = chainIdOf(iteration);
  const period = opts.periodSec ?? 2_419_200;
  const el = opts.elGenesis ?? elGenesisTime(iteration);
  const cl = el + (clGenesisTime(iteration) - elGenesisTime(iteration));
  const tag = releaseTag(iteration);
  const far = 18446744073709551615n;
  const epochs = { electra: 0n, fulu: 0n, gloas: far, ...opts.forkEpochs };
  const enrs = [`enr:-Iq4QTest${iteration}a`, `enr:-Iq4QTest${iteration}b`];
  const enodes = [`enode://${"ab".repeat(64)}@127.0.0.1:30303`, `enode://${"cd".repeat(64)}@127.0.0.2:30303`];
  const gvr = `0x${crypto.createHash("sha256").update(`gvr-${iteration}`).digest("hex")}`;
  const blockHash = `0x${crypto.createHash("sha256").update(`block-${iteration}`).digest("hex")}`;
  const atGenesis = (["gloas", "fulu", "electra"] as const).find((f) => BigInt(epochs[f]) === 0n);
  const genesisVersion = atGenesis ? FORK_VERSIONS[atGenesis.toUpperCase() as "ELECTRA"] : FORK_VERSIONS.DENEB;
  const elForkTime = (e: bigint | number) => (BigInt(e) === 0n ? el : cl + Number(e) * 384);
  const elForks: Record<string, number> = { shanghaiTime: el, cancunTime: el };
  if (BigInt(epochs.electra) !== far) elForks.pragueTime = elForkTime(epochs.electra);
  if (BigInt(epochs.fulu) !== far) elForks.osakaTime = elForkTime(epochs.fulu);
  if (BigInt(epochs.gloas) !== far) elForks.amsterdamTime = elForkTime(epochs.gloas);
  const config = [
    "PRESET_BASE: mainnet",
    "CONFIG_NAME: testnet # needs to exist because of Prysm. Otherwise it conflicts with mainnet genesis",
    "MIN_GENESIS_ACTIVE_VALIDATOR_COUNT: 64",
    `MIN_GENESIS_TIME: ${el}`,
    `GENESIS_FORK_VERSION: ${FORK_VERSIONS.GENESIS}`,
    "GENESIS_DELAY: 600",
    `ALTAIR_FORK_VERSION: ${FORK_VERSIONS.ALTAIR}`, "ALTAIR_FORK_EPOCH: 0",
    `BELLATRIX_FORK_VERSION: ${FORK_VERSIONS.BELLATRIX}`, "BELLATRIX_FORK_EPOCH: 0",
    "TERMINAL_TOTAL_DIFFICULTY: 0",
    `CAPELLA_FORK_VERSION: ${FORK_VERSIONS.CAPELLA}`, "CAPELLA_FORK_EPOCH: 0",
    `DENEB_FORK_VERSION: ${FORK_VERSIONS.DENEB}`, "DENEB_FORK_EPOCH: 0",
    `ELECTRA_FORK_VERSION: ${FORK_VERSIONS.ELECTRA}`, `ELECTRA_FORK_EPOCH: ${epochs.electra}`,
    `FULU_FORK_VERSION: ${FORK_VERSIONS.FULU}`, `FULU_FORK_EPOCH: ${epochs.fulu}`,
    `GLOAS_FORK_VERSION: ${FORK_VERSIONS.GLOAS}`, `GLOAS_FORK_EPOCH: ${epochs.gloas}`,
    "SECONDS_PER_SLOT: 12",
    `EPHEMERY_RESET_PERIOD: ${period}`,
    `DEPOSIT_CHAIN_ID: ${cid}`,
    `DEPOSIT_NETWORK_ID: ${cid}`,
    "DEPOSIT_CONTRACT_ADDRESS: 0x4242424242424242424242424242424242424242",
    "BLOB_SCHEDULE:",
    "  - EPOCH: 2048",
    "    MAX_BLOBS_PER_BLOCK: 12",
    "",
  ].join("\n");
  const genesis = JSON.stringify({ config: { chainId: cid, homesteadBlock: 0, ...elForks }, timestamp: `0x${el.toString(16)}`, gasLimit: "0x3938700", alloc: {} }, null, 2);
  const files: ReleaseFileSet = {
    "config.yaml": config,
    "genesis.json": `${genesis}\n`,
    "genesis.ssz": genesisSsz(cl, gvr, genesisVersion, opts.sszBytes),
    "genesis_validators_root.txt": `${gvr}\n`,
    "boot_enr.yaml": enrs.map((e) => `- ${e}\n`).join(""),
    "boot_enr.txt": enrs.map((e) => `${e}\n`).join(""),
    "bootstrap_nodes.txt": enrs.map((e) => `${e}\n`).join(""),
    "bootstrap_nodes.yaml": enrs.map((e) => `- ${e}\n`).join(""),
    "enodes.txt": enodes.map((e) => `${e}\n`).join(""),
    "boot_enode.txt": enodes.map((e) => `${e}\n`).join(""),
    "bootnode.txt": enodes.map((e) => `${e}\n`).join(""),
    "deposit_contract.txt": "0x4242424242424242424242424242424242424242\n",
    "deposit_contract_block.txt": "0\n",
    "deploy_block.txt": "0\n",
    "deposit_contract_block_hash.txt": `${blockHash}\n`,
    "parsedBeaconState.json": `${JSON.stringify({ genesis_time: String(cl), genesis_validators_root: gvr, eth1_data: { block_hash: blockHash } })}\n`,
    "validator-names.yaml": '0: "gvr_seed"\n1-64: "ephemery-node1"\n',
    "bootnode-keys/bootnode_pk.enr": `${enrs[0]}\n`,
    "bootnode-keys/bootnode_pk.key.enc": crypto.createHash("sha256").update(`key-${iteration}`).digest("hex"),
    "nodevars_env.txt": [
      `ITERATION_NUMBER="${iteration}"`, `CHAIN_ID="${cid}"`, `BOOTNODE_ENR="${enrs[0]}"`, `BOOTNODE_ENR_LIST="${enrs.join(",")}"`,
      `BOOTNODE_ENODE="${enodes[0]}"`, `BOOTNODE_ENODE_LIST="${enodes.join(",")}"`,
      `GENESIS_TIME="${cl}"`, `GENESIS_VALROOT="${gvr}"`, `GENESIS_BLOCK="${blockHash}"`, "",
    ].join("\n"),
    "retention.vars": [
      `export ITERATION_NUMBER="${iteration}"`, `export ITERATION_RELEASE="${tag}"`, `export GENESIS_TIMESTAMP="${el}"`,
      `export GENESIS_RESET_INTERVAL="${period}"`, `export CHAIN_ID="${cid}"`, "",
    ].join("\n"),
  };
  if ((opts.layout ?? "legacy") === "legacy") {
    files["besu.json"] = `${JSON.stringify({ config: { chainId: cid, discovery: { bootnodes: enodes } }, timestamp: `0x${el.toString(16)}` })}\n`;
    files["chainspec.json"] = `${JSON.stringify({ name: "ephemery", params: { chainID: `0x${cid.toString(16)}` }, nodes: enodes })}\n`;
  }
  return files;
}

/**
 * Builds testnet-all.tar.gz with real tar, flat like upstream's `cd dist2 && tar cfz testnet-all.tar.gz *`;
 * `outsideFile` adds a member with a `../` name, as a hostile archive would carry it.
 */
export function buildArchive(
  files: Record<string, string | Buffer>,
  opts: { symlinks?: Record<string, string>; outsideFile?: string } = {},
): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-release-"));
  try {
    const src = path.join(dir, "release");
    fs.mkdirSync(src);
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
      fs.writeFileSync(path.join(src, name), content);
    }
    for (const [name, target] of Object.entries(opts.symlinks ?? {})) fs.symlinkSync(target, path.join(src, name));
    const out = path.join(dir, "testnet-all.tar.gz");
    const members = fs.readdirSync(src).sort();
    if (opts.outsideFile) {
      fs.writeFileSync(path.join(dir, opts.outsideFile), "written outside the release\n");
      // -P keeps the `../` in the member name.
      members.push(`../${opts.outsideFile}`);
    }
    execFileSync("tar", ["-czPf", out, "-C", src, ...members]);
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export type ServerMode = "up" | "down" | "error";

/** A GitHub-style release source on loopback: /releases/latest and /download/<tag>/testnet-all.tar.gz. */
export class ReleaseServer {
  mode: ServerMode = "up";
  latest?: string;
  readonly archives = new Map<string, Buffer>();
  /** When each tag was first served (ms), for the benchmark. */
  readonly requests: { path: string; at: number }[] = [];
  private server?: http.Server;
  port = 0;

  host = "127.0.0.1";

  /** Listens on `host` (loopback by default; the k8s tier binds the pods' bridge address) and `port` (0: any). */
  async start(host = "127.0.0.1", port = 0): Promise<void> {
    this.host = host;
    this.server = http.createServer((req, res) => {
      this.requests.push({ path: req.url ?? "", at: Date.now() });
      if (this.mode === "down") { req.socket.destroy(); return; }
      if (this.mode === "error") { res.writeHead(503); res.end("unavailable"); return; }
      if (req.url === "/releases/latest" && this.latest) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ url: "https://example.invalid", tag_name: this.latest, name: this.latest, draft: false }, null, 2));
        return;
      }
      const m = /^\/download\/([^/]+)\/testnet-all\.tar\.gz$/.exec(req.url ?? "");
      const body = m ? this.archives.get(m[1]) : undefined;
      if (body) { res.writeHead(200, { "content-type": "application/gzip" }); res.end(body); return; }
      res.writeHead(404); res.end("not found");
    });
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    this.port = (this.server!.address() as net.AddressInfo).port;
  }

  /** Publishes a release and makes it "latest". */
  publish(iteration: number, archive: Buffer = buildArchive(releaseFiles(iteration))): void {
    const tag = releaseTag(iteration);
    this.archives.set(tag, archive);
    this.latest = tag;
  }

  get network(): NetworkConfig {
    return networkSchema.parse({
      release: {
        latestUrl: `http://${this.host}:${this.port}/releases/latest`,
        archiveUrl: `http://${this.host}:${this.port}/download/{tag}/testnet-all.tar.gz`,
      },
    });
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

