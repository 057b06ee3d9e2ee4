/**
 * The drift guard's host side, run for real with bash on this machine: what it observes, what it reports as
 * drift, and what its repair puts back. The engine tier (tests/e2e) runs the same through refresh and up.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { driftedKeys, expectedState, observeScript, parseObserved, repairScript } from "../../components/hostDrift";

const bash = (script: string) => execFileSync("bash", ["-s"], { input: script, encoding: "utf8" });

describe("host drift: observe, compare, repair", () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-drift-")); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const inputs = () => ({
    files: [
      { path: `${dir}/jwt/jwt.hex`, mode: "0600", content: "ab".repeat(32) },
      { path: `${dir}/compose/docker-compose.yml`, mode: "0644", content: "services: {}\n# it's quoted\n" },
    ],
  });

  test("a host holding exactly the files shows no drift", () => {
    const i = inputs();
    bash(repairScript(i, i.files.map((f) => `file:${f.path}`)));
    const observed = parseObserved(i, bash(observeScript(i)));
    expect(observed).toEqual(expectedState(i));
    expect(driftedKeys(expectedState(i), observed)).toEqual([]);
    expect((fs.statSync(i.files[0].path).mode & 0o777).toString(8)).toBe("600");
  });

  test.each([
    ["an edited file", (p: string) => fs.appendFileSync(p, "x"), 1],
    ["a loosened mode", (p: string) => fs.chmodSync(p, 0o644), 0],
    ["a deleted file", (p: string) => fs.rmSync(p), 0],
  ])("%s is drift, and the repair puts back content and mode without touching the other file", (_what, change, index) => {
    const i = inputs();
    bash(repairScript(i, i.files.map((f) => `file:${f.path}`)));
    const target = i.files[index].path;
    const other = i.files[1 - index].path;
    const otherStat = fs.statSync(other).mtimeMs;
    change(target);
    const drifted = driftedKeys(expectedState(i), parseObserved(i, bash(observeScript(i))));
    expect(drifted).toEqual([`file:${target}`]);
    bash(repairScript(i, drifted));
    expect(fs.readFileSync(target, "utf8")).toBe(i.files[index].content);
    expect((fs.statSync(target).mode & 0o777).toString(8)).toBe(parseInt(i.files[index].mode, 8).toString(8));
    expect(fs.statSync(other).mtimeMs).toBe(otherStat);
    expect(driftedKeys(expectedState(i), parseObserved(i, bash(observeScript(i))))).toEqual([]);
  });

  test("a secret whose directory was removed comes back in a directory of the mode it names (the funding key's 0700)", () => {
    const key = { path: `${dir}/secrets/deposit-funding.key`, mode: "0600", content: `0x${"5a".repeat(32)}\n`, dirMode: "0700" };
    const i = { files: [key] };
    bash(repairScript(i, [`file:${key.path}`]));
    fs.rmSync(path.dirname(key.path), { recursive: true });
    const drifted = driftedKeys(expectedState(i), parseObserved(i, bash(observeScript(i))));
    expect(drifted).toEqual([`file:${key.path}`]);
    bash(repairScript(i, drifted));
    expect(fs.readFileSync(key.path, "utf8")).toBe(key.content);
    expect({ file: fs.statSync(key.path).mode & 0o777, dir: fs.statSync(path.dirname(key.path)).mode & 0o777 }).toEqual({ file: 0o600, dir: 0o700 });
    // The key travels base64 on stdin, never as a command's argument.
    expect(repairScript(i, drifted)).not.toContain("5a".repeat(32));
  });

  test("containers: a stopped, missing or other-image container is drift; the repair script converges the project", () => {
    const i = { files: [], compose: { command: "docker-compose -p n1 -f /x/docker-compose.yml", containers: [{ name: "n1-execution", image: "geth:1" }, { name: "n1-consensus", image: "lh:1" }] } };
    const observed = parseObserved(i, "c0 false geth:1\nc1 missing\n");
    expect(observed.containers).toEqual({ "n1-execution": "stopped geth:1", "n1-consensus": "missing" });
    expect(driftedKeys(expectedState(i), observed)).toEqual(["container:n1-execution", "container:n1-consensus"]);
    expect(driftedKeys(expectedState(i), parseObserved(i, "c0 true geth:2\nc1 true lh:1\n"))).toEqual(["container:n1-execution"]);
    expect(repairScript(i, ["container:n1-execution"])).toContain("docker-compose -p n1 -f /x/docker-compose.yml up -d --remove-orphans");
    expect(repairScript(i, [])).not.toContain("up -d");
  });

  test("file contents reach the host on stdin, never in the command line", () => {
    const i = inputs();
    const script = repairScript(i, [`file:${i.files[0].path}`]);
    expect(script).not.toContain("ab".repeat(32));
    expect(script).toContain(Buffer.from("ab".repeat(32)).toString("base64"));
  });
});
