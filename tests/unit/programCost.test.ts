/** The program's cost helpers: promise stacks off while building, packaged files read once, digests as triggers. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promiseStacksOffForRun, restorePromiseStacks, withoutPromiseStacks } from "../../components/promiseStacks";
import { holdKeyMoveRegistry, registerRelease, resetKeyMoveRegistry } from "../../components/validatorKeys";
import { contentDigest, packagedFileText } from "../../lib/hostScripts";

describe("withoutPromiseStacks", () => {
  it("captures no frames while building and restores the limit afterwards", () => {
    const before = Error.stackTraceLimit;
    const stack = withoutPromiseStacks(() => new Error("x").stack, {});
    expect(stack).toBe("Error: x");
    expect(Error.stackTraceLimit).toBe(before);
  });

  it("restores the limit when building throws, and the error keeps its message", () => {
    const before = Error.stackTraceLimit;
    expect(() => withoutPromiseStacks(() => { throw new Error("hosts[3].name must be unique"); }, {})).toThrow("hosts[3].name must be unique");
    expect(Error.stackTraceLimit).toBe(before);
  });

  it("keeps full stacks when PULUMI_DEBUG_PROMISE_LEAKS asks for them", () => {
    const stack = withoutPromiseStacks(() => new Error("x").stack, { PULUMI_DEBUG_PROMISE_LEAKS: "1" });
    expect(stack).toMatch(/\n\s+at /);
  });
});

describe("promiseStacksOffForRun", () => {
  afterEach(() => restorePromiseStacks());

  it("keeps capture off across later ticks, where the SDK registers what was built, until restored", async () => {
    const before = Error.stackTraceLimit;
    promiseStacksOffForRun({});
    promiseStacksOffForRun({}); // twice: the limit found first is the one put back
    await new Promise((r) => setImmediate(r));
    expect(new Error("x").stack).toBe("Error: x");
    restorePromiseStacks();
    expect(Error.stackTraceLimit).toBe(before);
    expect(new Error("x").stack).toMatch(/\n\s+at /);
    restorePromiseStacks(); // a second restore changes nothing
    expect(Error.stackTraceLimit).toBe(before);
  });

  it("leaves capture on when PULUMI_DEBUG_PROMISE_LEAKS asks for traces", () => {
    promiseStacksOffForRun({ PULUMI_DEBUG_PROMISE_LEAKS: "1" });
    expect(new Error("x").stack).toMatch(/\n\s+at /);
  });
});

describe("packagedFileText", () => {
  it("reads a file once per process", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "packaged-"));
    const file = path.join(dir, "script.sh");
    fs.writeFileSync(file, "first\n");
    expect(packagedFileText(file)).toBe("first\n");
    fs.writeFileSync(file, "second\n");
    expect(packagedFileText(file)).toBe("first\n");
    fs.rmSync(dir, { recursive: true });
  });
});

describe("contentDigest", () => {
  it("changes exactly when the content does", () => {
    expect(contentDigest("a")).toBe(contentDigest("a"));
    expect(contentDigest("a")).not.toBe(contentDigest("b"));
    expect(contentDigest("a")).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe("the key-move registry while the program builds host by host", () => {
  // Plain stand-ins: the registry only collects and hands back what it was given.
  const entry = (node: string) => ({ node, stdout: undefined, resource: undefined }) as unknown as Parameters<typeof registerRelease>[0];
  const nextMacrotask = () => new Promise((r) => setImmediate(r));
  afterEach(() => resetKeyMoveRegistry());

  it("without a hold, the set closes at the next macrotask", async () => {
    const all = registerRelease(entry("a"));
    await nextMacrotask();
    registerRelease(entry("late"));
    expect((await all).map((r) => r.node)).toEqual(["a"]);
  });

  it("while held, hosts built after a yield still join the set every install waits for", async () => {
    const done = holdKeyMoveRegistry();
    let closed = false;
    const all = registerRelease(entry("a"));
    void all.then(() => { closed = true; });
    await nextMacrotask();
    await nextMacrotask();
    expect(closed).toBe(false);
    expect(registerRelease(entry("b"))).toBe(all);
    done();
    done(); // letting go twice counts once
    expect((await all).map((r) => r.node)).toEqual(["a", "b"]);
  });
});

describe("the Node the program benchmark runs on", () => {
  // Imported lazily: bench/program.ts pulls in the mock harness.
  const { benchNode } = require("../../bench/program") as typeof import("../../bench/program");
  const never = () => { throw new Error("the fetch must not run"); };

  it("is Node 22 from scripts/node22.sh unless BENCH_NODE says otherwise", () => {
    expect(benchNode({}, () => "/cache/node22/package/bin/node")).toBe("/cache/node22/package/bin/node");
    expect(benchNode({ BENCH_NODE: "current" }, never)).toBe(process.execPath);
    expect(benchNode({ BENCH_NODE: "/opt/node/bin/node" }, never)).toBe("/opt/node/bin/node");
  });

  it("falls back to the running Node, saying so, when Node 22 cannot be had", () => {
    const log = jest.spyOn(console, "log").mockImplementation(() => undefined);
    expect(benchNode({}, () => { throw new Error("npm pack failed"); })).toBe(process.execPath);
    expect(log).toHaveBeenCalledWith(expect.stringContaining(`Node 22 is not available`));
    log.mockRestore();
  });
});
