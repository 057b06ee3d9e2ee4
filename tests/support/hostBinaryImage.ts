/**
 * A rootfs made of this machine's own binaries and the shared libraries `ldd` names for them: stands in for an
 * image from a registry (none is reachable here) that carries the same programs, e.g. the reset's pinned
 * `node:22-bookworm` (Debian's bash, curl, GNU tar, coreutils, util-linux and Node.js).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

function copyPreserving(file: string, root: string): void {
  const dest = path.join(root, file);
  if (fs.existsSync(dest)) return;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(fs.realpathSync(file), dest);
  fs.chmodSync(dest, fs.statSync(fs.realpathSync(file)).mode & 0o777);
}

function librariesOf(binary: string): string[] {
  let out = "";
  try { out = execFileSync("ldd", [binary], { encoding: "utf8" }); } catch { return []; /* static */ }
  return out.split("\n").flatMap((l) => {
    const m = /=>\s+(\/\S+)/.exec(l) ?? /^\s*(\/\S+)\s+\(/.exec(l);
    return m ? [m[1]] : [];
  });
}

/**
 * `binaries`: names looked up on PATH, placed at /usr/bin/<name>; `extra`: absolute host path -> path in the image.
 * /bin is a link to /usr/bin as on Debian; /tmp is 1777.
 */
export function hostBinaryRootfs(root: string, binaries: string[], extra: Record<string, string> = {}): string {
  fs.mkdirSync(path.join(root, "usr", "bin"), { recursive: true });
  fs.mkdirSync(path.join(root, "tmp"), { recursive: true });
  fs.chmodSync(path.join(root, "tmp"), 0o1777);
  if (!fs.existsSync(path.join(root, "bin"))) fs.symlinkSync("usr/bin", path.join(root, "bin"));
  const place = (src: string, inImage: string) => {
    const dest = path.join(root, inImage);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(src, dest);
    fs.chmodSync(dest, 0o755);
    for (const lib of librariesOf(src)) copyPreserving(lib, root);
  };
  for (const b of binaries) {
    const src = execFileSync("sh", ["-c", `command -v ${b}`], { encoding: "utf8" }).trim();
    if (!src.startsWith("/")) throw new Error(`${b} is not a program on this machine`);
    place(fs.realpathSync(src), `usr/bin/${b}`);
  }
  for (const [src, inImage] of Object.entries(extra)) place(src, inImage);
  return root;
}
