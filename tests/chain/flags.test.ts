/**
 * A guard against the real binaries: every option the geth and prysm modules generate (and every prysm key tool
 * command in KEY_TOOLS) is listed by the pinned binary's own `--help` for that (sub)command. Complements the
 * data-file guard of the default tier, which cannot run the clients.
 */
import { execFileSync } from "child_process";
import { buildNodeSpecs, ContainerSpec } from "../../lib/clients";
import { hostSchema } from "../../lib/config/schema";
import { KEY_TOOLS } from "../../lib/keys/layout";
import { clientBinaries } from "../support/chainClients";

const bins = clientBinaries();
const helpCache = new Map<string, string>();

/** The help text of a (sub)command; urfave/cli prints it on stdout and exits 0. */
function help(binary: string, sub: string[] = []): string {
  const key = [binary, ...sub].join(" ");
  if (!helpCache.has(key)) helpCache.set(key, execFileSync(binary, [...sub, "--help"], { encoding: "utf8", timeout: 60_000, maxBuffer: 16 << 20 }));
  return helpCache.get(key)!;
}

/** `--name` of every option in a command text (values after `=` dropped). */
export function optionNames(text: string): string[] {
  return [...new Set([...text.matchAll(/(?:^|[\s"'])--([a-z0-9][a-z0-9.-]*)/g)].map((m) => m[1]))];
}

function undefinedOptions(names: string[], helpText: string): string[] {
  return names.filter((n) => !new RegExp(`(^|[\\s,])--${n.replace(/[.]/g, "\\.")}([\\s,=]|$)`, "m").test(helpText));
}

const variants = [
  { name: "defaults", checkpoint: [] as string[], validator: {}, publicIp: undefined as string | undefined },
  { name: "checkpoint sync, doppelganger off, public address, extra flags", checkpoint: ["https://cp.example"], validator: { doppelganger: false }, publicIp: "203.0.113.1" },
];

function specsOf(v: (typeof variants)[number]): ContainerSpec[] {
  const host = hostSchema.parse({
    name: "n1", address: "203.0.113.1", publicIp: v.publicIp,
    execution: { client: "geth" },
    consensus: { client: "prysm", extraArgs: ["--min-sync-peers=0", "--sync-from=head"] },
    validator: { client: "prysm", feeRecipient: `0x${"11".repeat(20)}`, ...v.validator },
  });
  const s = buildNodeSpecs({ node: "n1", host, checkpointSyncUrls: v.checkpoint });
  return [s.execution, s.consensus, s.validator!];
}

describe.each(variants)("the real binaries define every generated option ($name)", (v) => {
  const [el, cl, vc] = specsOf(v);

  test("geth: the init line against `geth init --help`, the start line against `geth --help`", () => {
    const script = el.command[0];
    const init = script.split("\n").find((l) => l.includes("geth init"))!;
    const start = script.split("\n").find((l) => l.startsWith("exec geth"))!;
    expect(optionNames(init)).toContain("datadir");
    expect(optionNames(start).length).toBeGreaterThan(15);
    expect(undefinedOptions(optionNames(init), help(bins.geth, ["init"]))).toEqual([]);
    expect(undefinedOptions(optionNames(start), help(bins.geth))).toEqual([]);
  });

  test("prysm beacon-chain", () => {
    // A start script (it reads the checkpoint file) that execs the binary with every option it passes.
    expect(cl.entrypoint).toEqual(["/bin/sh", "-c"]);
    expect(cl.command[0]).toMatch(/^exec \/app\/cmd\/beacon-chain\/beacon-chain /m);
    const names = optionNames(cl.command.join(" "));
    expect(names).toEqual(expect.arrayContaining(["p2p-static-id", "genesis-state", "sync-from"]));
    expect(undefinedOptions(names, help(bins.beaconChain))).toEqual([]);
  });

  test("prysm validator", () => {
    expect(vc.entrypoint).toEqual(["/app/cmd/validator/validator"]);
    const names = optionNames(vc.command.join(" "));
    expect(names).toContain("keymanager-token-file");
    expect(undefinedOptions(names, help(bins.validator))).toEqual([]);
  });
});

describe("prysm key tools (KEY_TOOLS.prysm) against the validator's subcommand help", () => {
  const tools = KEY_TOOLS.prysm;
  test.each([
    ["exportCmd", tools.exportCmd, ["slashing-protection-history", "export"]],
    ["importCmd", tools.importCmd, ["slashing-protection-history", "import"]],
    ["walletImportCmd", tools.walletImportCmd!, ["accounts", "import"]],
  ])("%s", (_name, cmd, sub) => {
    const call = cmd.slice(cmd.indexOf(`validator ${sub.join(" ")}`));
    expect(call).not.toBe("");
    const names = optionNames(call.split(/>&2|;|&&/)[0]);
    expect(names.length).toBeGreaterThan(1);
    expect(undefinedOptions(names, help(bins.validator, sub))).toEqual([]);
  });

  test("the guard itself rejects an option the binary lacks", () => {
    expect(undefinedOptions(["datadir", "no-such-option"], help(bins.validator))).toEqual(["no-such-option"]);
  });
});
