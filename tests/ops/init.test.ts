/**
 * `ephemery init`: driven through its prompts in a real terminal (tmux), and by flags; the stack files it
 * writes must pass `ephemery config check`. A stand-in `pulumi` on PATH records how secrets are handed over.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runCli } from "./io";

const REPO = path.resolve(__dirname, "../..");

/** A `pulumi` that logs argv and stdin, and records `config set --secret KEY` in the stack file as Pulumi does (encrypted). */
function fakePulumi(binDir: string, log: string): void {
  fs.mkdirSync(binDir, { recursive: true });
  fs.writeFileSync(path.join(binDir, "pulumi"), `#!/bin/sh
stdin="$(cat)"
printf '%s|%s\\n' "$*" "$stdin" >> ${log}
if [ "$1 $2 $3" = "config set --secret" ]; then
  printf '  %s: { secure: v1:fake }\\n' "$6" >> "Pulumi.$5.yaml"
fi
`, { mode: 0o755 });
}

function newProject(): { dir: string; keyFile: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-init-"));
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: ephemery\nruntime: nodejs\n");
  const keyFile = path.join(dir, "id_test");
  fs.writeFileSync(keyFile, "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n", { mode: 0o600 });
  return { dir, keyFile };
}

describe("ephemery init by flags", () => {
  let dir: string;
  let keyFile: string;
  beforeEach(() => ({ dir, keyFile } = newProject()));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const sshFlags = () => ["--non-interactive", "--stack", "ci", "--host-name", "node1", "--kind", "ssh", "--address", "203.0.113.10", "--ssh-key", keyFile, "--validator", "yes", "--fee-recipient", `0x${"ab".repeat(20)}`];

  it("writes a stack that config check accepts, and hands the key to pulumi on stdin only", async () => {
    const log = path.join(dir, "pulumi.log");
    fakePulumi(path.join(dir, "bin"), log);
    const env = { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}` };
    const r = await runCli(["init", ...sshFlags(), "--json"], { cwd: dir, env });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out).toMatchObject({ file: path.join(dir, "Pulumi.ci.yaml"), hosts: ["node1"], secretsToStore: [] });
    const calls = fs.readFileSync(log, "utf8").trim().split("\n").filter((l) => !l.startsWith("version"));
    expect(calls[0]).toBe("stack select --create ci|");
    expect(calls[1]).toMatch(/^config set --secret --stack ci ephemery:sshPrivateKey\|-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(calls[1].split("|")[0]).not.toContain("not-a-real-key");
    const text = fs.readFileSync(out.file, "utf8");
    expect(text).not.toContain("not-a-real-key");
    const check = await runCli(["config", "check", "--file", out.file, "--json"]);
    expect(JSON.parse(check.out)).toMatchObject({ ok: true });
  });

  it("prints the exact pulumi commands when the pulumi CLI is missing", async () => {
    const r = await runCli(["init", ...sshFlags()], { cwd: dir, env: { ...process.env, PATH: "/nonexistent" } });
    expect(r.code).toBe(0);
    expect(r.out).toContain(`pulumi config set --secret --stack ci ephemery:sshPrivateKey < ${keyFile}`);
    expect(r.out).toContain("pulumi stack select --create ci");
    const check = await runCli(["config", "check", "--file", path.join(dir, "Pulumi.ci.yaml"), "--json"]);
    // Until the key is stored, config check names exactly that.
    expect(JSON.parse(check.out).problems).toEqual([expect.objectContaining({ path: "hosts[0].ssh" })]);
  });

  it("rejects a bad answer by naming the flag, and writes nothing", async () => {
    const r = await runCli(["init", ...sshFlags().slice(0, -1), "0x1234"], { cwd: dir, env: { ...process.env, PATH: "/nonexistent" } });
    expect(r.code).toBe(2);
    expect(r.err).toContain('--fee-recipient "0x1234": "0x1234" must be a 0x-prefixed 20-byte hex address');
    expect(fs.existsSync(path.join(dir, "Pulumi.ci.yaml"))).toBe(false);
    const kind = await runCli(["init", "--non-interactive", "--kind", "vps"], { cwd: dir });
    expect(kind.err).toContain('--kind "vps": "vps" is not one of local, ssh, aws, hcloud');
  });

  it("never replaces an existing stack file unless told to", async () => {
    const file = path.join(dir, "Pulumi.ci.yaml");
    fs.writeFileSync(file, "config:\n  ephemery:sshPrivateKey: { secure: v1:keepme }\n");
    const r = await runCli(["init", ...sshFlags()], { cwd: dir, env: { ...process.env, PATH: "/nonexistent" } });
    expect(r.code).toBe(1);
    expect(r.err).toContain("already exists; pass --force");
    expect(fs.readFileSync(file, "utf8")).toContain("v1:keepme");
    const forced = await runCli(["init", ...sshFlags(), "--force"], { cwd: dir, env: { ...process.env, PATH: "/nonexistent" } });
    expect(forced.code).toBe(0);
    expect(fs.readFileSync(file, "utf8")).toContain("203.0.113.10");
  });
});

describe("ephemery init through its prompts (tmux)", () => {
  const socket = `ephemery-ops-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
  let dir: string;

  beforeAll(() => ({ dir } = newProject()));
  afterAll(() => {
    try { tmux("kill-server"); } catch { /* already gone */ }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function screenShows(text: string | RegExp, ms = 20_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const screen = tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", "init");
      if (typeof text === "string" ? screen.includes(text) : text.test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`the terminal never showed ${text}; it shows:\n${screen}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const answer = (text: string) => {
    if (text) tmux("send-keys", "-t", "init", "-l", text);
    tmux("send-keys", "-t", "init", "Enter");
  };

  it("asks, re-asks after a wrong answer, and writes a stack file config check accepts", async () => {
    const cmd = `cd ${dir} && PATH=/usr/bin:/bin TS_NODE_PROJECT=${REPO}/tsconfig.json node -r ${REPO}/node_modules/ts-node/register/transpile-only ${REPO}/tests/ops/cliEntry.ts init --stack tty; echo "EXIT=$?"; sleep 60`;
    tmux("new-session", "-d", "-s", "init", "-x", "220", "-y", "50", cmd);
    await screenShows("Host name (a-z, 0-9, -) [node1]:");
    answer("Node_1");
    await screenShows("must start with a letter and use only a-z, 0-9 and -");
    answer("edge");
    await screenShows("Host kind (local, ssh, aws, hcloud) [ssh]:");
    answer("local");
    await screenShows("Data directory on the host [~/.ephemery]:");
    answer(path.join(dir, "data"));
    await screenShows("Execution client");
    answer("besu");
    await screenShows("Consensus client");
    answer("teku");
    await screenShows("Run a validator client? (yes/no) [no]:");
    answer("");
    await screenShows("Run Prometheus, Grafana and alerting beside the node? (yes/no) [yes]:");
    answer("maybe");
    await screenShows('answer yes or no, got "maybe"');
    answer("no");
    await screenShows("Add another host? (yes/no) [no]:");
    answer("yes");
    await screenShows("Host 2");
    await screenShows(/Host 2\s+Host name \(a-z, 0-9, -\) \[node1\]:/);
    answer("");
    await screenShows(/Host 2[\s\S]*Host kind/);
    answer("");
    await screenShows("Address (IP or DNS name):");
    answer("198.51.100.20");
    await screenShows(/Host 2[\s\S]*SSH user \[root\]:/);
    answer("");
    await screenShows(/Host 2[\s\S]*SSH port \[22\]:/);
    answer("2222");
    await screenShows(/Host 2[\s\S]*ssh-agent/);
    answer("yes");
    await screenShows(/Host 2[\s\S]*Data directory on the host \[\/var\/lib\/ephemery\]:/);
    for (const q of ["Data directory", "Execution client", "Consensus client", "validator", "Prometheus"]) {
      await screenShows(new RegExp(`Host 2[\\s\\S]*${q}[^\\n]*:\\s*$`, "m"));
      answer("");
    }
    await screenShows(/Host 2[\s\S]*Add another host\? \(yes\/no\) \[no\]:\s*$/m);
    answer("no");
    const screen = await screenShows("EXIT=");
    expect(screen).toContain("EXIT=0");
    expect(screen).toContain(`Wrote ${path.join(dir, "Pulumi.tty.yaml")} (2 hosts)`);

    const check = await runCli(["config", "check", "--file", path.join(dir, "Pulumi.tty.yaml"), "--json"]);
    expect(JSON.parse(check.out)).toMatchObject({ ok: true, problems: [] });
    const text = fs.readFileSync(path.join(dir, "Pulumi.tty.yaml"), "utf8");
    expect(text).toMatch(/name: edge\n\s+kind: local/);
    expect(text).toMatch(/client: besu/);
    expect(text).toMatch(/address: 198\.51\.100\.20/);
    expect(text).toMatch(/useAgent: true/);
  });
});
