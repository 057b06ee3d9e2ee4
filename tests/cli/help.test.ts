/** `ephemery <command> --help` names every flag of every command with what it does. */
import { COMMANDS } from "../../cli/main";
import { flagHelp } from "../../cli/flagHelp";
import { runCli } from "../support/cli";

describe("--help", () => {
  test("every flag of every command has a description", () => {
    const missing = COMMANDS.flatMap((c) => Object.keys(c.options).filter((f) => !flagHelp(c, f)).map((f) => `${c.path.join(" ")} --${f}`));
    expect(missing).toEqual([]);
  });

  test.each(COMMANDS.map((c) => [c.path.join(" "), c] as const))("ephemery %s --help lists each flag with its line", async (_, cmd) => {
    const r = await runCli([...cmd.path, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`usage: ${cmd.usage}`);
    for (const flag of Object.keys(cmd.options)) {
      expect(r.stdout).toMatch(new RegExp(`\\n  --${flag}( VALUE)? +${flagHelp(cmd, flag)!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n`));
    }
  });

  test("defaults are stated where a flag has one", async () => {
    const r = await runCli(["status", "--help"]);
    expect(r.stdout).toMatch(/--timeout VALUE +seconds each host may take to answer \(default: 15\)/);
    const init = await runCli(["init", "--help"]);
    expect(init.stdout).toMatch(/--host-name VALUE +Host name \(a-z, 0-9, -\) \(default: node1\)/);
  });
});
