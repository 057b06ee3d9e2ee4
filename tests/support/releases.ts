/** Ephemery releases as the tests publish them: real files, real tar archives, a GitHub-style server on loopback. */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { NetworkConfig, networkSchema } from "../../lib/config/schema";
import { chainIdOf, clGenesisTime, elGenesisTime, releaseTag } from "../../lib/ephemery";

/** The files of a release as Ephemery publishes them, consistent with the 28-day schedule. */
export function releaseFiles(iteration: number): Record<string, string> {
  const cid = chainIdOf(iteration);
  const el = elGenesisTime(iteration);
  const cl = clGenesisTime(iteration);
  const tag = releaseTag(iteration);
  const enr = `enr:-test-${iteration}`;
  return {
    "config.yaml": `PRESET_BASE: mainnet\nCONFIG_NAME: ephemery\nMIN_GENESIS_TIME: ${el}\nGENESIS_DELAY: 600\nDEPOSIT_CHAIN_ID: ${cid}\nDEPOSIT_NETWORK_ID: ${cid}\n`,
    "genesis.json": `{\n  "config": {\n    "chainId": ${cid},\n    "homesteadBlock": 0\n  },\n  "timestamp": "0x${el.toString(16)}"\n}\n`,
    "besu.json": `{"config":{"chainId":${cid}}}\n`,
    "chainspec.json": `{"name":"ephemery","params":{"chainId":"0x${cid.toString(16)}"}}\n`,
    "genesis.ssz": crypto.createHash("sha256").update(`ssz-${iteration}`).digest("hex").repeat(8),
    "boot_enr.yaml": `- ${enr}\n`,
    "boot_enr.txt": `${enr}\n`,
    "bootstrap_nodes.txt": `${enr}\n`,
    "boot_enode.txt": `enode://test${iteration}@127.0.0.1:30303\n`,
    "deploy_block.txt": "0\n",
    "genesis_validators_root.txt": `0x${crypto.createHash("sha256").update(`gvr-${iteration}`).digest("hex")}\n`,
    "nodevars_env.txt": [
      `ITERATION_NUMBER="${iteration}"`, `CHAIN_ID="${cid}"`, `BOOTNODE_ENR="${enr}"`, `BOOTNODE_ENR_LIST="${enr}"`,
      `BOOTNODE_ENODE="enode://test${iteration}@127.0.0.1:30303"`, `BOOTNODE_ENODE_LIST="enode://test${iteration}@127.0.0.1:30303"`,
      `GENESIS_TIME="${cl}"`, `GENESIS_VALROOT="0x00"`, `GENESIS_BLOCK="0x00"`, "",
    ].join("\n"),
    "retention.vars": [
      `export ITERATION_NUMBER="${iteration}"`, `export ITERATION_RELEASE="${tag}"`, `export GENESIS_TIMESTAMP="${el}"`,
      `export GENESIS_RESET_INTERVAL="2419200"`, `export CHAIN_ID="${cid}"`, "",
    ].join("\n"),
  };
}

/** Builds testnet-all.tar.gz with real tar; `extra` adds members with names tar would otherwise refuse (../x). */
export function buildArchive(
  files: Record<string, string>,
  opts: { symlinks?: Record<string, string>; outsideFile?: string } = {},
): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-release-"));
  try {
    const src = path.join(dir, "release");
    fs.mkdirSync(src);
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(src, name), content);
    for (const [name, target] of Object.entries(opts.symlinks ?? {})) fs.symlinkSync(target, path.join(src, name));
    const out = path.join(dir, "testnet-all.tar.gz");
    const members = ["."];
    if (opts.outsideFile) {
      fs.writeFileSync(path.join(dir, opts.outsideFile), "written outside the release\n");
      // -P keeps the `../` in the member name, as a hostile archive would carry it.
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

  async start(): Promise<void> {
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
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
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
        latestUrl: `http://127.0.0.1:${this.port}/releases/latest`,
        archiveUrl: `http://127.0.0.1:${this.port}/download/{tag}/testnet-all.tar.gz`,
      },
    });
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

