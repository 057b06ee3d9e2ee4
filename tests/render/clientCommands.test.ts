/**
 * Every client's container command, built with values at the edge of what the schema allows (extra flags full
 * of shell syntax, graffiti with every allowed symbol, the checkpoint URL file the reset program writes), run
 * for real in a container of stand-in binaries on the real Docker engine: each value reaches the client as
 * the same single argument, and a marker command embedded in them never runs.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildNodeSpecs } from "../../lib/clients";
import { hostPaths } from "../../lib/clients/types";
import { renderCompose, serviceName } from "../../lib/compose";
import { ContainerSpec } from "../../lib/clients/types";
import { CONSENSUS_CLIENTS, EXECUTION_CLIENTS, VALIDATOR_CLIENTS } from "../../lib/config/clients";
import { hostSchema } from "../../lib/config/schema";
import { busyboxImage, docker } from "../support/dockerd";

const MARKER = "/tmp/MARKER";
const EXTRA_ARGS = [`--x=$(touch ${MARKER})`, `\`touch ${MARKER}\``, `;touch ${MARKER}`, `&touch ${MARKER}`, "a  b", "'", '"', "*", "$HOME", "-"];
const GRAFFITI = "gm! (#1) *?[]{}~^=+,.:/@% 2026";
/** The reset program writes the chosen provider to testnet/checkpoint-sync-url; each CL reads it at start. */
const CHECKPOINT_URL = "https://cp-1.example.org:8443/a_b.c/d-e";
const FEE = `0x${"ab".repeat(20)}`;

/** Stand-in for a client binary: prints its name and argv (NUL-separated, one record per call) and whether the marker exists. */
const STUB = `#!/bin/sh
{ printf '%s\\036' "$0"; for a in "$@"; do printf '%s\\037' "$a"; done; if [ -e ${MARKER} ]; then printf 'marker=yes'; else printf 'marker=no'; fi; printf '\\035'; }
`;

function specs(i: number, node = "n1", dataDir = "/var/lib/ephemery"): ContainerSpec[] {
  const host = hostSchema.parse({
    name: node, kind: "local", dataDir,
    execution: { client: EXECUTION_CLIENTS[i], extraArgs: EXTRA_ARGS },
    consensus: { client: CONSENSUS_CLIENTS[i], extraArgs: EXTRA_ARGS, checkpointSyncUrls: [CHECKPOINT_URL] },
    validator: { client: VALIDATOR_CLIENTS[i], feeRecipient: FEE, graffiti: GRAFFITI, extraArgs: EXTRA_ARGS },
  });
  const s = buildNodeSpecs({ node, host, checkpointSyncUrls: host.consensus.checkpointSyncUrls! });
  return [s.execution, s.consensus, s.validator!];
}
const allSpecs = [0, 1, 2, 3, 4].flatMap((i) => specs(i));

/** The programs a spec runs: its entrypoint, or for `sh -c` bodies the words after `exec` and `then`. */
function programsOf(s: ContainerSpec): string[] {
  const entry = s.entrypoint ?? [];
  if (entry[0] !== "/bin/sh") return entry.slice(0, 1);
  return [...s.command[0].matchAll(/(?:^exec |\bthen )([^\s;]+)/gm)].map((m) => m[1]).filter((p) => p !== "[");
}

let image: string;
beforeAll(() => {
  const files: Record<string, { content: string; mode?: number }> = {
    "ephemery/testnet/current/nodevars_env.txt": { content: "CHAIN_ID=39438150\nBOOTNODE_ENR_LIST=enr:-a,enr:-b\nBOOTNODE_ENODE_LIST=enode://x@127.0.0.1:1\nGENESIS_BLOCK=0x00\n" },
    "ephemery/testnet/checkpoint-sync-url": { content: `${CHECKPOINT_URL}\n` },
    "ephemery/jwt/jwt.hex": { content: "00".repeat(32) },
    "ephemery/validator-keys/current/lighthouse/validator_definitions.yml": { content: "[]\n" },
    "ephemery/validator-keys/current/nimbus/validators/.keep": { content: "" },
    "ephemery/validator-keys/current/nimbus/secrets/.keep": { content: "" },
  };
  for (const p of new Set(allSpecs.flatMap(programsOf))) files[p.startsWith("/") ? p.slice(1) : `usr/local/bin/${p}`] = { content: STUB, mode: 0o755 };
  image = busyboxImage("ephemery-client-stubs", files);
}, 120_000);

