/**
 * `ephemery config check` against hostile stack files: prototype keys, alias bombs and cycles, deep nesting,
 * every YAML-level failure with --json, and secrets never echoed. The same loader runs under `pulumi up`.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadStackConfig } from "../../lib/config/load";
import { parseStackFile, STACK_FILE_LIMITS } from "../../lib/config/stackFile";
import { runCli } from "../support/cli";

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-cfg-hostile-")); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
function stackFile(text: string | Buffer): string {
  const file = path.join(dir, `Pulumi.s${n++}.yaml`);
  fs.writeFileSync(file, text);
  return file;
}
async function checkJson(text: string | Buffer) {
  const r = await runCli(["config", "check", "--json", "--file", stackFile(text)]);
  return { code: r.code, out: JSON.parse(r.stdout) as { ok: boolean; problems: { path: string; message: string }[] }, stderr: r.stderr };
}

const HOST = `    - name: n1
      kind: local
      execution:
        client: geth
`;

describe("prototype keys never smuggle a setting past the check", () => {
  test.each(["__proto__", "constructor", "prototype"])("%s under a host's execution block is refused with its path", async (key) => {
    const r = await checkJson(`config:\n  ephemery:hosts:\n${HOST}        ${key}:\n          exposeRpc: true\n`);
    expect(r.code).toBe(1);
    // Only that: the rest of the host is checked as usual and is fine.
    expect(r.out.problems).toEqual([{ path: `hosts[0].execution.${key}`, message: expect.stringMatching(/reserved JavaScript name .* never a setting; remove it/) }]);
  });

  test("the same value as `pulumi up` reads it (JSON from the Pulumi runtime) gets the same refusal", () => {
    const value = JSON.parse(`[{"name":"n1","kind":"local","execution":{"client":"geth","__proto__":{"exposeRpc":true}}}]`);
    const r = loadStackConfig(new Map([["ephemery:hosts", { value, secret: false }]]));
    expect(r.ok).toBe(false);
    expect(r.problems).toContainEqual({ path: "hosts[0].execution.__proto__", message: expect.stringMatching(/reserved JavaScript name/) });
  });

  test("a top-level __proto__ setting is named too", async () => {
    const r = await checkJson(`config:\n  ephemery:__proto__:\n    exposeRpc: true\n  ephemery:hosts:\n${HOST}`);
    expect(r.code).toBe(1);
    expect(r.out.problems.map((p) => p.path)).toContain("__proto__");
  });
});

describe("aliases, cycles and depth are bounded", () => {
  test("a billion-laughs alias bomb stops at the expansion limit, naming it", async () => {
    const levels = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 10; i++) levels.push(`l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(", ")}]`);
    const text = `bomb:\n${levels.map((l) => `  ${l}`).join("\n")}\nconfig:\n  ephemery:hosts: *l9\n`;
    const r = await checkJson(text);
    expect(r.code).toBe(1);
    expect(r.out.problems).toEqual([{ path: expect.stringMatching(/^hosts/), message: expect.stringMatching(/uses aliases more than 100 times|expands to more than 200000 values/) }]);
  });

  test("a self-referencing alias is a cycle, not a stack overflow", async () => {
    const r = await checkJson("config:\n  ephemery:hosts: &h\n    - *h\n");
    expect(r.code).toBe(1);
    expect(r.out.problems).toEqual([{ path: "hosts[0]", message: expect.stringMatching(/alias of a value that contains it \(a YAML cycle\)/) }]);
  });

  test("nesting deeper than the limit is refused, naming the limit", () => {
    const deep = `config:\n  ephemery:hosts: ${"[".repeat(STACK_FILE_LIMITS.depth + 5)}${"]".repeat(STACK_FILE_LIMITS.depth + 5)}\n`;
    expect(() => parseStackFile(deep, "f.yaml")).toThrow(/nests more than 64 levels deep/);
  });

  test("merge keys (<<) multiplied through aliases stop at their own limit", () => {
    const levels = ["m0: &m0 { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10 }"];
    for (let i = 1; i < 8; i++) levels.push(`m${i}: &m${i} [${Array(10).fill(`{ <<: *m${i - 1} }`).join(", ")}]`);
    expect(() => parseStackFile(`x:\n${levels.map((l) => `  ${l}`).join("\n")}\nconfig: {}\n`, "f.yaml")).toThrow(/merges \(<<\) more than 1000 keys|uses aliases more than 100 times|expands to more than/);
  });

  test("nesting deep enough to overflow the parser itself is reported, with --json", async () => {
    const r = await checkJson(`config:\n  ephemery:hosts: ${"[".repeat(200_000)}${"]".repeat(200_000)}\n`);
    expect(r.code).toBe(1);
    expect(r.out.problems).toEqual([{ path: expect.stringMatching(/Pulumi\.s\d+\.yaml$/), message: expect.stringMatching(/nests more than 64 levels deep \(line 2, column \d+\)/) }]);
  });
});

describe("every YAML-level failure honours --json and names where", () => {
  const cases: [string, string | Buffer][] = [
    ["unterminated flow list", "config: [\n"],
    ["a duplicate key", "config:\n  a: 1\n  a: 2\n"],
    ["a tab used for indentation", "config:\n\tephemery:hosts: []\n"],
    ["an unknown tag", "config:\n  ephemery:hosts: !!js/function 'function () {}'\n"],
    ["two documents", "config: {}\n---\nconfig: {}\n"],
    ["an undefined alias", "config:\n  ephemery:hosts: *nope\n"],
    ["a list at the top", "- config\n"],
    ["a scalar config", "config: 5\n"],
    ["a list config", "config: [a]\n"],
    ["a bad indentation", "config:\n  a: 1\n   b: 2\n"],
    ["an unclosed quote", "config:\n  a: \"open\n"],
    ["a file over the size limit", `config:\n  x: "${"a".repeat(STACK_FILE_LIMITS.bytes)}"\n`],
  ];
  test.each(cases)("%s", async (_label, text) => {
    const r = await checkJson(text);
    expect(r.code).toBe(1);
    expect(r.out.ok).toBe(false);
    expect(r.out.problems.length).toBeGreaterThan(0);
    for (const p of r.out.problems) expect(p.path).toMatch(/\S/);
    expect(r.stderr).toBe("");
  });

  test("a path that is not a file, and a missing stack, answer in JSON too", async () => {
    const asDir = await runCli(["config", "check", "--json", "--file", dir]);
    expect(asDir.code).toBe(1);
    expect(JSON.parse(asDir.stdout)).toMatchObject({ ok: false, problems: [{ path: dir, message: expect.stringMatching(/not a regular file/) }] });
    const missing = await runCli(["config", "check", "--json", "--stack", "nope"], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ ok: false, problems: [{ path: "(command line)", message: expect.stringMatching(/no stack file for stack "nope"/) }] });
  });

  test("without --json the YAML error is on stderr with the file named, exit 1", async () => {
    const file = stackFile("config: [\n");
    const r = await runCli(["config", "check", "--file", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}: 1 problem`);
    expect(r.stderr).toMatch(/is not valid YAML \(line \d+, column \d+\)/);
  });
});

describe("a secret's value is never printed, whatever its type", () => {
  test.each([
    ["a number for keystorePassword", "  ephemery:keystorePassword: 918273645\n"],
    ["a number in sshPrivateKeys", "  ephemery:sshPrivateKeys:\n    n1: 918273645\n"],
    ["a list for grafanaAdminPassword", "  ephemery:grafanaAdminPassword: [918273645]\n"],
    ["a number in keystorePasswords", "  ephemery:keystorePasswords:\n    n1:\n      abc: 918273645\n"],
    ["a boolean-looking number for alertmanagerSecrets", "  ephemery:alertmanagerSecrets:\n    slack: 918273645\n"],
  ])("%s", async (_label, secretLines) => {
    const file = stackFile(`config:\n  ephemery:hosts:\n${HOST}${secretLines}`);
    for (const args of [["--json"], []]) {
      const r = await runCli(["config", "check", ...args, "--file", file]);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).not.toContain("918273645");
      expect(r.stdout + r.stderr).toMatch(/ephemery:(keystorePassword|sshPrivateKeys|grafanaAdminPassword|keystorePasswords|alertmanagerSecrets)/);
    }
  });
});
