/**
 * Values are data, never code, wherever the program renders them into a shell or cron line. Every host script,
 * the compose command, the cron entry and its install command are rendered with hostile values (far outside
 * what the schema allows: the renderers must hold on their own) and run for real; a marker command embedded
 * in the values must never run, and each value must arrive byte for byte.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildNodeSpecs } from "../../lib/clients";
import { hostSchema, networkSchema } from "../../lib/config/schema";
import { composeArgs, composeCommand } from "../../lib/composeCommand";
import { HOST_SCRIPTS_DIR, renderHostScript, renderValues, ScriptValues, shellArray, ShellArray } from "../../lib/hostScripts";
import { keysScriptValues } from "../../lib/keys/hostValues";
import { keyExportScriptValues } from "../../lib/kubernetes/keyExport";
import { containerMetricsValues } from "../../lib/monitoring/hostFiles";
import { cronFileContent, cronInstallCommand, cronLine, cronRemoveCommand } from "../../lib/reset/schedule";
import { resetScriptValues } from "../../lib/reset/values";

let work: string;
let marker: string;
/** One value holding every way a shell could be talked into running the marker command. */
let hostile: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-hostile-"));
  marker = path.join(work, "MARKER");
  const run = `touch ${marker}`;
  hostile = [`$(${run})`, `\`${run}\``, `;${run};`, `&${run}&`, `|${run}`, `'$(${run})'`, `"$(${run})"`, `\\'; ${run}; '`, `\n${run}\n`, "$'\\x41'", "${HOME}", "*", "a  b", "-x", "%"].join(" ");
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const markerRan = () => fs.existsSync(marker);

/** A node's real values for every script, from one valid config. */
function realValues(): Record<string, ScriptValues> {
  const host = hostSchema.parse({ name: "n1", kind: "local", runtime: "compose", validator: { feeRecipient: `0x${"22".repeat(20)}` } });
  const specs = buildNodeSpecs({ node: "n1", host, checkpointSyncUrls: [] });
  return {
    "ephemery-reset.sh": resetScriptValues(host, networkSchema.parse({}), specs),
    "keys-install.sh": keysScriptValues(host, "lighthouse", specs.validator!),
    "keys-export.sh": keyExportScriptValues("n1", "ephemery"),
    "bootstrap.sh": { DATA_DIR: host.dataDir, NODE_DIR: "/var/lib/ephemery/n1", DATA_DEVICE: "/dev/sdb" },
    "container-metrics.sh": containerMetricsValues("n1", "/var/lib/ephemery/n1/node-exporter"),
    // cli/commands/status.ts renders these inline.
    "ephemery-status.sh": { NODE: "n1", NODE_DIR: "/x", TESTNET_DIR: "/x/t", TEXTFILE_DIR: "/x/e", STATE_DIR: "/x/s", VC_CONTAINER: "n1-validator", VC_TOKEN_PATHS: ["/a", "/b"] },
  };
}

/** The same names with every text replaced by a hostile one (numbers and booleans are typed, so kept). */
function hostileValues(values: ScriptValues): ScriptValues {
  const out: ScriptValues = {};
  for (const [k, v] of Object.entries(values)) {
    if (typeof v === "string") out[k] = `${v}${hostile}`;
    else if (Array.isArray(v)) out[k] = v.length ? v.map((x) => `${x}${hostile}`) : [hostile];
    else if (typeof v === "object") out[k] = shellArray([...v.array, hostile, "", "-p"]);
    else out[k] = v;
  }
  return out;
}

/**
 * The rendered values block of a script: the marker comment and everything renderValues made of the values (a
 * value may span lines and hold blank ones, such as the release checker's JavaScript), found whole in the script.
 */
function valuesBlock(script: string, values: ScriptValues): string {
  const block = `# Values rendered by pulumi-ephemery.\n${renderValues(values)}`;
  expect(script.includes(block)).toBe(true);
  return block;
}

/** Runs the values block, then prints every value NUL-separated (arrays element by element). */
function readBack(script: string, values: ScriptValues, shell: "bash" | "sh"): Record<string, string | string[]> {
  const dump = Object.entries(values).map(([k, v]) =>
    typeof v === "object" && !Array.isArray(v) ? `printf '%s\\0' ${k} "\${#${k}[@]}"; for e in "\${${k}[@]}"; do printf '%s\\0' "$e"; done` : `printf '%s\\0' ${k} 1 "$${k}"`,
  );
  const out = execFileSync(shell, ["-c", `set -eu\n${valuesBlock(script, values)}\n${dump.join("\n")}`], { encoding: "utf8", cwd: work });
  const words = out.split("\0");
  const got: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < words.length; ) {
    const name = words[i];
    const n = Number(words[i + 1]);
    const items = words.slice(i + 2, i + 2 + n);
    got[name] = typeof values[name] === "object" && !Array.isArray(values[name]) ? items : items[0];
    i += 2 + n;
  }
  return got;
}

