/**
 * The option guard: every generated start line and key-tool command uses only options that the pinned version
 * of its client defines, as read from the client's own flag definitions (lib/clients/options/<client>.json).
 */
import { buildNodeSpecs } from "../../lib/clients";
import { CLIENT_OPTION_SOURCES, loadClientOptions, OptionClient, OptionSource, optionsIn, pinnedTag } from "../../lib/clients/options";
import { ContainerSpec } from "../../lib/clients/types";
import { CONSENSUS_CLIENTS, EXECUTION_CLIENTS, VALIDATOR_CLIENTS } from "../../lib/config/clients";
import { hostSchema } from "../../lib/config/schema";
import { KEY_TOOLS } from "../../lib/keys/layout";
import { extractOptions } from "../../scripts/client-options";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";

/**
 * Clients whose list could not be extracted at the pinned tag on the machine that built the guard; each says
 * why. Their lines are still listed by the test, so adding the data file is all it takes to guard them.
 */
const NOT_YET_EXTRACTED: Partial<Record<string, string>> = {};

function host(el: string, cl: string, vc: string) {
  return hostSchema.parse({
    name: "n1", kind: "local", dataDir: "/srv/eph", publicIp: "203.0.113.10",
    execution: { client: el }, consensus: { client: cl }, validator: { client: vc, feeRecipient: FEE },
  });
}

function lineOf(s: ContainerSpec): string {
  return [...(s.entrypoint ?? []), ...s.command].join(" ");
}

/** Every generated command, by the client that parses it: 15 modules and the key tools. */
function generatedCommands(): { client: string; what: string; line: string }[] {
  const out: { client: string; what: string; line: string }[] = [];
  EXECUTION_CLIENTS.forEach((el, i) => {
    const cl = CONSENSUS_CLIENTS[i];
    const vc = VALIDATOR_CLIENTS[i];
    const h = host(el, cl, vc);
    // With and without a provider file: the line is the same, the file is read at start.
    const specs = buildNodeSpecs({ node: h.name, host: h, checkpointSyncUrls: ["https://cp.example"] });
    out.push({ client: el, what: `${el} execution`, line: lineOf(specs.execution) });
    out.push({ client: cl, what: `${cl} consensus`, line: lineOf(specs.consensus) });
    out.push({ client: vc, what: `${vc} validator`, line: lineOf(specs.validator!) });
  });
  for (const vc of VALIDATOR_CLIENTS) {
    const t = KEY_TOOLS[vc];
    for (const [what, line] of [["export", t.exportCmd], ["import", t.importCmd], ["wallet import", t.walletImportCmd]] as const) {
      if (line) out.push({ client: vc, what: `${vc} key tool ${what}`, line });
    }
  }
  return out;
}

