/**
 * A real Docker engine for host-side tests. Uses the running engine when `docker info` answers; otherwise
 * starts dockerd (root) with its own data root and stops it when the test run ends.
 */
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { processAlive } from "./processes";

/** The dockerd the tests started (if any) and the test runs using it, so one run never stops it under another. */
const STATE_DIR = path.join(os.tmpdir(), "ephemery-test-dockerd");
const STATE_FILE = path.join(STATE_DIR, "dockerd.json");
const USERS_DIR = path.join(STATE_DIR, "users");


/** Registers this test run (the jest parent process) as a user of the engine. */
export function registerUser(pid = process.pid): void {
  fs.mkdirSync(USERS_DIR, { recursive: true });
  fs.writeFileSync(path.join(USERS_DIR, String(pid)), "");
}

function liveUsers(except: number): number[] {
  if (!fs.existsSync(USERS_DIR)) return [];
  return fs.readdirSync(USERS_DIR).map(Number).filter((pid) => {
    if (pid === except) return false;
    if (processAlive(pid)) return true;
    fs.rmSync(path.join(USERS_DIR, String(pid)), { force: true });
    return false;
  });
}

export function dockerAnswers(): boolean {
  try {
    execFileSync("docker", ["info", "--format", "{{.ServerVersion}}"], { stdio: "pipe", timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Starts dockerd unless one answers; returns the pid it started, or undefined. */
export async function startDockerd(): Promise<number | undefined> {
  if (dockerAnswers()) return undefined;
  const dockerd = ["/usr/sbin/dockerd", "/usr/bin/dockerd"].find((p) => fs.existsSync(p));
  if (!dockerd) throw new Error("no Docker engine answers and dockerd is not installed: apt-get install -y docker.io (the .ci/run script does)");
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-dockerd-"));
  const log = fs.openSync(path.join(root, "dockerd.log"), "a");
  const child = spawn(dockerd, ["--data-root", path.join(root, "data"), "--exec-root", path.join(root, "exec"), "--pidfile", path.join(root, "dockerd.pid"), "--host", "unix:///var/run/docker.sock"], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  child.unref();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (dockerAnswers()) {
      fs.mkdirSync(STATE_DIR, { recursive: true });
      fs.writeFileSync(STATE_FILE, JSON.stringify({ pid: child.pid, root }));
      return child.pid;
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`dockerd did not come up; see ${path.join(root, "dockerd.log")}`);
}

export async function stopDockerdIfStarted(): Promise<void> {
  fs.rmSync(path.join(USERS_DIR, String(process.pid)), { force: true });
  if (!fs.existsSync(STATE_FILE) || liveUsers(process.pid).length > 0) return;
  const { pid } = JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as { pid: number; root: string };
  fs.rmSync(STATE_FILE, { force: true });
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
}

export function docker(args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): string {
  return execFileSync("docker", args, { input: opts.input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], timeout: opts.timeoutMs ?? 120_000 });
}

/** A busybox rootfs with `files` added (path -> content, mode), under `dir`: what the stand-in images are made of. */
export function busyboxRootfs(dir: string, files: Record<string, { content: string; mode?: number }>): string {
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => fs.existsSync(p));
  if (!busybox) throw new Error("busybox is not installed: apt-get install -y busybox-static (the .ci/run script does)");
  const rootfs = fs.mkdtempSync(path.join(dir, "ephemery-rootfs-"));
  for (const d of ["bin", "sbin", "usr/bin", "usr/sbin", "tmp", "etc", "data", "var/www"]) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.chmodSync(path.join(rootfs, "tmp"), 0o1777);
  fs.copyFileSync(busybox, path.join(rootfs, "bin/busybox"));
  fs.chmodSync(path.join(rootfs, "bin/busybox"), 0o755);
  for (const applet of execFileSync(busybox, ["--list-full"], { encoding: "utf8" }).split("\n").filter(Boolean)) {
    const target = path.join(rootfs, applet);
    if (applet === "bin/busybox" || fs.existsSync(target)) continue;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.symlinkSync("/bin/busybox", target);
  }
  fs.writeFileSync(path.join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  fs.writeFileSync(path.join(rootfs, "etc/group"), "root:x:0:\n");
  for (const [p, f] of Object.entries(files)) {
    const target = path.join(rootfs, p);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, f.content, { mode: f.mode ?? 0o644 });
  }
  return rootfs;
}

/**
 * A tiny image built without a registry: static busybox plus its applet links, optionally with extra
 * files (path in image -> content, mode). Rebuilt only when its content changes (the tag is a hash).
 */
export function busyboxImage(name: string, files: Record<string, { content: string; mode?: number }> = {}): string {
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => fs.existsSync(p));
  if (!busybox) throw new Error("busybox is not installed: apt-get install -y busybox-static (the .ci/run script does)");
  const hash = require("crypto").createHash("sha256").update(JSON.stringify(files)).update(fs.readFileSync(busybox)).digest("hex").slice(0, 12);
  const ref = `${name}:${hash}`;
  try {
    docker(["image", "inspect", ref]);
    return ref;
  } catch { /* build it */ }
  const rootfs = busyboxRootfs(os.tmpdir(), files);
  try {
    const tar = execFileSync("tar", ["-C", rootfs, "-c", "."], { maxBuffer: 64 * 1024 * 1024 });
    docker(["import", "--change", "CMD [\"/bin/sh\"]", "-", ref], { input: tar });
    return ref;
  } finally {
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
}