const expected = (v: ScriptValues[string]): string | string[] =>
  typeof v === "object" && !Array.isArray(v) ? [...(v as ShellArray).array] : Array.isArray(v) ? v.join(" ") : String(v);

describe("host scripts rendered with hostile values", () => {
  const scripts = fs.readdirSync(HOST_SCRIPTS_DIR).filter((f) => fs.readFileSync(path.join(HOST_SCRIPTS_DIR, f), "utf8").includes("# @@VALUES@@"));

  test("every script that takes values is covered", () => {
    expect(scripts.sort()).toEqual(Object.keys(realValues()).sort());
  });

  test.each(scripts)("%s: each value arrives byte for byte and the marker never runs", (name) => {
    const values = hostileValues(realValues()[name]);
    const script = renderHostScript(name, values);
    const shell = /^#!.*bash/.test(script) ? "bash" : "sh";
    const got = readBack(script, values, shell);
    expect(got).toEqual(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, expected(v)])));
    expect(markerRan()).toBe(false);
  });

  test.each(scripts)("%s: the rendered script parses and is shellcheck-clean", (name) => {
    const file = path.join(work, `rendered-${name}`);
    fs.writeFileSync(file, renderHostScript(name, hostileValues(realValues()[name])));
    const shell = name === "ephemery-status.sh" ? "sh" : "bash";
    execFileSync(shell, ["-n", file]);
    try {
      // SC2016 and SC1003 say "this stays literal inside single quotes", which is the point of the values here.
      execFileSync("shellcheck", ["--severity=info", "--exclude=SC2016,SC1003", file], { encoding: "utf8" });
    } catch (e) {
      throw new Error(`shellcheck ${name}:\n${(e as { stdout?: string }).stdout}`);
    }
    expect(markerRan()).toBe(false);
  });

  test("a list value cannot go into a POSIX sh script", () => {
    expect(() => renderHostScript("ephemery-status.sh", { ...realValues()["ephemery-status.sh"], X: shellArray(["a"]) })).toThrow(/ephemery-status.sh is not a bash script, so it cannot take the list value\(s\) X/);
  });
});

/** A `docker` (and `docker-compose`) on PATH that records its argv, NUL-separated, and answers `compose version` as told. */
function stubDocker(dir: string, composePlugin: boolean): { env: NodeJS.ProcessEnv; argv: () => string[][] } {
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin, { recursive: true });
  // One file per call (values may hold newlines): the tool's name, then each argument, NUL-terminated.
  const calls = path.join(dir, "calls");
  fs.mkdirSync(calls);
  const record = (tool: string) => `f='${calls}'/$(date +%s%N)-$$; printf '%s\\0' ${tool} > "$f"; for a in "$@"; do printf '%s\\0' "$a"; done >> "$f"`;
  fs.writeFileSync(path.join(bin, "docker"), `#!/bin/sh\nif [ "$1 $2" = "compose version" ]; then exit ${composePlugin ? 0 : 1}; fi\n${record("docker")}\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, "docker-compose"), `#!/bin/sh\n${record("docker-compose")}\n`, { mode: 0o755 });
  return {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    argv: () => fs.readdirSync(calls).sort().map((f) => fs.readFileSync(path.join(calls, f), "utf8").split("\0").slice(0, -1)),
  };
}

