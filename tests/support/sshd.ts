/**
 * A real sshd on a loopback address and port, with its own host key and a test client key, for tests that
 * reach "hosts" over SSH. Root login with the key only; stopped by `stop()`.
 */
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

/** OpenSSH's sftp server, where Debian's openssh-server installs it. */
export const SFTP_SERVER = "/usr/lib/openssh/sftp-server";

export interface TestSshHost {
  host: string;
  port: number;
  user: string;
  /** The client's private key (OpenSSH format). */
  privateKey: string;
  privateKeyFile: string;
  /** A scratch dir owned by this host (config, keys, logs). */
  dir: string;
  /** Runs a command through ssh, as a client would. */
  ssh(command: string, input?: string): string;
  stop(): Promise<void>;
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}

async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host);
      s.once("connect", () => { s.destroy(); resolve(true); });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sshd on ${host}:${port} did not start within ${timeoutMs} ms`);
}

export async function startSshHost(opts: { host?: string } = {}): Promise<TestSshHost> {
  const sshd = ["/usr/sbin/sshd"].find((p) => fs.existsSync(p));
  if (!sshd) throw new Error("sshd is not installed: apt-get install -y openssh-server (the .ci/run script does)");
  if (!fs.existsSync(SFTP_SERVER)) throw new Error(`${SFTP_SERVER} is missing: apt-get install -y openssh-sftp-server`);
  const host = opts.host ?? "127.0.0.1";
  const port = await freePort(host);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-sshd-"));
  fs.mkdirSync("/run/sshd", { recursive: true });
  const hostKey = path.join(dir, "host_ed25519");
  const clientKey = path.join(dir, "client_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "ephemery-test", "-f", clientKey]);
  fs.copyFileSync(`${clientKey}.pub`, path.join(dir, "authorized_keys"));
  const config = path.join(dir, "sshd_config");
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      `ListenAddress ${host}`,
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "StrictModes no",
      "UsePAM no",
      "AllowTcpForwarding yes",
      "MaxSessions 50",
      "MaxStartups 50",
      // As stock servers do: the command provider's copies (CopyToRemote, CopyFile) need the sftp subsystem.
      `Subsystem sftp ${SFTP_SERVER}`,
      "",
    ].join("\n"),
  );
  const child = spawn(sshd, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", fs.openSync(path.join(dir, "sshd.log"), "a")] });
  await waitForPort(host, port, 10_000);
  const privateKey = fs.readFileSync(clientKey, "utf8");
  const sshArgs = ["-i", clientKey, "-p", String(port), "-o", "StrictHostKeyChecking=no", "-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`, "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"];
  return {
    host,
    port,
    user: "root",
    privateKey,
    privateKeyFile: clientKey,
    dir,
    ssh(command, input) {
      return execFileSync("ssh", [...sshArgs, `root@${host}`, command], { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
