/**
 * Drift on a host. Command resources cannot see what happens on a machine after they ran (pulumi-command has
 * no Read), so `pulumi refresh` alone finds nothing there. A HostDrift reads the host at refresh (digest and
 * mode of the files it watches, whether each container runs the image it should) and, at the next `up`, puts
 * back what drifted: it rewrites those files from the content it holds and converges the compose project again.
 * Legitimate changes stay the owners' job: the guard runs after them and only records their new state.
 */
import * as pulumi from "@pulumi/pulumi";
import { HostConnection } from "./hostCommand";

export interface WatchedFile {
  readonly path: string;
  /** Octal mode the file must have, e.g. "0600". */
  readonly mode: string;
  /** The content the owner wrote; a secret stays a secret (it is kept encrypted in state). */
  readonly content: pulumi.Input<string>;
  /** Octal mode of the file's directory when a repair has to make it again (a secret's "0700"). Default: the umask's. */
  readonly dirMode?: string;
}

export interface HostDriftArgs {
  readonly connection: HostConnection;
  readonly files: WatchedFile[];
  /** The node's compose project: the command prefix (`docker-compose -p node -f file`) and the containers it runs. Default: none. */
  readonly compose?: { command: string; containers: { name: string; image: string }[] };
}

/** What a host should hold (from the inputs) or holds (from a read): `path -> "<sha256> <mode>"`, `container -> "running <image>"`. */
export interface HostState {
  files: Record<string, string>;
  containers: Record<string, string>;
}

type FileRef = { path: string; mode: string; dirMode?: string };

interface DriftInputs {
  connection?: { host: string; port?: number; user?: string; privateKey?: string };
  sudo: boolean;
  files: { path: string; mode: string; content: string; dirMode?: string }[];
  compose?: { command: string; containers: { name: string; image: string }[] };
}

/**
 * What the engine stores as the resource's inputs: each file's content gzipped (base64). State is written whole at
 * every step of an update, so its size costs the CLI per step and per host; the reset program alone is ~57 KB.
 */
interface PackedInputs extends Omit<DriftInputs, "files"> {
  files: (FileRef & { contentGz: string })[];
}

/** Stored files with their content unpacked (the provider's, and tests' view of the guard's inputs). */
export function unpackedFiles(files: PackedInputs["files"]): DriftInputs["files"] {
  const zlib = require("zlib") as typeof import("zlib");
  return files.map(({ contentGz, ...f }) => ({ ...f, content: zlib.gunzipSync(Buffer.from(contentGz, "base64")).toString("utf8") }));
}

/** The inputs as the pure functions below take them. */
function unpack(inputs: PackedInputs): DriftInputs {
  return { ...inputs, files: unpackedFiles(inputs.files) };
}

/** Files without their content: outputs need only paths and modes (a repair writes the content of the new inputs). */
function fileRefs(files: FileRef[]): FileRef[] {
  return files.map((f) => ({ path: f.path, mode: f.mode, ...(f.dirMode ? { dirMode: f.dirMode } : {}) }));
}

interface DriftOutputs extends Omit<DriftInputs, "files"> {
  files: FileRef[];
  expected: HostState;
  observed: HostState;
  /** How many `up`s found drift and repaired it. */
  repairs: number;
  /** What the last repair put back. */
  repaired: string[];
}

/** The state the inputs describe. Pure. */
export function expectedState(inputs: Pick<DriftInputs, "files" | "compose">): HostState {
  const crypto = require("crypto") as typeof import("crypto");
  const files: Record<string, string> = {};
  for (const f of inputs.files) files[f.path] = `${crypto.createHash("sha256").update(f.content).digest("hex")} ${parseInt(f.mode, 8).toString(8)}`;
  const containers: Record<string, string> = {};
  for (const c of inputs.compose?.containers ?? []) containers[c.name] = `running ${c.image}`;
  return { files, containers };
}