describe("compose runs as argv, never through eval", () => {
  const node = () => `n1${hostile}`;
  const file = () => `/srv/${hostile}/docker-compose.yml`;

  test.each([true, false])("the reset program's compose() (v2 plugin present: %s)", (plugin) => {
    const dir = fs.mkdtempSync(path.join(work, "compose-"));
    const docker = stubDocker(dir, plugin);
    const values = { ...realValues()["ephemery-reset.sh"], COMPOSE_ARGS: shellArray(composeArgs(node(), file())) };
    const script = renderHostScript("ephemery-reset.sh", values);
    const fn = /^compose\(\) \{\n[\s\S]*?\n\}$/m.exec(script);
    expect(fn).not.toBeNull();
    execFileSync("bash", ["-c", `set -euo pipefail\n${valuesBlock(script, values)}\n${fn![0]}\ncompose up -d --no-deps "$1"`, "test", `execution${hostile}`], { env: docker.env, cwd: work });
    const tool = plugin ? ["docker", "compose"] : ["docker-compose"];
    expect(docker.argv()).toEqual([[...tool, "-p", node(), "-f", file(), "up", "-d", "--no-deps", `execution${hostile}`]]);
    expect(markerRan()).toBe(false);
  });

  test.each([true, false])("the compose command line of pulumi up and the drift guard (v2 plugin present: %s)", (plugin) => {
    const dir = fs.mkdtempSync(path.join(work, "compose-"));
    const docker = stubDocker(dir, plugin);
    execFileSync("bash", ["-c", `${composeCommand(node(), file())} up -d --remove-orphans`], { env: docker.env, cwd: work });
    const tool = plugin ? ["docker", "compose"] : ["docker-compose"];
    expect(docker.argv()).toEqual([[...tool, "-p", node(), "-f", file(), "up", "-d", "--remove-orphans"]]);
    expect(markerRan()).toBe(false);
  });
});

describe("the cron entry", () => {
  // cron ends an entry at a newline and turns % into one, so those two are refused; everything else is quoted.
  const cronHostile = () => hostile.replace(/[\n%]/g, "");

  test.each(["bash", "sh"])("its command runs the program at a hostile path under %s, and nothing else", (shell) => {
    // The marker path's slashes make several short directory levels, each hostile.
    const root = path.join(work, `cron-${shell}-${cronHostile()}`);
    fs.mkdirSync(path.join(root, "bin"), { recursive: true });
    fs.mkdirSync(path.join(root, "state"), { recursive: true });
    const program = path.join(root, "bin", "ephemery-reset");
    fs.writeFileSync(program, `#!/bin/sh\nprintf 'ran %s\\n' "$*"\n`, { mode: 0o755 });
    const a = { node: "n1", schedule: "*/5 1-3,7 * * 0", program, logFile: path.join(root, "state", "reset.log") };
    const line = cronLine(a);
    expect(line.startsWith("*/5 1-3,7 * * 0 ")).toBe(true);
    // What cron does: everything after the five fields goes to SHELL -c (a cron.d file has a user field too).
    execFileSync(shell, ["-c", line.slice("*/5 1-3,7 * * 0 ".length)], { cwd: work });
    const fileLine = cronFileContent(a).split("\n").find((l) => l.startsWith("*/5"))!;
    expect(fileLine.startsWith("*/5 1-3,7 * * 0 root ")).toBe(true);
    execFileSync(shell, ["-c", fileLine.slice("*/5 1-3,7 * * 0 root ".length)], { cwd: work });
    expect(fs.readFileSync(a.logFile, "utf8")).toBe("ran run\nran run\n");
    expect(markerRan()).toBe(false);
  });

  test("the install and remove commands write and delete only the node's file, under a hostile directory", () => {
    const cronDir = path.join(work, `crond-${cronHostile()}`);
    fs.mkdirSync(cronDir, { recursive: true });
    const a = { node: "n1", schedule: "@hourly", program: "/p", logFile: "/l", cronDir };
    execFileSync("bash", ["-c", cronInstallCommand(a)], { input: cronFileContent(a), cwd: work });
    expect(fs.readdirSync(cronDir)).toEqual(["ephemery-n1"]);
    expect(fs.readFileSync(path.join(cronDir, "ephemery-n1"), "utf8")).toBe(cronFileContent(a));
    execFileSync("bash", ["-c", cronRemoveCommand(a)], { cwd: work });
    expect(fs.readdirSync(cronDir)).toEqual([]);
    expect(markerRan()).toBe(false);
  });

  test.each([
    ["a schedule with a newline", { schedule: "* * * * *\nMAILTO=x" }, /hosts.reset.schedule of node n1: .*U\+000A \(a newline\)/],
    ["a schedule with a sixth field", { schedule: "* * * * * id" }, /must be a cron schedule such as/],
    ["a program path with %", { program: "/srv/a%b/bin/ephemery-reset" }, /program path "\/srv\/a%b\/bin\/ephemery-reset" cannot go into a cron line: it holds % or a line break/],
    ["a log path with a newline", { logFile: "/srv/a\nb/reset.log" }, /log file path .* cannot go into a cron line/],
  ])("refuses %s rather than render it", (_name, change, message) => {
    const a = { node: "n1", schedule: "* * * * *", program: "/p", logFile: "/l", ...change };
    expect(() => cronLine(a)).toThrow(message);
    expect(() => cronFileContent(a)).toThrow(message);
  });
});
