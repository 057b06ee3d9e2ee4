/** Every host-side script is shellcheck-clean, as written and as rendered for a node. */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildNodeSpecs } from "../../lib/clients";
import { hostSchema, networkSchema } from "../../lib/config/schema";
import { HOST_SCRIPTS_DIR, renderHostScript } from "../../lib/hostScripts";
import { RESET_SCRIPT, resetScriptValues } from "../../lib/reset/values";

function shellcheck(file: string): string {
  try {
    return execFileSync("shellcheck", ["--severity=info", file], { encoding: "utf8" });
  } catch (e) {
    const err = e as { stdout?: string; message: string };
    throw new Error(`shellcheck ${file}:\n${err.stdout ?? err.message}`);
  }
}

describe("shellcheck", () => {
  const scripts = fs.readdirSync(HOST_SCRIPTS_DIR).filter((f) => fs.statSync(path.join(HOST_SCRIPTS_DIR, f)).isFile());

  test("host-scripts/ is not empty", () => {
    expect(scripts).toContain(RESET_SCRIPT);
  });

  test.each(scripts)("host-scripts/%s is clean", (name) => {
    expect(shellcheck(path.join(HOST_SCRIPTS_DIR, name))).toBe("");
  });

  test.each(["docker", "compose"] as const)("the rendered reset program (%s runtime) is clean", (runtime) => {
    const host = hostSchema.parse({ name: "n1", kind: "local", runtime, validator: { feeRecipient: `0x${"22".repeat(20)}` } });
    const specs = buildNodeSpecs({ node: "n1", host, checkpointSyncUrls: [] });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-shellcheck-"));
    try {
      const file = path.join(dir, "ephemery-reset");
      fs.writeFileSync(file, renderHostScript(RESET_SCRIPT, resetScriptValues(host, networkSchema.parse({}), specs)));
      expect(shellcheck(file)).toBe("");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
