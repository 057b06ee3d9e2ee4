/**
 * Reaching a node's host from the workstation: run a shell script there and talk to its loopback-only APIs
 * (through SSH direct-tcpip channels, so nothing is ever published), or do both locally for `local` hosts.
 *
 * SSH authentication, first that applies: `--identity FILE`; the agent at $SSH_AUTH_SOCK; the default keys
 * ~/.ssh/id_ed25519, id_ecdsa, id_rsa (unencrypted). Host keys are checked against ~/.ssh/known_hosts
 * (or --known-hosts FILE): a changed key is always refused, an unknown one unless --accept-new-host-keys.
 */
import { spawn } from "child_process";
import { createHash, createHmac } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { Duplex } from "stream";
import { AnyAuthMethod, Client, ClientChannel } from "ssh2";

export interface HostTarget {
  name: string;
  kind: "local" | "ssh";
  address?: string;
  user: string;
  port: number;
}

export interface SshAuthOptions {
  identityFile?: string;
  /** Agent socket; default $SSH_AUTH_SOCK. */
  agentSocket?: string;
  knownHostsFile?: string;
  acceptNewHostKeys?: boolean;
  /** Home directory for the default keys and known_hosts (default: the user's). */
  home?: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export interface HttpRequest {
  method?: "GET" | "POST";
  path: string;
  body?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface HostSession {
  target: HostTarget;
  /** Runs a POSIX shell script (sent on standard input, so nothing needs quoting). */
  exec(script: string, timeoutMs?: number): Promise<ExecResult>;
  /** An HTTP request to 127.0.0.1:<port> as seen from the host. */
  http(port: number, req: HttpRequest): Promise<HttpAnswer>;
  /** A byte stream to 127.0.0.1:<port> on the host. */
  connect(port: number): Promise<Duplex>;
  /** Set when the host key was accepted without being in known_hosts. */
  hostKeyNote?: string;
  /** Called when the connection ends on its own (never for local hosts). */
  onClose(cb: () => void): void;
  close(): void;
}

const DEFAULT_KEYS = ["id_ed25519", "id_ecdsa", "id_rsa"];

/** Where a known_hosts line names a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function hostPatternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt, hash] = pattern.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  return pattern.split(",").some((p) => p === name);
}

export type HostKeyVerdict = "known" | "unknown" | "changed";

/** Checks a server's host key (SSH wire format) against known_hosts text. */
export function checkHostKey(knownHosts: string, host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const keyType = key.subarray(4, 4 + key.readUInt32BE(0)).toString();
  const keyB64 = key.toString("base64");
  let sameTypeOtherKey = false;
  for (const raw of knownHosts.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    let fields = line.split(/\s+/);
    if (fields[0] === "@revoked" && fields[3] === keyB64 && hostPatternMatches(fields[1], name)) return "changed";
    if (fields[0].startsWith("@")) fields = fields.slice(1);
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64 || !hostPatternMatches(hosts, name)) continue;
    if (b64 === keyB64) return "known";
    if (type === keyType) sameTypeOtherKey = true;
  }
  return sameTypeOtherKey ? "changed" : "unknown";
}

export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

function authMethods(target: HostTarget, opts: SshAuthOptions, env: NodeJS.ProcessEnv): AnyAuthMethod[] {
  const username = target.user;
  if (opts.identityFile) {
    let key: Buffer;
    try {
      key = fs.readFileSync(opts.identityFile);
    } catch (e) {
      throw new Error(`cannot read --identity ${opts.identityFile}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    return [{ type: "publickey", username, key }];
  }
  const methods: AnyAuthMethod[] = [];
  const agent = opts.agentSocket ?? env.SSH_AUTH_SOCK;
  if (agent) methods.push({ type: "agent", username, agent });
  const home = opts.home ?? os.homedir();
  for (const k of DEFAULT_KEYS) {
    const file = path.join(home, ".ssh", k);
    if (fs.existsSync(file)) methods.push({ type: "publickey", username, key: fs.readFileSync(file) });
  }
  if (methods.length === 0) {
    throw new Error(`no SSH credentials: pass --identity FILE, start an ssh-agent (SSH_AUTH_SOCK), or create ${path.join(home, ".ssh", "id_ed25519")}`);
  }
  return methods;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => { onTimeout?.(); reject(new Error(`${what} timed out after ${ms} ms`)); }, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** HTTP/1.1 over any byte stream (an SSH channel or a TCP socket), one request per stream. */
function httpOver(stream: () => Duplex, port: number, req: HttpRequest): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const body = req.body;
    const r = http.request(
      {
        host: "127.0.0.1",
        port,
        method: req.method ?? "GET",
        path: req.path,
        agent: false,
        createConnection: stream as unknown as http.RequestOptions["createConnection"],
        headers: { accept: "application/json", connection: "close", ...(body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}), ...req.headers },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    r.on("error", reject);
    r.setTimeout(req.timeoutMs ?? 5000, () => r.destroy(new Error(`127.0.0.1:${port}${req.path} timed out after ${req.timeoutMs ?? 5000} ms`)));
    r.end(body);
  });
}

function runLocal(script: string, timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-s"], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`script timed out after ${timeoutMs} ms`)); }, timeoutMs);
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", (e) => { clearTimeout(timer); reject(e); });
    child.on("close", (code) => { clearTimeout(timer); resolve({ code: code ?? 1, stdout, stderr }); });
    child.stdin.end(script);
  });
}

function localSession(target: HostTarget): HostSession {
  const connect = (port: number) =>
    new Promise<Duplex>((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => resolve(s));
      s.once("error", (e) => reject(new Error(`127.0.0.1:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
    });
  return {
    target,
    exec: (script, timeoutMs = 30_000) => runLocal(script, timeoutMs),
    http: async (port, req) => {
      const s = await connect(port);
      return httpOver(() => s, port, req);
    },
    connect,
    onClose: () => undefined,
    close: () => undefined,
  };
}

export async function openSession(target: HostTarget, opts: SshAuthOptions = {}, timeoutMs = 10_000, env = process.env): Promise<HostSession> {
  if (target.kind === "local") return localSession(target);
  if (!target.address) throw new Error(`host ${target.name} has no known address`);
  const address = target.address;
  const knownHostsFile = opts.knownHostsFile ?? path.join(opts.home ?? os.homedir(), ".ssh", "known_hosts");
  const knownHosts = fs.existsSync(knownHostsFile) ? fs.readFileSync(knownHostsFile, "utf8") : "";
  let hostKeyProblem: string | undefined;
  let hostKeyNote: string | undefined;
  const client = new Client();
  const ready = new Promise<void>((resolve, reject) => {
    client.once("ready", () => resolve());
    // ssh2 may emit more than one error (e.g. a timeout, then the lost connection); the first one counts.
    client.on("error", (e) => reject(e));
  });
  client.connect({
    host: address,
    port: target.port,
    username: target.user,
    readyTimeout: timeoutMs,
    authHandler: authMethods(target, opts, env),
    hostVerifier: (key: Buffer) => {
      const verdict = checkHostKey(knownHosts, address, target.port, key);
      const name = knownHostsName(address, target.port);
      if (verdict === "known") return true;
      if (verdict === "changed") {
        hostKeyProblem = `the host key of ${name} (${fingerprint(key)}) differs from the one in ${knownHostsFile}: refusing to connect. If the machine was rebuilt, remove the old entry with: ssh-keygen -R '${name}' -f ${knownHostsFile}`;
        return false;
      }
      if (!opts.acceptNewHostKeys) {
        hostKeyProblem = `the host key of ${name} (${fingerprint(key)}) is not in ${knownHostsFile}: check the fingerprint, then add it with: ssh-keyscan -p ${target.port} ${address} >> ${knownHostsFile} (or pass --accept-new-host-keys)`;
        return false;
      }
      hostKeyNote = `host key ${fingerprint(key)} accepted without a known_hosts entry`;
      return true;
    },
  });
  try {
    await withTimeout(ready, timeoutMs + 1000, `SSH to ${target.user}@${address}:${target.port}`);
  } catch (e) {
    client.end();
    if (hostKeyProblem) throw new Error(hostKeyProblem);
    const err = e as Error & { level?: string; code?: string };
    if (err.level === "client-authentication") {
      throw new Error(`SSH login as ${target.user}@${address}:${target.port} was refused for every key tried; pass --identity FILE, or load the key into ssh-agent`);
    }
    throw new Error(`cannot reach ${target.user}@${address}:${target.port} over SSH: ${err.code ?? err.message}`);
  }

  const connect = (port: number) =>
    new Promise<Duplex>((resolve, reject) => {
      client.forwardOut("127.0.0.1", 0, "127.0.0.1", port, (err, stream: ClientChannel) => {
        if (err) reject(new Error(`127.0.0.1:${port} on ${target.name}: ${err.message}`));
        else resolve(stream);
      });
    });

  return {
    target,
    hostKeyNote,
    exec(script, execTimeoutMs = 30_000) {
      const run = new Promise<ExecResult>((resolve, reject) => {
        client.exec("sh -s", (err, stream) => {
          if (err) return reject(err);
          let stdout = "";
          let stderr = "";
          let code = 1;
          stream.on("data", (c: Buffer) => (stdout += c));
          stream.stderr.on("data", (c: Buffer) => (stderr += c));
          stream.on("exit", (c: number | null) => (code = c ?? 1));
          stream.on("close", () => resolve({ code, stdout, stderr }));
          stream.end(script);
        });
      });
      return withTimeout(run, execTimeoutMs, `script on ${target.name}`);
    },
    async http(port, req) {
      const stream = await connect(port);
      return httpOver(() => stream, port, req);
    },
    connect,
    onClose: (cb) => client.on("close", cb),
    close: () => client.end(),
  };
}

export interface Tunnel {
  localPort: number;
  url: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:<localPort> (0 = any free port) and carries each connection to the host's port. */
export function openTunnel(session: HostSession, remotePort: number, localPort = 0, onError: (e: Error) => void = () => undefined): Promise<Tunnel> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.pause();
    session.connect(remotePort).then(
      (stream) => {
        socket.pipe(stream).pipe(socket);
        stream.on("error", () => socket.destroy());
        socket.on("error", () => stream.destroy());
        socket.resume();
      },
      (e: Error) => { onError(e); socket.destroy(); },
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === "EADDRINUSE" ? `local port ${localPort} is in use; pass another with --local-port` : e.message)),
    );
    server.listen(localPort, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        localPort: port,
        url: `http://127.0.0.1:${port}/`,
        close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
      });
    });
  });
}