/** Keys whose observed value differs from the expected one (`file:<path>`, `container:<name>`). Pure. */
export function driftedKeys(expected: HostState, observed: HostState | undefined): string[] {
  const out: string[] = [];
  for (const [p, v] of Object.entries(expected.files)) if (observed?.files[p] !== v) out.push(`file:${p}`);
  for (const [n, v] of Object.entries(expected.containers)) if (observed?.containers[n] !== v) out.push(`container:${n}`);
  return out;
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A bash script printing one line per watched item: `f<i> <sha256> <mode>` / `f<i> missing`, `c<i> <running> <image>`. */
export function observeScript(inputs: { files: FileRef[]; compose?: DriftInputs["compose"] }): string {
  const lines = ["set -uo pipefail"];
  inputs.files.forEach((f, i) => {
    const p = quote(f.path);
    lines.push(`if [ -f ${p} ]; then echo "f${i} $(sha256sum < ${p} | cut -c1-64) $(stat -c %a ${p})"; else echo "f${i} missing"; fi`);
  });
  (inputs.compose?.containers ?? []).forEach((c, i) => {
    lines.push(`echo "c${i} $(docker inspect -f '{{.State.Running}} {{.Config.Image}}' ${quote(c.name)} 2>/dev/null || echo missing)"`);
  });
  return `${lines.join("\n")}\n`;
}

/** Parses what `observeScript` printed into a HostState. Pure. */
export function parseObserved(inputs: { files: FileRef[]; compose?: DriftInputs["compose"] }, out: string): HostState {
  const byKey = new Map(out.split("\n").filter(Boolean).map((l) => [l.split(" ")[0], l.slice(l.indexOf(" ") + 1)]));
  const files: Record<string, string> = {};
  inputs.files.forEach((f, i) => { files[f.path] = byKey.get(`f${i}`) ?? "unreadable"; });
  const containers: Record<string, string> = {};
  (inputs.compose?.containers ?? []).forEach((c, i) => {
    const v = byKey.get(`c${i}`) ?? "unreadable";
    containers[c.name] = v.startsWith("true ") ? `running ${v.slice(5)}` : v.startsWith("false ") ? `stopped ${v.slice(6)}` : v;
  });
  return { files, containers };
}

/** A bash script that rewrites the drifted files atomically (content base64 on stdin, never in argv) and restarts the project. */
export function repairScript(inputs: Pick<DriftInputs, "files" | "compose">, drifted: string[]): string {
  const lines = ["set -euo pipefail"];
  for (const f of inputs.files) {
    if (!drifted.includes(`file:${f.path}`)) continue;
    const p = quote(f.path);
    lines.push(
      `install -d${f.dirMode ? ` -m ${f.dirMode}` : ""} ${quote(f.path.replace(/\/[^/]+$/, "") || "/")}`,
      `tmp=$(mktemp ${quote(`${f.path}.XXXXXX`)})`,
      `chmod ${f.mode} "$tmp"`,
      `printf %s ${quote(Buffer.from(f.content).toString("base64"))} | base64 -d > "$tmp"`,
      `mv -f "$tmp" ${p}`,
    );
  }
  if (inputs.compose && drifted.length > 0) lines.push(`${inputs.compose.command} up -d --remove-orphans`);
  return `${lines.join("\n")}\n`;
}

/** Runs a bash script (on stdin) on the host: over SSH with ssh2, or on this machine for local hosts. */
async function runOnHost(inputs: Pick<DriftInputs, "connection" | "sudo">, script: string): Promise<string> {
  const shell = inputs.sudo ? "sudo -n bash -s" : "bash -s";
  if (!inputs.connection) {
    const cp = require("child_process") as typeof import("child_process");
    return cp.execFileSync("bash", ["-s"], { input: script, encoding: "utf8", maxBuffer: 16 << 20 });
  }
  const { Client } = require("ssh2") as typeof import("ssh2");
  const conn = inputs.connection;
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.on("error", (e: Error) => reject(new Error(`drift check: ssh ${conn.user ?? "root"}@${conn.host}:${conn.port ?? 22}: ${e.message}`)));
    client.on("ready", () => {
      client.exec(shell, (err, stream) => {
        if (err) { client.end(); reject(err); return; }
        let stdout = "";
        let stderr = "";
        stream.on("data", (d: Buffer) => { stdout += d; });
        stream.stderr.on("data", (d: Buffer) => { stderr += d; });
        stream.on("close", (code: number) => {
          client.end();
          if (code === 0) resolve(stdout);
          else reject(new Error(`drift check on ${conn.host}: exit ${code}: ${stderr.trim()}`));
        });
        stream.end(script);
      });
    });
    client.connect({ host: conn.host, port: conn.port ?? 22, username: conn.user ?? "root", privateKey: conn.privateKey, readyTimeout: 20_000 });
  });
}

