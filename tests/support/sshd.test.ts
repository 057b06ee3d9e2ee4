import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { startSshHost } from "./sshd";

test("a test ssh host accepts its key and runs commands", async () => {
  const h = await startSshHost();
  try {
    expect(h.ssh("echo hello; id -u").trim()).toBe("hello\n0");
    expect(h.ssh("cat", "from stdin")).toBe("from stdin");
  } finally {
    await h.stop();
  }
});

test("a test ssh host offers the sftp subsystem, as the command provider's copies need", async () => {
  const h = await startSshHost();
  try {
    const target = path.join(h.dir, "copied.txt");
    const local = path.join(h.dir, "local.txt");
    fs.writeFileSync(local, "over sftp\n");
    execFileSync("sftp", ["-b", "-", "-i", h.privateKeyFile, "-P", String(h.port), "-o", "StrictHostKeyChecking=no", "-o", `UserKnownHostsFile=${path.join(h.dir, "known_hosts")}`, `root@${h.host}`], {
      input: `put ${local} ${target}\n`,
      stdio: ["pipe", "pipe", "pipe"],
    });
    expect(fs.readFileSync(target, "utf8")).toBe("over sftp\n");
  } finally {
    await h.stop();
  }
});