interface Call { program: string; args: string[]; marker: boolean }
function runSpec(s: ContainerSpec): Call[] {
  const entry = s.entrypoint ?? [];
  const env = Object.entries(s.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  return parseCalls(docker(["run", "--rm", "--network", "none", ...env, ...(entry.length ? ["--entrypoint", entry[0]] : []), image, ...entry.slice(1), ...s.command]));
}
function parseCalls(out: string): Call[] {
  return out.split("\x1d").filter((rec) => rec.includes("\x1e")).map((rec) => {
    const [program, rest] = rec.split("\x1e");
    const parts = rest.split("\x1f");
    return { program, args: parts.slice(0, -1), marker: parts[parts.length - 1] === "marker=yes" };
  });
}

function expectDelivered(spec: ContainerSpec, calls: Call[]): void {
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.map((c) => c.marker)).toEqual(calls.map(() => false));
    const client = calls[calls.length - 1];
    // The extra flags arrive together, in order, each as it was written (nimbus adds its bootnodes after them).
    const first = client.args.indexOf(EXTRA_ARGS[0]);
    expect(client.args.slice(first, first + EXTRA_ARGS.length)).toEqual(EXTRA_ARGS);
    if (spec.role === "validator") expect(client.args.filter((a) => a.endsWith(`=${GRAFFITI}`))).toHaveLength(1);
    if (spec.role === "consensus") {
      const urlArgs = calls.flatMap((c) => c.args).filter((a) => a.includes(CHECKPOINT_URL.slice(0, 12)));
      expect(urlArgs.length).toBeGreaterThan(0);
      expect(urlArgs.filter((a) => !a.endsWith(`=${CHECKPOINT_URL}`))).toEqual([]);
    }
}

describe.each(allSpecs.map((s) => [`${s.role} ${s.client}`, s] as const))("%s", (_name, spec) => {
  test("every value reaches the client as one argument, and nothing in them runs (docker runtime)", () => {
    expectDelivered(spec, runSpec(spec));
  });
});

/** The compose runtime: the rendered docker-compose.yml run by the compose tool itself, one project per client set. */
describe.each([0, 1, 2, 3, 4])("compose runtime, client set %i", (i) => {
  const node = `rc${process.pid}x${i}`;
  let dataDir: string;
  let file: string;
  let nodeSpecs: ContainerSpec[];
  const compose = (...args: string[]) => execFileSync("docker-compose", ["-p", node, "-f", file, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-compose-cmd-"));
    const paths = hostPaths(dataDir, node);
    const put = (p: string, content: string) => { fs.mkdirSync(path.dirname(p), { recursive: true }); fs.writeFileSync(p, content); };
    put(`${paths.testnet}/nodevars_env.txt`, "CHAIN_ID=39438150\nBOOTNODE_ENR_LIST=enr:-a,enr:-b\nBOOTNODE_ENODE_LIST=enode://x@127.0.0.1:1\nGENESIS_BLOCK=0x00\n");
    put(`${paths.testnetRoot}/checkpoint-sync-url`, `${CHECKPOINT_URL}\n`);
    put(paths.jwt, "00".repeat(32));
    put(`${paths.keysRoot}/current/lighthouse/validator_definitions.yml`, "[]\n");
    put(`${paths.keysRoot}/current/nimbus/validators/.keep`, "");
    put(`${paths.keysRoot}/current/nimbus/secrets/.keep`, "");
    nodeSpecs = specs(i, node, dataDir).map((s) => ({ ...s, image }));
    file = path.join(dataDir, "docker-compose.yml");
    fs.writeFileSync(file, renderCompose(node, nodeSpecs));
  });
  afterAll(() => {
    try { compose("down", "-v", "--remove-orphans"); } catch { /* nothing created */ }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test.each(["execution", "consensus", "validator"] as const)("%s: every value reaches the client as one argument, and nothing in them runs", (role) => {
    const spec = nodeSpecs.find((s) => s.role === role)!;
    expectDelivered(spec, parseCalls(compose("run", "--rm", "--no-deps", "-T", serviceName(spec.name, node))));
  });
});