describe("generated options exist in the pinned client", () => {
  const commands = generatedCommands();

  test("all 15 modules and every client's key tools are covered", () => {
    expect(new Set(commands.filter((c) => !c.what.includes("key tool")).map((c) => c.what)).size).toBe(15);
    expect(new Set(commands.filter((c) => c.what.includes("key tool")).map((c) => c.client))).toEqual(new Set(VALIDATOR_CLIENTS));
  });

  test("every client has a list, or a reason in NOT_YET_EXTRACTED, never both", () => {
    const clients = [...new Set(commands.map((c) => c.client))];
    for (const c of clients) {
      const known = c in CLIENT_OPTION_SOURCES ? loadClientOptions(c as OptionClient) : undefined;
      expect({ client: c, guarded: known !== undefined }).toEqual({ client: c, guarded: NOT_YET_EXTRACTED[c] === undefined });
    }
  });

  const guarded = (Object.keys(CLIENT_OPTION_SOURCES) as OptionClient[]).filter((c) => loadClientOptions(c));

  test.each(guarded.map((client) => ({ client })))("$client: the list was read at the pinned tag, or says which near version", ({ client }) => {
    const file = loadClientOptions(client)!;
    const source: OptionSource = CLIENT_OPTION_SOURCES[client];
    const pinned = pinnedTag(source);
    // A moved pin fails here until `scripts/client-options.ts` is run against the new tag.
    expect(file.near?.pinned ?? file.tag).toBe(pinned);
    if (file.near) {
      // Read at another version (the client's own reference page, or the nearest release a snapshot holds): it names that version and why.
      expect(file.tag).not.toBe(pinned);
      expect(file.near.why.length).toBeGreaterThan(20);
    }
    const from = source.reference ?? { repository: source.repository, version: file.near ? file.tag : pinned, syntax: source.syntax };
    expect({ repository: file.repository, tag: file.tag, syntax: file.syntax }).toEqual({ repository: from.repository, tag: from.version, syntax: from.syntax });
    expect(file.commit).toMatch(/^[0-9a-f]{40}$/);
    if (file.intersectedWith) {
      // Names kept only when a second, later release defines them too: it brackets the pin with the first.
      expect(file.near).toBeDefined();
      expect(file.intersectedWith.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(file.intersectedWith.tag).not.toBe(file.tag);
    }
    expect(file.options.length).toBeGreaterThan(50);
  });

  test.each(guarded.map((client) => ({ client })))("$client: every option of every generated line is defined", ({ client }) => {
    const defined = new Set(loadClientOptions(client)!.options);
    const mine = commands.filter((c) => c.client === client);
    expect(mine.length).toBeGreaterThan(0);
    const unknown = mine.flatMap((c) => optionsIn(c.line).filter((o) => !defined.has(o)).map((o) => `${c.what}: --${o}`));
    expect(unknown).toEqual([]);
  });
});

describe("the guard catches what it is for", () => {
  test("an option the client never had is reported, with its line", () => {
    const defined = new Set(loadClientOptions("teku")!.options);
    // The option issue #11 found: teku 25.11.1 has only the hidden --Xvalidator-api-ssl-enabled.
    expect(defined.has("validator-api-ssl-enabled")).toBe(false);
    expect(defined.has("Xvalidator-api-ssl-enabled")).toBe(true);
    expect(optionsIn('exec teku --validator-api-ssl-enabled=false "$@"').filter((o) => !defined.has(o))).toEqual(["validator-api-ssl-enabled"]);
  });

  test("long options are read from shell lines: values, quotes, `set --` and single-dash flags are not options", () => {
    expect(optionsIn('set -- --checkpoint-sync-url="$CHECKPOINT_URL" "$@"; exec x --a.b=1 --c -d --e-f "--g=h" (--i)')).toEqual(["a.b", "c", "checkpoint-sync-url", "e-f", "g", "i"]);
  });
});

describe("the refresh script reads each CLI library's definitions", () => {
  test.each([
    ["urfave-cli", 'var F = &cli.StringFlag{\n\tName: "http.addr",\n\tAliases: []string{"rpcaddr"},\n}', ["http.addr", "rpcaddr"]],
    ["picocli", '@Option(names = {"--p2p-port", "-p"}, arity = "1")\n@Option(names = "--Xfoo", hidden = true)', ["p2p-port", "p", "Xfoo"]],
    ["clap-derive", '#[arg(long = "http.api", alias = "api")]\npub http_api: X,\n#[arg(long, default_value_t = 1)]\npub ws_port: u16,\n#[arg(short)]\npub quiet: bool,', ["http.api", "api", "ws-port"]],
    ["clap-builder", 'Arg::new("http-port").long("http-port").alias("api-port")', ["http-port", "api-port"]],
    ["confutils", 'dataDir* {.desc: "x", name: "data-dir".}: OutDir', ["data-dir"]],
    ["help-listing", "GLOBAL OPTIONS:\n   --datadir value    Data directory\n   --http.api value [ --http.api value ]   APIs\n   --version, -v   print the version\nsee --not-this", ["datadir", "http.api", "version", "v"]],
    ["nethermind-docs", "- #### `-c, --config <value>` \\{#config\\}\n  Deprecates `--datadir` `-dd`.\n  ```\n  --jsonrpc-port <value>\n  --JsonRpc.Port <value>\n  ```\n  Use --not-this.", ["jsonrpc-port", "JsonRpc.Port", "c", "config", "datadir", "dd"]],
    ["yargs", 'export const o = {\n  "rest.address": {\n    type: "string",\n  },\n  dataDir: {\n  },\n};', ["rest.address", "dataDir", "data-dir"]],
  ] as const)("%s", (syntax, text, names) => {
    expect(extractOptions(syntax, text)).toEqual(names);
  });
});
