/**
 * Refreshes lib/clients/options/<client>.json: the option names the pinned version of a client defines, read
 * from the client's own flag definitions in a git snapshot (for example one brought by the search tool's
 * `fetch`). Run it when a pin in lib/config/images.ts moves:
 *
 *   npx ts-node --transpile-only scripts/client-options.ts <client> <git dir> [tag]
 *
 * The tag defaults to the one the pinned image names. The file records the repository, tag and source paths
 * it read, so the option guard (tests/unit/clientOptions.test.ts) can say what it checked against.
 *
 * A client whose source entry has a `reference` (its own published CLI reference, used where its source at the
 * pinned tag cannot be had) is read from a snapshot of that reference's repository instead; the third argument
 * is then a ref of it (default HEAD), and the file records the version the page documents and the last commit
 * that changed the page.
 *
 * A client published as an npm package (lodestar) can also be read from unpacked packages of the registry
 * (`npm pack <name>@<version>`, then tar xzf): `client-options.ts <client> --npm <package dir> [<package dir>]`.
 * The version and commit (`gitHead`) come from the package.json; with a second package, only the names both
 * define are kept, which brackets a pinned version that the registry does not carry.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { CLIENT_OPTION_SOURCES, ClientOptionsFile, OptionSource, OptionSyntax, optionsFilePath, pinnedTag } from "../lib/clients/options";

/** Reads git objects at `tag` without a work tree; big outputs are fine (each file is small). */
function git(gitDir: string, args: string[]): string {
  return execFileSync("git", ["--git-dir", gitDir, ...args], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
}

function filesAt(gitDir: string, tag: string, roots: string[], suffix: string): string[] {
  const listed = git(gitDir, ["ls-tree", "-r", "--name-only", tag, "--", ...roots]).split("\n");
  return listed.filter((f) => f.endsWith(suffix) && !/(^|\/)(test|tests|testdata)\//.test(f) && !/_test\.go$/.test(f));
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Option names (without leading dashes) defined in one source file, by the client's CLI library. */
export function extractOptions(syntax: OptionSyntax, text: string): string[] {
  const out: string[] = [];
  const add = (n: string) => { const bare = n.replace(/^-+/, ""); if (NAME.test(bare)) out.push(bare); };
  switch (syntax) {
    case "urfave-cli": {
      // cli.StringFlag{Name: "x", Aliases: []string{"y"}}: every Name and alias (commands' names too; harmless).
      for (const m of text.matchAll(/\bName:\s*"([^"]+)"/g)) add(m[1]);
      for (const m of text.matchAll(/\bAliases:\s*\[\]string\{([^}]*)\}/g)) for (const a of m[1].matchAll(/"([^"]+)"/g)) add(a[1]);
      break;
    }
    case "picocli": {
      // @Option(names = {"--x", "--y"}) or names = "--x".
      for (const m of text.matchAll(/\bnames\s*=\s*\{([^}]*)\}/g)) for (const a of m[1].matchAll(/"(--?[^"]+)"/g)) add(a[1]);
      for (const m of text.matchAll(/\bnames\s*=\s*"(--?[^"]+)"/g)) add(m[1]);
      break;
    }
    case "clap-derive": {
      // #[arg(long = "x", alias = "y")] or a bare `long` named after the field below the attribute.
      const re = /#\[arg\(([\s\S]*?)\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?([a-z_][a-z0-9_]*)\s*:/g;
      for (const m of text.matchAll(re)) {
        const attr = m[1];
        const explicit = /\blong\s*=\s*"([^"]+)"/.exec(attr);
        if (explicit) add(explicit[1]);
        else if (/(^|[\s,(])long\s*(,|$)/.test(attr)) add(m[2].replace(/_/g, "-"));
        for (const a of attr.matchAll(/\b(?:visible_)?alias\s*=\s*"([^"]+)"/g)) add(a[1]);
        for (const a of attr.matchAll(/\b(?:visible_)?aliases\s*=\s*\[([^\]]*)\]/g)) for (const b of a[1].matchAll(/"([^"]+)"/g)) add(b[1]);
      }
      break;
    }
    case "clap-builder": {
      // Arg::new("x").long("x").alias("y")
      for (const m of text.matchAll(/\.long\(\s*"([^"]+)"\s*\)/g)) add(m[1]);
      for (const m of text.matchAll(/\.(?:visible_)?alias\(\s*"([^"]+)"\s*\)/g)) add(m[1]);
      break;
    }
    case "confutils": {
      // nim-confutils: `name: "x"` and `abbr: "y"` pragmas on configuration fields.
      for (const m of text.matchAll(/\bname:\s*"([^"]+)"/g)) add(m[1]);
      break;
    }
    case "help-listing": {
      // `   --http.addr value, --rpcaddr value   help text`: option columns at the start of an indented line.
      for (const m of text.matchAll(/^[ \t]+(-{1,2}[A-Za-z0-9][^\s,]*(?:[^\S\n]+value)?(?:,[^\S\n]*-{1,2}[A-Za-z0-9][^\s,]*(?:[^\S\n]+value)?)*)/gm)) {
        for (const a of m[1].matchAll(/(?:^|,\s*)-{1,2}([A-Za-z0-9][^\s,]*)/g)) add(a[1]);
      }
      break;
    }
    case "nethermind-docs": {
      // The CLI tab of each item (`  --JsonRpc.Port <value>` and `  --jsonrpc-port <value>`), the basic options'
      // headings (`- #### \`-c, --config <value>\``) and the deprecated spellings they still accept
      // (`Deprecates \`--datadir\` \`-dd\`.`).
      for (const m of text.matchAll(/^[ \t]+--([A-Za-z0-9][A-Za-z0-9._-]*)(?=[ \t]|$)/gm)) add(m[1]);
      for (const line of text.matchAll(/^- #### `([^`]*)`/gm)) for (const a of line[1].matchAll(/(?:^|[\s,])-{1,2}([A-Za-z0-9][A-Za-z0-9._-]*)/g)) add(a[1]);
      for (const line of text.matchAll(/^[ \t]*Deprecates ((?:`-{1,2}[^`]+`[ \t]*)+)/gm)) for (const a of line[1].matchAll(/`-{1,2}([^`]+)`/g)) add(a[1]);
      break;
    }
    case "yargs": {
      // Lodestar options objects: `"rest.address": {` or `dataDir: {` with a `description`/`type` inside.
      // yargs' camel-case expansion also accepts each camelCase name in kebab case (lodestar: --jwt-secret).
      for (const m of text.matchAll(/^\s*(?:"([A-Za-z0-9._-]+)"|([A-Za-z][A-Za-z0-9]*))\s*:\s*\{/gm)) {
        const name = m[1] ?? m[2];
        add(name);
        const kebab = name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
        if (kebab !== name) add(kebab);
      }
      break;
    }
  }
  return out;
}

function main(): void {
  const [client, gitDir, tagArg] = process.argv.slice(2);
  const source = CLIENT_OPTION_SOURCES[client as keyof typeof CLIENT_OPTION_SOURCES];
  if (!source || !gitDir) {
    console.error(`usage: client-options.ts <${Object.keys(CLIENT_OPTION_SOURCES).join("|")}> <git dir> [tag]`);
    process.exit(2);
  }
  if (gitDir === "--npm") return writeFromNpm(client, source, process.argv.slice(4));
  const reference = (source as OptionSource).reference;
  if (reference) return writeFromReference(client, source, reference, gitDir, tagArg ?? "HEAD");
  const tag = tagArg ?? pinnedTag(source);
  const files = filesAt(gitDir, tag, source.roots, source.suffix);
  if (!files.length) throw new Error(`no ${source.suffix} files under ${source.roots.join(", ")} at ${tag} in ${gitDir}`);
  const names = new Set<string>();
  const pinned = pinnedTag(source);
  for (const f of files) for (const n of extractOptions(source.syntax, git(gitDir, ["show", `${tag}:${f}`]))) names.add(n);
  const doc: ClientOptionsFile = {
    client,
    repository: source.repository,
    tag,
    commit: git(gitDir, ["rev-list", "-n", "1", tag]).trim(),
    syntax: source.syntax,
    roots: source.roots,
    files: files.length,
    extractedBy: "scripts/client-options.ts",
    options: [...names].sort(),
  };
  if (tag !== pinned) {
    // A near version: only when no snapshot with the pinned tag could be had; the guard then says so.
    doc.near = { pinned, why: process.env.NEAR_WHY ?? `read at ${tag}: no snapshot holding ${pinned} could be had here` };
  }
  writeDoc(client, doc, `${files.length} files of ${source.repository}@${tag}`);
}

/** Reads the client's published CLI reference page (a snapshot of the reference's repository at `ref`). */
function writeFromReference(client: string, source: OptionSource, reference: NonNullable<OptionSource["reference"]>, gitDir: string, ref: string): void {
  const names = new Set(extractOptions(reference.syntax, git(gitDir, ["show", `${ref}:${reference.path}`])));
  if (!names.size) throw new Error(`no options in ${reference.repository}:${reference.path} at ${ref}`);
  const pinned = pinnedTag(source);
  const doc: ClientOptionsFile = {
    client,
    repository: reference.repository,
    tag: reference.version,
    commit: git(gitDir, ["rev-list", "-n", "1", ref, "--", reference.path]).trim(),
    syntax: reference.syntax,
    roots: [reference.path],
    files: 1,
    extractedBy: "scripts/client-options.ts",
    options: [...names].sort(),
  };
  if (reference.version !== pinned) {
    doc.near = { pinned, why: `the client's own reference page documents ${reference.version}; no page or source at ${pinned} could be read here` };
  }
  writeDoc(client, doc, `${reference.repository}:${reference.path}@${doc.commit.slice(0, 12)} (documents ${reference.version})`);
}

function jsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsFiles(path.join(dir, e.name)) : e.name.endsWith(".js") ? [path.join(dir, e.name)] : []);
}

/** The option names an unpacked npm package of the client defines (its compiled `lib/`), with its version. */
function fromNpm(syntax: OptionSyntax, dir: string): { version: string; commit: string; files: number; names: Set<string> } {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string; gitHead?: string };
  if (!pkg.gitHead) throw new Error(`${dir}/package.json names no gitHead`);
  const files = jsFiles(path.join(dir, "lib"));
  const names = new Set<string>();
  for (const f of files) for (const n of extractOptions(syntax, fs.readFileSync(f, "utf8"))) names.add(n);
  return { version: `v${pkg.version}`, commit: pkg.gitHead, files: files.length, names };
}

function writeFromNpm(client: string, source: OptionSource, dirs: string[]): void {
  if (!dirs.length || dirs.length > 2) throw new Error("--npm takes one or two unpacked package directories");
  const [first, second] = dirs.map((d) => fromNpm(source.syntax, d));
  const names = second ? new Set([...first.names].filter((n) => second.names.has(n))) : first.names;
  const pinned = pinnedTag(source);
  const doc: ClientOptionsFile = {
    client,
    repository: source.repository,
    tag: first.version,
    commit: first.commit,
    syntax: source.syntax,
    roots: ["lib (the npm package's build of packages/cli/src)"],
    files: first.files,
    extractedBy: "scripts/client-options.ts --npm",
    options: [...names].sort(),
  };
  if (second) doc.intersectedWith = { tag: second.version, commit: second.commit, files: second.files };
  if (first.version !== pinned) {
    doc.near = {
      pinned,
      why: process.env.NEAR_WHY ?? `the registry has no ${pinned}; names defined by ${first.version}${second ? ` and by ${second.version}` : ""}`,
    };
  }
  writeDoc(client, doc, `npm ${first.version}${second ? ` and ${second.version}` : ""}`);
}

function writeDoc(client: string, doc: ClientOptionsFile, from: string): void {
  const out = optionsFilePath(client);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(doc, null, 1)}\n`);
  console.log(`${out}: ${doc.options.length} options from ${from}`);
}

if (require.main === module) main();
