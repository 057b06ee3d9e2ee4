/**
 * Process liveness and pid-file claims, shared by the test harnesses (ports, the test dockerd's users, the one
 * test cluster) and the devnet script.
 */
import * as fs from "fs";

/** Whether a process with this pid exists (EPERM: it does, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Creates `file` exclusively, holding this process's pid; a file whose process is gone is stale and taken over.
 * Returns undefined when this process now holds it, else the pid that does (0: unknown, its holder is writing it
 * now or it kept being re-made). The caller makes the file's directory.
 */
export function claimPidFile(file: string): number | undefined {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      return undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let holder = 0;
    try { holder = Number(fs.readFileSync(file, "utf8")); } catch { continue; /* released meanwhile: try again */ }
    if (!holder || processAlive(holder)) return holder;
    fs.rmSync(file, { force: true });
  }
  return 0;
}