/** Equal as data: state comes back with its keys sorted, so key order must not count. */
function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): unknown => Array.isArray(v)
    ? v.map(canonical)
    : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

const provider: pulumi.dynamic.ResourceProvider = {
  async create(packed: PackedInputs) {
    const inputs = unpack(packed);
    const expected = expectedState(inputs);
    const outs: DriftOutputs = { ...inputs, files: fileRefs(inputs.files), expected, observed: expected, repairs: 0, repaired: [] };
    return { id: require("crypto").randomBytes(8).toString("hex"), outs };
  },
  async read(id: string, props: DriftOutputs) {
    // The probe needs the paths only; outputs written before they dropped the content still carry it, unused.
    const observed = parseObserved(props, await runOnHost(props, observeScript(props)));
    return { id, props: { ...props, files: fileRefs(props.files), observed } };
  },
  async diff(_id: string, olds: DriftOutputs, packed: PackedInputs) {
    const news = unpack(packed);
    const drifted = driftedKeys(olds.expected, olds.observed);
    const changed = !sameJson(expectedState(news), olds.expected) || !sameJson(news.connection, olds.connection) || news.sudo !== olds.sudo
      || !sameJson(news.compose, olds.compose);
    return { changes: drifted.length > 0 || changed, replaces: [], deleteBeforeReplace: false };
  },
  async update(_id: string, olds: DriftOutputs, packed: PackedInputs) {
    const news = unpack(packed);
    const drifted = driftedKeys(olds.expected, olds.observed);
    if (drifted.length > 0) await runOnHost(news, repairScript(news, drifted));
    const expected = expectedState(news);
    const outs: DriftOutputs = { ...news, files: fileRefs(news.files), expected, observed: expected, repairs: (olds.repairs ?? 0) + (drifted.length > 0 ? 1 : 0), repaired: drifted };
    return { outs };
  },
};

class DriftState extends pulumi.dynamic.Resource {
  public readonly repairs!: pulumi.Output<number>;
  constructor(name: string, props: Record<string, unknown>, opts: pulumi.CustomResourceOptions) {
    super(provider, name, { ...props, repairs: undefined }, opts);
  }
}

/** Node's gzip writes no timestamp or name, so the same content packs to the same inputs (no spurious diff). */
function gzipBase64(content: string): string {
  return (require("zlib") as typeof import("zlib")).gzipSync(content, { level: 9 }).toString("base64");
}

/** Watches a node's files and containers for hand-made changes; `refresh` finds them, `up` puts them back. */
export class HostDrift extends pulumi.ComponentResource {
  /** Repairs made so far (each `up` that found drift counts one). */
  public readonly repairs: pulumi.Output<number>;

  constructor(name: string, args: HostDriftArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ephemery:drift:HostDrift", name, { files: args.files.map((f) => f.path), containers: (args.compose?.containers ?? []).map((c) => c.name) }, opts);
    const inputs = {
      connection: args.connection.kind === "ssh" ? args.connection.ssh : undefined,
      sudo: args.connection.sudo ?? false,
      files: args.files.map((f) => ({ path: f.path, mode: f.mode, contentGz: pulumi.output(f.content).apply(gzipBase64), ...(f.dirMode ? { dirMode: f.dirMode } : {}) })),
      compose: args.compose,
    };
    const state = new DriftState(`${name}-state`, inputs, { parent: this, additionalSecretOutputs: ["files", "connection"] });
    this.repairs = state.repairs;
    this.registerOutputs({ repairs: this.repairs });
  }
}
