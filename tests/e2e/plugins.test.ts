/**
 * The toolchain's stand-in plugins behave as the real ones (pulumi-language-nodejs, pulumi-resource-command) on
 * the points where project code could otherwise pass here and fail for operators: a stack without config, what a
 * policy pack sees, command output in the log, triggers replacing, a refused remote environment, CopyToRemote
 * over SFTP. A small JavaScript program and policy pack of the test's own, through the real CLI and engine.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { EngineStack, REPO } from "./harness";
import { startSshHost, TestSshHost } from "../support/sshd";

jest.setTimeout(10 * 60_000);

const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");
const cfg = new pulumi.Config("probe");
const mode = cfg.get("mode") || "none";
exports.value = cfg.get("value") || "(none)";
if (mode === "local") {
  new command.local.Command("triggered", { create: "echo created", update: "echo updated", triggers: [cfg.get("trigger") || "1"] });
  new command.local.Command("loud", { create: "echo loud-stdout-line; echo loud-stderr-line >&2" });
  new command.local.Command("quiet", { create: "echo quiet-line", logging: "none" });
}
if (mode === "remote") {
  const connection = { host: "127.0.0.1", port: Number(cfg.require("port")), user: "root", privateKey: cfg.requireSecret("key"), dialErrorLimit: 1 };
  if (cfg.get("env") === "yes") new command.remote.Command("env", { connection, create: "echo $PROBE_VAR", environment: { PROBE_VAR: "x" } });
  new command.remote.CopyToRemote("copy", { connection, source: new pulumi.asset.FileArchive(cfg.require("src")), remotePath: cfg.require("dest") });
}
`;

const POLICY = `
const { PolicyPack } = require("@pulumi/policy");
const pulumi = require("@pulumi/pulumi");
new PolicyPack("probe-policy", {
  policies: [{
    name: "report-context",
    description: "Reports the stack context the pack runs in.",
    enforcementLevel: "advisory",
    validateStack: (_args, report) => {
      report("context " + JSON.stringify({
        stack: pulumi.getStack(), project: pulumi.getProject(), dryRun: pulumi.runtime.isDryRun(),
        value: new pulumi.Config("probe").get("value") || null,
      }));
    },
  }],
});
`;

let root: string;
let stack: EngineStack;
let sshHost: TestSshHost | undefined;

function writePackage(dir: string, name: string, main: string, extra: Record<string, string> = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version: "0.0.1", main: "index.js" }));
  fs.writeFileSync(path.join(dir, "index.js"), main);
  for (const [f, c] of Object.entries(extra)) fs.writeFileSync(path.join(dir, f), c);
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-plugins-"));
  writePackage(path.join(root, "program"), "probe", PROGRAM);
  writePackage(path.join(root, "policy"), "probe-policy", POLICY, { "PulumiPolicy.yaml": "runtime: nodejs\n" });
  stack = await EngineStack.create(`plugins-${process.pid}`, {
    stateDir: path.join(root, "state"), workDir: path.join(root, "work"),
    program: { name: "probe", main: path.join(root, "program") }, policyPack: path.join(root, "policy"),
  });
});

afterAll(async () => {
  if (stack) {
    await stack.destroy().catch(() => undefined);
    await stack.remove().catch(() => undefined);
  }
  await sshHost?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

const contextSeen = () => stack.policyEvents.filter((e) => e.message.includes("context ")).map((e) => JSON.parse(e.message.slice(e.message.indexOf("{"))));

test("a stack without any config runs, and its policy pack sees the real stack, project and dry run", async () => {
  // The stack file holds only the passphrase salt: the engine sends no config map at all.
  expect((yaml.load(fs.readFileSync(stack.configFile, "utf8")) as Record<string, unknown>).config).toBeUndefined();
  await stack.preview();
  expect(contextSeen()).toEqual([{ stack: stack.stack.name, project: "probe", dryRun: true, value: null }]);
  const up = await stack.up();
  expect(up.outputs.value.value).toBe("(none)");
  expect(contextSeen()).toEqual([{ stack: stack.stack.name, project: "probe", dryRun: false, value: null }]);
});

test("a policy pack sees the stack's config", async () => {
  await stack.stack.setConfig("probe:value", { value: "v1" });
  await stack.preview();
  expect(contextSeen()).toEqual([{ stack: stack.stack.name, project: "probe", dryRun: true, value: "v1" }]);
});

test("command output is logged per resource unless logging is none; a changed trigger replaces a command that has update", async () => {
  await stack.stack.setConfig("probe:mode", { value: "local" });
  await stack.up();
  const logged = (urnEnd: string) => stack.diagnostics.filter((d) => d.ephemeral && d.urn?.endsWith(urnEnd)).map((d) => d.message.trim());
  expect(logged("::loud")).toEqual(expect.arrayContaining(["loud-stdout-line", "loud-stderr-line"]));
  expect(stack.diagnostics.filter((d) => d.severity !== "debug").map((d) => d.message).join("\n")).not.toContain("quiet-line");

  await stack.stack.setConfig("probe:trigger", { value: "2" });
  await stack.up();
  expect(stack.changes()).toEqual(["create-replacement triggered", "delete-replaced triggered", "replace triggered"]);
  expect(logged("::triggered")).toEqual(["created"]);
});

test("CopyToRemote copies over SFTP: a directory lands under remotePath, missing parents are created, modes are dropped", async () => {
  sshHost = await startSshHost();
  const src = path.join(root, "bundle");
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
  const dest = path.join(root, "remote", "a", "b");
  await stack.stack.setAllConfig({
    "probe:mode": { value: "remote" }, "probe:port": { value: String(sshHost.port) }, "probe:key": { value: sshHost.privateKey, secret: true },
    "probe:src": { value: src }, "probe:dest": { value: dest },
  });
  await stack.up();
  const copied = path.join(dest, "bundle", "run.sh");
  expect(fs.readFileSync(copied, "utf8")).toBe("#!/bin/sh\n");
  expect(fs.statSync(copied).mode & 0o111).toBe(0);
});

test("a remote environment the server does not accept fails the create with the variable's name", async () => {
  await stack.stack.setConfig("probe:env", { value: "yes" });
  await expect(stack.up()).rejects.toThrow(/could not set environment variable "PROBE_VAR"/);
});
