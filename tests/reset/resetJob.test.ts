/**
 * The ResetJob component under Pulumi mocks (what it installs and in which order), and its schedule commands run
 * for real: an /etc/cron.d-style file where the user may write one, the user's crontab where not.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cronFileContent, cronInstallCommand, cronLine, cronRemoveCommand, crontabTag } from "../../lib/reset/schedule";
import { RecordedResource, runProgram } from "../support/mocks";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const byName = (rs: RecordedResource[], suffix: string) => rs.filter((r) => r.name.endsWith(suffix));

describe("ResetJob (mocks)", () => {
  let resources: RecordedResource[];
  let outputs: Record<string, any>;
  beforeAll(async () => {
    ({ resources, outputs } = await runProgram({
      "ephemery:hosts": [{ name: "solo", kind: "local", dataDir: "/srv/eph", validator: { feeRecipient: FEE }, reset: { schedule: "*/2 * * * *" } }],
      "ephemery:network": { release: { latestUrl: "http://127.0.0.1:9/releases/latest", archiveUrl: "http://127.0.0.1:9/d/{tag}/testnet-all.tar.gz" } },
    }));
  });

  test("installs the rendered program, runs ensure, then schedules it", () => {
    const [job] = byName(resources, "solo-reset");
    expect(job).toMatchObject({ type: "ephemery:reset:ResetJob", inputs: { node: "solo", enabled: true, schedule: "*/2 * * * *" } });
    const [program] = byName(resources, "solo-reset-program");
    expect(program.type).toBe("command:local:Command");
    expect(program.inputs.create).toContain("/srv/eph/solo/bin/ephemery-reset");
    const script = program.inputs.stdin as string;
    expect(script).toMatch(/^#!\/usr\/bin\/env bash/);
    expect(script).toContain("readonly RELEASE_LATEST_URL='http://127.0.0.1:9/releases/latest'");
    expect(script).toContain("readonly EL_KEEP='geth/nodekey'");
    expect(script).toContain("readonly VC_SLASHING_PATHS='validators/slashing_protection.sqlite'");
    expect(script).not.toContain("@@VALUES@@");
    const [release] = byName(resources, "solo-reset-release");
    // The program's digest rides in the command, so a new program updates the release in place.
    expect(release.inputs.create).toBe(`'/srv/eph/solo/bin/ephemery-reset' ensure # sha256:${require("crypto").createHash("sha256").update(script).digest("hex")}`);
    expect(release.dependsOn).toContain("solo-reset-program");
    const [schedule] = byName(resources, "solo-reset-schedule");
    expect(schedule.dependsOn).toContain("solo-reset-release");
    expect(schedule.inputs.stdin).toContain("*/2 * * * * root '/srv/eph/solo/bin/ephemery-reset' run >> '/srv/eph/solo/state/reset.log' 2>&1");
    expect(schedule.inputs.create).toContain("crontab -");
    expect(schedule.inputs.delete).toContain("/etc/cron.d/ephemery-solo");
  });

  test("client containers wait for the release, and the node reports the installed iteration", () => {
    const containers = resources.filter((r) => r.type === "docker:index/container:Container");
    expect(containers.length).toBeGreaterThan(0);
    const waits = (r: RecordedResource): boolean => r.dependsOn.includes("solo-reset-release") || (r.parent !== undefined && resources.some((p) => p.name === r.parent && waits(p)));
    for (const c of containers) expect([c.name, waits(c)]).toEqual([c.name, true]);
    expect(JSON.stringify(outputs)).toContain('"iteration":171');
  });

  test("reset.enabled: false installs the program but no schedule", async () => {
    const { resources: rs } = await runProgram({ "ephemery:hosts": [{ name: "quiet", kind: "local", reset: { enabled: false } }] });
    expect(byName(rs, "quiet-reset-program")).toHaveLength(1);
    expect(byName(rs, "quiet-reset-schedule")).toHaveLength(0);
  });
});

describe("the schedule commands, for real", () => {
  let dir: string;
  const args = () => ({ node: "cronnode", schedule: "* * * * *", program: `${dir}/bin/ephemery-reset`, logFile: `${dir}/state/reset.log` });
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-cron-"));
    fs.chmodSync(dir, 0o755);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("writes a 0644 cron.d file where the directory is writable, and removes it", () => {
    const cronDir = path.join(dir, "cron.d");
    fs.mkdirSync(cronDir);
    const a = { ...args(), cronDir };
    execFileSync("bash", ["-c", cronInstallCommand(a)], { input: cronFileContent(a) });
    const file = path.join(cronDir, "ephemery-cronnode");
    expect(fs.readFileSync(file, "utf8")).toBe(cronFileContent(a));
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    expect(fs.readdirSync(cronDir)).toEqual(["ephemery-cronnode"]);
    execFileSync("bash", ["-c", cronRemoveCommand(a)]);
    expect(fs.readdirSync(cronDir)).toEqual([]);
  });

  const asNobody = (script: string, input = "") =>
    execFileSync("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", "bash", "-c", script], { input, encoding: "utf8", cwd: "/" });

  test("falls back to the user's crontab when /etc/cron.d is not writable (non-root local host)", () => {
    const a = args(); // the real /etc/cron.d, which nobody cannot write
    try {
      asNobody("crontab - <<'EOF'\n0 3 * * * /usr/bin/true # the user's own job\nEOF");
      asNobody(cronInstallCommand(a), cronFileContent(a));
      asNobody(cronInstallCommand(a), cronFileContent(a)); // twice: still one line
      expect(asNobody("crontab -l")).toBe(`0 3 * * * /usr/bin/true # the user's own job\n${cronLine(a)} ${crontabTag("cronnode")}\n`);
      expect(fs.existsSync("/etc/cron.d/ephemery-cronnode")).toBe(false);
      asNobody(cronRemoveCommand(a));
      expect(asNobody("crontab -l")).toBe("0 3 * * * /usr/bin/true # the user's own job\n");
    } finally {
      try { execFileSync("crontab", ["-r", "-u", "nobody"], { stdio: "pipe" }); } catch { /* none */ }
    }
  });
});
